"""Who the last backend run found, kept with the scene: a list with a thumbnail, frame span and size per person.

After a run everyone ticked is imported (all by default, or the track ids asked for) and the list stays. Untick or
tick people and press "Import ticked" to import that choice again from the kept result, in a new collection, without
running the backend again. Thumbnails come from the run folder (`backend/people_summary.py`) through
`bpy.utils.previews`.
"""

from pathlib import Path

import bpy
import bpy.utils.previews

from backend.people_summary import PersonSummary
from smpl_rig.motion import load_motion

from .importer import import_motion
from .preferences import data_dir_preference, draw_wrapped
from .sidebar import SubPanel

_previews = None  # bpy.utils.previews collection, keyed by thumbnail path


class VibeFoundPerson(bpy.types.PropertyGroup):
    track_id: bpy.props.IntProperty(name="Track id")
    use: bpy.props.BoolProperty(name="Import", default=True, description="Import this person")
    first_frame: bpy.props.IntProperty(name="First frame", description="First tracked frame (Blender's numbering)")
    last_frame: bpy.props.IntProperty(name="Last frame", description="Last tracked frame (Blender's numbering)")
    frames: bpy.props.IntProperty(name="Frames", description="Frames on which the person was tracked")
    height_px: bpy.props.FloatProperty(name="Height", subtype="PIXEL", description="Median height in the video")
    thumbnail: bpy.props.StringProperty(name="Thumbnail", subtype="FILE_PATH")


class VibeRunResult(bpy.types.PropertyGroup):
    """The kept result of the last backend run."""

    motion: bpy.props.StringProperty(name="Motion file", subtype="FILE_PATH")
    video: bpy.props.StringProperty(name="Video", subtype="FILE_PATH")
    people: bpy.props.CollectionProperty(type=VibeFoundPerson)
    index: bpy.props.IntProperty(name="Selected person")


def remember_result(scene: bpy.types.Scene, motion_path: str, video: str, people: list[PersonSummary],
                    chosen: list[int] | None) -> None:
    """Fill the scene's list with a run's people (`read_summary` of its folder); those in `chosen` (everyone when
    None) ticked. Nothing to do where the add-on's classes are not registered (the headless command)."""
    result = getattr(scene, "vibe_result", None)
    if result is None:
        return
    folder = Path(motion_path).parent
    result.people.clear()
    result.motion, result.video, result.index = str(motion_path), video, 0
    for person in people:
        item = result.people.add()
        item.track_id, item.frames, item.height_px = person.id, person.frames, person.height_px
        item.first_frame, item.last_frame = person.first_frame + 1, person.last_frame + 1
        item.thumbnail = str(folder / person.thumbnail)
        item.use = chosen is None or person.id in chosen


def thumbnail(path: str):
    """The `ImagePreview` of a thumbnail file, loaded once; None when the file is missing. (Its `icon_id` is 0 in
    background mode, where nothing is drawn.)"""
    global _previews
    if not path or not Path(path).is_file():
        return None
    if _previews is None:
        _previews = bpy.utils.previews.new()
    return _previews[path] if path in _previews else _previews.load(path, path, "IMAGE")


def thumbnail_icon(path: str) -> int:
    preview = thumbnail(path)
    return preview.icon_id if preview is not None else 0


class VIBE_UL_found_people(bpy.types.UIList):
    """One row per person: tick, thumbnail and track id, frame span, height."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0) -> None:
        row = layout.row(align=True)
        row.prop(item, "use", text="")
        row.label(text=f"Person {item.track_id}", icon_value=thumbnail_icon(item.thumbnail))
        row.label(text=f"{item.first_frame}-{item.last_frame}")
        row.label(text=f"{item.height_px:.0f} px")


class VIBE_OT_tick_found_people(bpy.types.Operator):
    """Tick or untick everyone in the list"""

    bl_idname = "vibe.tick_found_people"
    bl_label = "Tick people"
    bl_options = {"INTERNAL", "UNDO"}

    tick: bpy.props.BoolProperty(name="Tick", default=True)

    def execute(self, context) -> set[str]:
        for item in context.scene.vibe_result.people:
            item.use = self.tick
        return {"FINISHED"}


class VIBE_OT_import_found_people(bpy.types.Operator):
    """Import the ticked people again from the kept result, in a new collection (the backend does not run again)"""

    bl_idname = "vibe.import_found_people"
    bl_label = "Import ticked people"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context) -> bool:
        result = getattr(context.scene, "vibe_result", None)
        if result is None or not any(item.use for item in result.people):
            cls.poll_message_set("Tick at least one person in the list")
            return False
        return True

    def execute(self, context) -> set[str]:
        result = context.scene.vibe_result
        chosen = [item.track_id for item in result.people if item.use]
        if not Path(result.motion).is_file():
            self.report({"ERROR"}, f"The kept result {result.motion} is gone (temporary files are cleaned up); "
                                   "run Import again.")
            return {"CANCELLED"}
        try:
            armatures = import_motion(context, load_motion(result.motion), data_dir_preference(context), chosen,
                                      collection_name=f"VIBE {Path(result.video).stem}")
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, f"Could not import: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Imported {len(armatures)} of {len(result.people)} people "
                              f"(track ids {', '.join(map(str, chosen))}).")
        return {"FINISHED"}


class VIBE_PT_found_people(SubPanel, bpy.types.Panel):
    bl_label = "People found"
    bl_options = set()  # open: this is what a run produced

    @classmethod
    def poll(cls, context) -> bool:
        result = getattr(context.scene, "vibe_result", None)
        return result is not None and len(result.people) > 0

    def draw(self, context) -> None:
        layout = self.layout
        result = context.scene.vibe_result
        draw_wrapped(layout, f"{len(result.people)} people in {Path(result.video).name}; tick who to import.",
                     width=40)
        layout.template_list("VIBE_UL_found_people", "", result, "people", result, "index", rows=4)
        if 0 <= result.index < len(result.people):
            person = result.people[result.index]
            preview = thumbnail(person.thumbnail)
            if preview is not None:
                layout.template_icon(icon_value=preview.icon_id, scale=6.0)
            layout.label(text=f"Person {person.track_id}: frames {person.first_frame}-{person.last_frame} "
                              f"({person.frames} tracked), about {person.height_px:.0f} px tall")
        row = layout.row(align=True)
        row.operator(VIBE_OT_tick_found_people.bl_idname, text="All").tick = True
        row.operator(VIBE_OT_tick_found_people.bl_idname, text="None").tick = False
        ticked = sum(item.use for item in result.people)
        layout.operator(VIBE_OT_import_found_people.bl_idname, text=f"Import ticked ({ticked})", icon="IMPORT")


classes = (VibeFoundPerson, VibeRunResult, VIBE_UL_found_people, VIBE_OT_tick_found_people,
           VIBE_OT_import_found_people, VIBE_PT_found_people)

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.vibe_result = bpy.props.PointerProperty(type=VibeRunResult)


def unregister() -> None:
    global _previews
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
    del bpy.types.Scene.vibe_result
    _unregister_classes()
