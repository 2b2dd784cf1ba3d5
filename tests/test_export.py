"""Exports of a retargeted character: each file imported back holds the same joint positions within 1 mm."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_vibe import export  # noqa: E402
from blender_vibe.export import ExportError, export_bvh, export_fbx, export_file, export_gltf  # noqa: E402
from blender_vibe.retarget.character import character_objects  # noqa: E402
from tests.retarget_rigs import (  # noqa: E402
    add_box_body,
    build_armature,
    make_source,
    mixamo_rig,
    register_with_parent_panel,
)

FRAMES = (1, 17, 40)
HELPER_BONE = "mixamorig:IK_Helper"  # a bone that deforms nothing


@pytest.fixture(scope="module")
def character():
    """A Mixamo-like character (object scaled 0.01, bones in cm) with a skinned body and the source's motion baked
    on; the scene plays only frames 1-10 of the 40 animated, as exports must not truncate to the scene range."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    stand_ins = register_with_parent_panel()
    export.register()
    source = make_source()
    armature = build_armature(mixamo_rig(), "Hero")
    bpy.context.view_layer.objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    helper = armature.data.edit_bones.new(HELPER_BONE)
    helper.head, helper.tail, helper.use_deform = (0, 0, 0), (0, 0, 10), False
    bpy.ops.object.mode_set(mode="OBJECT")
    add_box_body(armature)
    bpy.ops.vibe.retarget(source=source.name, target=armature.name)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 10
    yield armature
    export.unregister()
    from blender_vibe import retarget_op

    retarget_op.unregister()
    for cls in stand_ins:
        bpy.utils.unregister_class(cls)


def world_heads(armature: bpy.types.Object, names: list[str], frame: int) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    world = np.array(armature.matrix_world)
    return np.array([(world @ np.array(armature.pose.bones[name].matrix))[:3, 3] for name in names])


def imported(run_import) -> list[bpy.types.Object]:
    """Objects an import adds."""
    before = set(bpy.data.objects)
    run_import()
    return [obj for obj in bpy.data.objects if obj not in before]


def remove(objects: list[bpy.types.Object]) -> None:
    for obj in objects:
        bpy.data.objects.remove(obj)


def fbx_global_settings(path) -> tuple[str, str, float]:
    """(up, forward, unit scale in cm) written in an FBX file's GlobalSettings, read with Blender's FBX parser."""
    from io_scene_fbx import parse_fbx
    from io_scene_fbx.fbx_utils import RIGHT_HAND_AXES
    from io_scene_fbx.import_fbx import elem_find_first, elem_props_get_integer, elem_props_get_number

    root, _ = parse_fbx.parse(str(path))
    props = elem_find_first(elem_find_first(root, b"GlobalSettings"), b"Properties70")
    axis = tuple(
        (elem_props_get_integer(props, name), elem_props_get_integer(props, name + b"Sign"))
        for name in (b"UpAxis", b"FrontAxis", b"CoordAxis")
    )
    up, forward = {v: k for k, v in RIGHT_HAND_AXES.items()}[axis]
    return up, forward, elem_props_get_number(props, b"UnitScaleFactor")


@pytest.mark.parametrize(
    "preset, axes, unit_cm",
    [("unity", ("Y", "-Z"), 100.0), ("unreal", ("Z", "X"), 1.0), ("blender", ("Y", "-Z"), 1.0)],
)
def test_fbx_presets_round_trip_joint_positions(character, tmp_path, preset, axes, unit_cm):
    path = export_fbx(tmp_path / f"hero_{preset}.fbx", character_objects(character), preset)
    up, forward, unit = fbx_global_settings(path)
    assert (up, forward) == axes and unit == pytest.approx(unit_cm)
    assert bpy.context.scene.frame_end == 10  # the scene range is restored
    assert tuple(character.animation_data.action.frame_range) == (1.0, 40.0)  # and the keys, moved while baking
    new = imported(lambda: bpy.ops.import_scene.fbx(filepath=str(path)))  # default settings: frame f comes back at f
    try:
        armature = next(obj for obj in new if obj.type == "ARMATURE")
        assert [obj.type for obj in new].count("MESH") == 1
        assert tuple(armature.animation_data.action.frame_range) == (1.0, 40.0)
        bone_names = {bone.name for bone in armature.data.bones}
        assert not any(name.endswith("_end") for name in bone_names)  # no leaf bones
        assert (HELPER_BONE in bone_names) == (preset == "blender")  # deform bones only for the game engines
        names = [b.name for b in character.data.bones if b.use_deform]
        for frame in FRAMES:
            error = np.abs(world_heads(armature, names, frame) - world_heads(character, names, frame)).max()
            assert error < 1e-3
    finally:
        remove(new)


def test_bvh_round_trip_joint_positions(character, tmp_path):
    """BVH stores the armature in its own space: compare through the character's object transform."""
    path = export_bvh(tmp_path / "hero.bvh", character)
    new = imported(lambda: bpy.ops.import_anim.bvh(filepath=str(path), axis_forward="Y", axis_up="Z"))
    try:
        (armature,) = new
        names = [b.name for b in character.data.bones]
        armature.matrix_world = character.matrix_world
        for frame in FRAMES:
            assert np.abs(world_heads(armature, names, frame) - world_heads(character, names, frame)).max() < 1e-3
    finally:
        remove(new)


def test_gltf_round_trip_joint_positions(character, tmp_path):
    path = export_gltf(tmp_path / "hero.glb", character_objects(character))
    new = imported(lambda: bpy.ops.import_scene.gltf(filepath=str(path)))
    try:
        armature = next(obj for obj in new if obj.type == "ARMATURE")
        names = [b.name for b in character.data.bones if b.name != HELPER_BONE]
        for frame in FRAMES:
            assert np.abs(world_heads(armature, names, frame) - world_heads(character, names, frame)).max() < 1e-3
    finally:
        remove(new)


def test_export_operator_and_bad_paths(character, tmp_path, monkeypatch):
    body = character_objects(character)[1]
    body.select_set(True)
    bpy.context.view_layer.objects.active = character
    assert bpy.ops.vibe.export_character(filepath=str(tmp_path / "hero"), format="FBX_UNREAL") == {"FINISHED"}
    assert (tmp_path / "hero.fbx").stat().st_size > 0
    assert fbx_global_settings(tmp_path / "hero.fbx")[:2] == ("Z", "X")
    assert body.select_get() and not character.select_get()  # the user's selection is back
    assert export_file(tmp_path / "hero.glb", character).is_file()
    assert not list(tmp_path.glob(".*partial*"))
    with pytest.raises(ExportError, match=r"\.fbx, \.bvh, \.glb or \.gltf"):
        export_file(tmp_path / "hero.obj", character)
    with pytest.raises(ExportError, match="does not exist"):
        export_fbx(tmp_path / "missing" / "hero.fbx", [character])
    with pytest.raises(ExportError, match="Unknown FBX preset 'godot'"):
        export_fbx(tmp_path / "hero.fbx", [character], "godot")
    with pytest.raises(ExportError, match="BVH holds an armature"):
        export_bvh(tmp_path / "body.bvh", body)
    monkeypatch.setattr(export.os, "access", lambda path, mode: False)  # a read-only folder (tests may run as root)
    with pytest.raises(RuntimeError, match="is not writable"):
        bpy.ops.vibe.export_character(filepath=str(tmp_path / "locked"), format="GLB")
