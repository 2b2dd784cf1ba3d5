"""`bpy.ops.vibe.import_motion(filepath=..., data_dir="", person_ids="")`: File > Import > VIBE Motion."""

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from .importer import import_motion_file


def parse_person_ids(text: str) -> list[int] | None:
    """Track ids from text such as "1, 3"; None (everyone) for empty text."""
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not parts:
        return None
    try:
        return [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"people must be track ids separated by commas, like 1, 3; got '{text}'") from None


def _default_data_dir(context: bpy.types.Context) -> str:
    """The add-on preference, or "" when the add-on's preferences are not available (operator registered alone)."""
    try:
        from .preferences import data_dir_preference
    except ImportError:
        return ""
    return data_dir_preference(context)


class VIBE_OT_import_motion(bpy.types.Operator, ImportHelper):
    """Import every tracked person of a motion file as an animated SMPL armature"""

    bl_idname = "vibe.import_motion"
    bl_label = "Import VIBE Motion"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz;*.pkl", options={"HIDDEN"})
    data_dir: StringProperty(
        name="Data Folder",
        description="Folder laid out like VIBE's vibe_data (SMPL_NEUTRAL.pkl gives the SMPL body); "
        "empty uses the add-on preference",
        subtype="DIR_PATH",
        default="",
    )
    person_ids: StringProperty(
        name="People", description="Track ids to import, separated by commas; empty imports everyone", default=""
    )
    world: BoolProperty(
        name="In the world", default=True,
        description="Stand the people on a floor found from their foot contacts, as the backend does; off: the "
        "camera frame, as the file has them",
    )
    foot_lock: BoolProperty(
        name="Lock feet", default=True,
        description="Keep planted feet in place (official VIBE/TCMR files; the backend's files say for themselves)",
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self.filepath:
            self.report({"ERROR"}, "No motion file given: choose a motion.npz, vibe_output.pkl or tcmr_output.pkl")
            return {"CANCELLED"}
        try:
            people = parse_person_ids(self.person_ids)
            data_dir = self.data_dir or _default_data_dir(context)
            armatures = import_motion_file(context, bpy.path.abspath(self.filepath), data_dir, people, self.world,
                                           self.foot_lock)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        names = ", ".join(armature.name for armature in armatures)
        self.report({"INFO"}, f"Imported {len(armatures)} {'person' if len(armatures) == 1 else 'people'}: {names}")
        note = armatures[0].users_collection[0].get("vibe_world", "")
        if note:
            self.report({"INFO"}, note)
        return {"FINISHED"}


def _menu_entry(menu: bpy.types.Menu, _context: bpy.types.Context) -> None:
    menu.layout.operator(VIBE_OT_import_motion.bl_idname, text="VIBE Motion (.npz, .pkl)")


def register() -> None:
    bpy.utils.register_class(VIBE_OT_import_motion)
    bpy.types.TOPBAR_MT_file_import.append(_menu_entry)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(_menu_entry)
    bpy.utils.unregister_class(VIBE_OT_import_motion)
