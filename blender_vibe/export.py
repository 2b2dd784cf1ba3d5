"""Export an animated character (armature + the meshes it deforms) to FBX for Unity or Unreal, BVH, or glTF.

FBX presets (Blender's own exporter; every preset: no leaf bones, baked animation over the whole action with a key
on every frame and no simplification, only the active action, bones' Y axis primary as Blender stores them):
- "unity": -Z forward, Y up, scale 1 with "FBX Units Scale" (the file says metres, Unity's unit: the model imports
  at scale 1 without a 100x root), deform bones only.
- "unreal": X forward, Z up (Unreal's world axes), deform bones only, lengths in centimetres (Unreal's unit):
  "apply unit scale" with "All Local" (FBX_SCALE_NONE) multiplies lengths by 100 and marks the file as centimetres,
  a common community choice. In a scene in metres the factor lands on the root objects' transforms, so Unreal sees
  a root scaled by 100; the usual fix, which Epic's "Send to Unreal" automates, is a scene unit scale of 0.01 with
  the character scaled by 100.
- "blender": the exporter's defaults (-Z forward, Y up) keeping every bone, for taking the bake to other Blender
  files or DCC tools.
Every preset puts scene frame 1 at FBX time 0: Blender's exporter writes frame f at time f / fps, but its importer
(and game engines, whose clips start at time 0) read time t as frame t * fps + 1 (the importer's default "Animation
Offset" of 1 frame), so a plain export comes back one frame late. The export therefore bakes with the exported
objects' keys moved one frame earlier (restored after): frame f is written at time (f - 1) / fps and imported at f.
BVH holds one armature, in its armature space (Blender's exporter applies no object transform); glTF (.glb or
.gltf) is written Y up, with skins and the active actions sampled on every frame.
"""

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

import addon_utils
import bpy
import numpy as np

from smpl_rig.blender.action import action_fcurves, owner_fcurves

from .retarget.character import character_objects
from .sidebar import SubPanel

FBX_PRESETS = {
    "unity": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_UNITS", use_armature_deform_only=True),
    "unreal": dict(axis_forward="X", axis_up="Z", apply_scale_options="FBX_SCALE_NONE", use_armature_deform_only=True),
    "blender": dict(
        axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_NONE", use_armature_deform_only=False
    ),
}
_FBX_COMMON = dict(
    use_selection=True,
    object_types={"ARMATURE", "MESH"},
    global_scale=1.0,
    apply_unit_scale=True,
    add_leaf_bones=False,
    primary_bone_axis="Y",
    secondary_bone_axis="X",
    bake_anim=True,
    bake_anim_use_all_bones=True,
    bake_anim_use_nla_strips=False,
    bake_anim_use_all_actions=False,
    bake_anim_force_startend_keying=True,
    bake_anim_step=1.0,
    bake_anim_simplify_factor=0.0,
)
_ADDONS = {"fbx": "io_scene_fbx", "bvh": "io_anim_bvh", "gltf": "io_scene_gltf2"}
FBX_FRAME_SHIFT = -1  # scene frame 1 at FBX time 0, where Blender's FBX importer (and game engines) start


class ExportError(RuntimeError):
    """The export cannot run; the message says why and what to do."""


def export_fbx(path: str | Path, objects: Sequence[bpy.types.Object], preset: str = "unity") -> Path:
    """Write `objects` (an armature and its meshes) with their active actions baked, using an FBX preset."""
    if preset not in FBX_PRESETS:
        raise ExportError(f"Unknown FBX preset {preset!r}: use one of {', '.join(FBX_PRESETS)}.")
    path = _output(path, (".fbx",))
    _enable("fbx")
    with _shown(objects), _selected(objects), _keys_moved(objects, FBX_FRAME_SHIFT), \
            _scene_range(objects), _replaced_on_success(path) as partial:
        bpy.ops.export_scene.fbx(filepath=str(partial), **_FBX_COMMON, **FBX_PRESETS[preset])
    return path


def export_bvh(path: str | Path, armature: bpy.types.Object) -> Path:
    """Write one armature's rest skeleton and its active action, every frame, to BVH."""
    if armature.type != "ARMATURE":
        raise ExportError(f"BVH holds an armature; '{armature.name}' is a {armature.type.lower()}.")
    path = _output(path, (".bvh",))
    _enable("bvh")
    start, end = _frame_range([armature]) or (bpy.context.scene.frame_start, bpy.context.scene.frame_end)
    with _shown([armature]), _selected([armature]), _replaced_on_success(path) as partial:
        bpy.ops.export_anim.bvh(filepath=str(partial), frame_start=start, frame_end=end, rotate_mode="NATIVE")
    return path


