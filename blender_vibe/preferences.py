"""Add-on preferences: which Python runs the backend, and the official data folder with a live check of its files."""

import textwrap
from pathlib import Path

import bpy

from backend.data_folder import DataFile, folder_report

from . import setup_backend


class VibePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python_path: bpy.props.StringProperty(
        name="Backend Python",
        description="Python interpreter that runs the motion estimation (it needs PyTorch). Leave empty to use the "
                    "one that 'Set up backend' creates",
        subtype="FILE_PATH",
    )
    data_dir: bpy.props.StringProperty(
        name="Data folder",
        description="Folder holding the official VIBE/TCMR files (VIBE's vibe_data). Optional: without it the "
                    "built-in estimator is used",
        subtype="DIR_PATH",
    )

    def draw(self, context) -> None:
        layout = self.layout
        box = layout.box()
        box.label(text="Backend (runs outside Blender, so Blender stays responsive)", icon="CONSOLE")
        box.prop(self, "python_path")
        python = Path(backend_python(context))
        if python.is_file():
            box.label(text=f"Using {python}", icon="CHECKMARK")
        else:
            draw_wrapped(box, f"Not set up yet: {python} does not exist. Press 'Set up backend', or choose another "
                              "interpreter.", icon="ERROR", width=100)
        row = box.row()  # greyed out by the operator's poll while a setup runs
        row.operator(setup_backend.VIBE_OT_setup_backend.bl_idname, text="Set up backend (CPU)").torch_build = "CPU"
        row.operator(setup_backend.VIBE_OT_setup_backend.bl_idname,
                     text="Set up backend (NVIDIA GPU)").torch_build = "CUDA"
        setup_backend.draw_setup(box)

        box = layout.box()
        box.label(text="Data folder (optional)", icon="FILE_FOLDER")
        box.prop(self, "data_dir")
        draw_data_folder(box, data_dir_preference(context))


def draw_data_folder(layout: bpy.types.UILayout, data_dir: str) -> None:
    """Which official files the folder holds, what each is for, and which estimators they make available."""
    if not data_dir:
        draw_wrapped(layout, "No folder set: the built-in estimator will be used. For VIBE or TCMR, choose the "
                             "official vibe_data folder.", icon="INFO")
        return
    if not Path(data_dir).is_dir():
        layout.label(text=f"{data_dir} is not a folder.", icon="ERROR")
        return
    for status in folder_report(data_dir):
        row = layout.row()
        split = row.split(factor=0.35)
        split.label(text=status.file.name, icon="CHECKMARK" if status.present else "X")
        split.label(text=f"{status.file.purpose} {_needed_by(status.file)}")


def _needed_by(file: DataFile) -> str:
    names = {"vibe": "VIBE", "tcmr": "TCMR"}
    return f"Needed by {' and '.join(names[n] for n in file.used_by)}." if file.used_by else "Optional."


def draw_wrapped(layout: bpy.types.UILayout, text: str, icon: str = "NONE", width: int = 60) -> None:
    """Labels do not wrap in Blender: split a sentence over several, the icon on the first."""
    column = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        column.label(text=line, icon=icon if i == 0 else "BLANK1" if icon != "NONE" else "NONE")


def addon_preferences(context) -> VibePreferences | None:
    """The add-on's preferences, or None when its classes were registered without enabling it as an add-on."""
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def data_dir_preference(context) -> str:
    """The data folder as an absolute path, or '' when none is set."""
    prefs = addon_preferences(context)
    if prefs is None or not prefs.data_dir.strip():
        return ""
    return str(Path(bpy.path.abspath(prefs.data_dir.strip())).resolve())


def backend_python(context) -> str:
    """The interpreter chosen in the preferences, else the one 'Set up backend' creates."""
    prefs = addon_preferences(context)
    if prefs is not None and prefs.python_path.strip():
        return str(Path(bpy.path.abspath(prefs.python_path.strip())))
    return str(setup_backend.venv_python(setup_backend.default_venv_dir()))


classes = (VibePreferences,)


register, unregister = bpy.utils.register_classes_factory(classes)
