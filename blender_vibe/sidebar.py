"""Where the add-on's panels live: the 3D viewport's sidebar, tab "Vibe", under the main import panel."""

MAIN_PANEL = "VIBE_PT_import_motion"


class SidebarPanel:
    """Mixin for every panel of the add-on's sidebar tab."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Vibe"


class SubPanel(SidebarPanel):
    """Mixin for the sections under the main panel (retarget, export), closed until opened."""

    bl_parent_id = MAIN_PANEL
    bl_options = {"DEFAULT_CLOSED"}