def export_gltf(path: str | Path, objects: Sequence[bpy.types.Object]) -> Path:
    """Write `objects` with skins and active actions sampled on every frame; .glb is binary, .gltf separate files."""
    path = _output(path, (".glb", ".gltf"))
    _enable("gltf")
    binary = path.suffix.lower() == ".glb"
    with _shown(objects), _selected(objects), \
            _replaced_on_success(path) if binary else nullcontext(path) as written:
        bpy.ops.export_scene.gltf(
            filepath=str(written),
            export_format="GLB" if binary else "GLTF_SEPARATE",
            use_selection=True,
            export_yup=True,
            export_skins=True,
            export_animations=True,
            export_animation_mode="ACTIVE_ACTIONS",
            export_force_sampling=True,
            export_frame_step=1,
            export_optimize_animation_size=False,
        )
    return path


def export_file(path: str | Path, armature: bpy.types.Object, fbx_preset: str = "unity") -> Path:
    """Export a character by the file's extension: .fbx (with `fbx_preset`), .bvh (the armature), .glb or .gltf."""
    suffix = Path(path).suffix.lower()
    if suffix == ".bvh":
        return export_bvh(path, armature)
    objects = character_objects(armature, bpy.context.view_layer.objects)
    if suffix in (".glb", ".gltf"):
        return export_gltf(path, objects)
    if suffix == ".fbx":
        return export_fbx(path, objects, fbx_preset)
    raise ExportError(f"Cannot export to {Path(path).name}: use a .fbx, .bvh, .glb or .gltf file name.")


def _output(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    path = Path(path).resolve()
    if path.suffix.lower() not in suffixes:
        raise ExportError(f"{path.name} should end in {' or '.join(suffixes)}.")
    if not path.parent.is_dir():
        raise ExportError(f"The folder {path.parent} does not exist: create it or choose another place.")
    if not os.access(path.parent, os.W_OK):
        raise ExportError(f"The folder {path.parent} is not writable: choose another place.")
    return path


def _enable(format_name: str) -> None:
    """Turn on Blender's bundled exporter add-on for a format when the user has disabled it."""
    module = _ADDONS[format_name]
    if not addon_utils.check(module)[1]:
        addon_utils.enable(module, default_set=True)


def _frame_range(objects: Sequence[bpy.types.Object]) -> tuple[int, int] | None:
    """Whole frames spanned by the objects' active actions, or None when none is animated."""
    ranges = [
        obj.animation_data.action.frame_range for obj in objects if obj.animation_data and obj.animation_data.action
    ]
    if not ranges:
        return None
    return math.floor(min(r[0] for r in ranges)), math.ceil(max(r[1] for r in ranges))


@contextmanager
def _replaced_on_success(path: Path) -> Iterator[Path]:
    """A temporary name beside `path` to write to; it replaces `path` only once the exporter has finished, so a failed
    export leaves no half-written file behind."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _scene_range(objects: Sequence[bpy.types.Object]) -> Iterator[None]:
    """The scene's frame range set to the animation's while exporting (the FBX exporter bakes the scene range)."""
    scene = bpy.context.scene
    saved = scene.frame_start, scene.frame_end
    span = _frame_range(objects)
    if span:
        scene.frame_start, scene.frame_end = span
    try:
        yield
    finally:
        scene.frame_start, scene.frame_end = saved


@contextmanager
def _keys_moved(objects: Sequence[bpy.types.Object], frames: int) -> Iterator[None]:
    """The keys (and handles) of the objects' active actions, their shape keys' included, moved by `frames` while
    the block runs; each action moves once, however many objects share it."""
    owners = [owner for obj in objects for owner in (obj, getattr(getattr(obj, "data", None), "shape_keys", None))
              if owner is not None and owner.animation_data and owner.animation_data.action]
    actions = list({owner.animation_data.action.name_full: owner.animation_data.action for owner in owners}.values())
    curves = [fcurve for action in actions for fcurve in action_fcurves(action)]
    _move_keys(curves, frames)
    try:
        yield
    finally:
        _move_keys(curves, -frames)


def _move_keys(curves: list[bpy.types.FCurve], frames: int) -> None:
    for fcurve in curves:
        points = fcurve.keyframe_points
        for prop in ("co", "handle_left", "handle_right"):
            values = np.empty(2 * len(points), dtype=np.float32)
            points.foreach_get(prop, values)
            values[0::2] += frames
            points.foreach_set(prop, values)


VISIBILITY_PATHS = ("hide_viewport", "hide_render")


@contextmanager
def _shown(objects: Sequence[bpy.types.Object]) -> Iterator[None]:
    """Imported people are keyed hidden on frames where they were not tracked, and a hidden object cannot be
    selected for export: mute those visibility curves and show the objects while exporting, then restore."""
    curves = [c for obj in objects for c in owner_fcurves(obj) if c.data_path in VISIBILITY_PATHS and not c.mute]
    saved = [(obj, obj.hide_viewport, obj.hide_render) for obj in objects]
    for fcurve in curves:
        fcurve.mute = True
    for obj in objects:
        obj.hide_viewport = obj.hide_render = False
    try:
        yield
    finally:
        for fcurve in curves:
            fcurve.mute = False
        for obj, viewport, render in saved:
            obj.hide_viewport, obj.hide_render = viewport, render


@contextmanager
def _selected(objects: Sequence[bpy.types.Object]) -> Iterator[None]:
    """Exactly `objects` selected, the first active, while exporting; the user's selection is restored after."""
    if not objects:
        raise ExportError("Nothing to export: choose the character's armature.")
    view_layer = bpy.context.view_layer
    outside = [obj.name for obj in objects if obj.name not in view_layer.objects]
    if outside:
        raise ExportError(f"Not in the current view layer: {', '.join(outside)}. Link them to the scene first.")
    selected = [obj for obj in view_layer.objects if obj.select_get()]
    active = view_layer.objects.active
    for obj in selected:
        obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    view_layer.objects.active = objects[0]
    try:
        yield
    finally:
        for obj in objects:
            obj.select_set(False)
        for obj in selected:
            obj.select_set(True)
        view_layer.objects.active = active


FORMATS = (
    ("FBX_UNITY", "FBX for Unity", "FBX: -Z forward, Y up, metres as FBX units, deform bones, baked animation"),
    ("FBX_UNREAL", "FBX for Unreal", "FBX: X forward, Z up, centimetres, deform bones, baked animation"),
    ("FBX_BLENDER", "FBX", "FBX with the exporter's default axes and every bone"),
    ("BVH", "BVH", "Motion capture file of the armature alone"),
    ("GLB", "glTF binary (.glb)", "glTF 2.0 in one file, with skins and animation"),
)
_EXTENSIONS = {"BVH": ".bvh", "GLB": ".glb"}


class VIBE_OT_export_character(bpy.types.Operator):
    """Export the active armature and the meshes it deforms, with its animation baked"""

    bl_idname = "vibe.export_character"
    bl_label = "Export Character"

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    format: bpy.props.EnumProperty(name="Format", items=FORMATS, default="FBX_UNITY")

    @classmethod
    def poll(cls, context):
        return context.active_object is not None and context.active_object.type == "ARMATURE"

    def invoke(self, context, event):
        extension = _EXTENSIONS.get(self.format, ".fbx")
        self.filepath = bpy.path.ensure_ext(bpy.path.clean_name(context.active_object.name), extension)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        path = bpy.path.ensure_ext(bpy.path.abspath(self.filepath), _EXTENSIONS.get(self.format, ".fbx"))
        preset = self.format.removeprefix("FBX_").lower()
        try:
            written = export_file(path, context.active_object, preset if self.format.startswith("FBX") else "unity")
        except ExportError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {written}.")
        return {"FINISHED"}


class VIBE_PT_export(SubPanel, bpy.types.Panel):
    bl_idname = "VIBE_PT_export"
    bl_label = "Export"

    def draw(self, context):
        column = self.layout.column(align=True)
        for identifier, label, _ in FORMATS:
            column.operator(VIBE_OT_export_character.bl_idname, text=label).format = identifier


classes = (VIBE_OT_export_character, VIBE_PT_export)


register, unregister = bpy.utils.register_classes_factory(classes)
