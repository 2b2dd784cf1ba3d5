"""Retargeting inside Blender: operators, bulk reading and baking, the bone map editor's presets, characters from
.blend files. The source is the SMPL armature as Import Motion builds it, keyed with a random motion."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_vibe import retarget_op  # noqa: E402
from blender_vibe.retarget.bake import RetargetError, read_armature, sample_pose  # noqa: E402
from blender_vibe.retarget.character import character_objects, retarget_onto_character  # noqa: E402
from blender_vibe.retarget.solve import leg_length, world_pose  # noqa: E402
from smpl_rig.blender.action import owner_fcurves  # noqa: E402
from smpl_rig.blender.armature import create_armature  # noqa: E402
from smpl_rig.default_skeleton import default_rest_joints  # noqa: E402
from smpl_rig.rig_pose import TAIL_CHILD, blender_rest_joints  # noqa: E402
from smpl_rig.skeleton import JOINT_NAMES  # noqa: E402
from tests.retarget_rigs import (  # noqa: E402
    FRAMES,
    RIGIFY_FK_NAMES,
    build_armature,
    humanoid,
    make_source,
    mixamo_rig,
    register_with_parent_panel,
    rigify_rig,
    unmappable_rig,
    unreal_rig,
)

CHECKED_FRAMES = (1, 13, 27, 40)
FEET = ("L_Ankle", "R_Ankle", "L_Foot", "R_Foot")


@pytest.fixture(scope="module")
def scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    stand_ins = register_with_parent_panel()
    yield bpy.context.scene
    retarget_op.unregister()
    for cls in stand_ins:
        bpy.utils.unregister_class(cls)


def pose_state(obj: bpy.types.Object, frame: int) -> tuple[dict, dict]:
    """Blender's own evaluation at `frame`: world heads and world y axes of every pose bone."""
    bpy.context.scene.frame_set(frame)
    world = np.array(obj.matrix_world)
    heads, axes = {}, {}
    for pose_bone in obj.pose.bones:
        matrix = world @ np.array(pose_bone.matrix)
        heads[pose_bone.name] = matrix[:3, 3]
        axes[pose_bone.name] = matrix[:3, 1] / np.linalg.norm(matrix[:3, 1])
    return heads, axes


def directions(obj: bpy.types.Object, bone_map: dict[str, str], frame: int) -> dict[str, np.ndarray]:
    """Each mapped joint's world direction: to the next mapped joint down its chain, else along the bone."""
    heads, axes = pose_state(obj, frame)
    result = {}
    for joint, bone in bone_map.items():
        child = TAIL_CHILD[JOINT_NAMES.index(joint)]
        while child >= 0 and JOINT_NAMES[child] not in bone_map:
            child = TAIL_CHILD[child]
        if child < 0:
            result[joint] = axes[bone]
        else:
            vector = heads[bone_map[JOINT_NAMES[child]]] - heads[bone]
            result[joint] = vector / np.linalg.norm(vector)
    return result


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0))))


def rest_heads(obj: bpy.types.Object, bone_map: dict[str, str]) -> dict[str, np.ndarray]:
    armature = read_armature(obj)
    _, heads = world_pose(armature, armature.rest)
    return {joint: heads[armature.index(bone)] for joint, bone in bone_map.items()}


@pytest.mark.parametrize(
    "make_rig, rotation_mode",
    [(mixamo_rig, "QUATERNION"), (rigify_rig, "QUATERNION"), (unreal_rig, "XYZ")],
    ids=["mixamo", "rigify", "unreal"],
)
def test_retarget_operator_matches_every_bone_direction(scene, make_rig, rotation_mode):
    source = make_source()
    spec = make_rig()
    target = build_armature(spec, "Character", rotation_mode)
    assert bpy.ops.vibe.retarget(source=source.name, target=target.name) == {"FINISHED"}

    action = target.animation_data.action
    assert action is not None and tuple(action.frame_range) == (1.0, 40.0)
    assert all(target.pose.bones[bone].rotation_mode == "QUATERNION" for bone in spec.bone_map.values())
    same = {joint: joint for joint in spec.bone_map}
    for frame in CHECKED_FRAMES:
        want, got = directions(source, same, frame), directions(target, spec.bone_map, frame)
        errors = {joint: angle_deg(want[joint], got[joint]) for joint in spec.bone_map}
        assert max(errors.values()) < 1.0, errors

    source_rest, target_rest = rest_heads(source, same), rest_heads(target, spec.bone_map)
    ratio = leg_length(target_rest) / leg_length(source_rest)
    pelvis = spec.bone_map["Pelvis"]
    for frame in CHECKED_FRAMES:
        source_heads, _ = pose_state(source, frame)
        target_heads, _ = pose_state(target, frame)
        moved = ratio * (source_heads["Pelvis"] - source_rest["Pelvis"])
        assert np.allclose(target_heads[pelvis] - target_rest["Pelvis"], moved, atol=1e-4)


def test_bake_covers_the_tracked_span_not_the_visibility_keys(scene):
    from smpl_rig.blender.action import key_visibility

    source = make_source("Late")
    scene_frames = np.arange(1, 201)
    key_visibility(source, scene_frames, ~np.isin(scene_frames, FRAMES))  # keyed over the whole scene
    target = build_armature(mixamo_rig(), "LateCharacter")
    assert bpy.ops.vibe.retarget(source=source.name, target=target.name) == {"FINISHED"}
    assert tuple(target.animation_data.action.frame_range) == (float(FRAMES[0]), float(FRAMES[-1]))


def test_rigify_fk_controls_are_switched_to_fk_and_followed(scene, tmp_path):
    source = make_source(seed=2)
    spec = humanoid(RIGIFY_FK_NAMES, arm_drop_deg=35, seed=6)
    target = build_armature(spec, "RigifyFK")
    for switch in ("upper_arm_fk.L", "thigh_fk.R"):  # stand-ins for Rigify's *_parent bones holding the switch
        target.pose.bones[switch]["IK_FK"] = 0.0
    scene.vibe_retarget.target = target
    bpy.ops.vibe.retarget_detect_map()
    bpy.ops.vibe.retarget_save_map(filepath=str(tmp_path / "fk.json"))
    scene.vibe_retarget.switch_properties = ""
    bpy.ops.vibe.retarget_load_map(filepath=str(tmp_path / "fk.json"))  # the saved map keeps the switch
    assert bpy.ops.vibe.retarget(source=source.name, target=target.name, use_panel_map=True) == {"FINISHED"}
    assert [target.pose.bones[b]["IK_FK"] for b in ("upper_arm_fk.L", "thigh_fk.R")] == [1.0, 1.0]
    same = {joint: joint for joint in spec.bone_map}
    want, got = directions(source, same, 20), directions(target, spec.bone_map, 20)
    assert max(angle_deg(want[j], got[j]) for j in spec.bone_map) < 1.0


def test_feet_on_ground_option(scene):
    source = make_source(seed=1)
    spec = unreal_rig()
    target = build_armature(spec, "Grounded")
    bpy.ops.vibe.retarget(source=source.name, target=target.name, feet_on_ground=True)
    same = {joint: joint for joint in spec.bone_map}
    source_rest, target_rest = rest_heads(source, same), rest_heads(target, spec.bone_map)
    ratio = leg_length(target_rest) / leg_length(source_rest)
    for frame in CHECKED_FRAMES:
        source_heads, _ = pose_state(source, frame)
        target_heads, _ = pose_state(target, frame)
        source_rise = min(source_heads[j][2] for j in FEET) - min(source_rest[j][2] for j in FEET)
        target_rise = min(target_heads[spec.bone_map[j]][2] for j in FEET) - min(target_rest[j][2] for j in FEET)
        assert target_rise == pytest.approx(ratio * source_rise, abs=1e-4)


def test_unmappable_rig_is_refused_with_the_joints_it_lacks(scene):
    source = make_source()
    target = build_armature(unmappable_rig(), "Robot")
    with pytest.raises(RuntimeError) as error:
        bpy.ops.vibe.retarget(source=source.name, target=target.name)
    message = str(error.value)
    assert "'Robot'" in message and all(joint in message for joint in ("Pelvis", "L_Knee", "R_Wrist", "Head"))
    assert target.animation_data is None  # nothing half-done


def test_source_without_motion_and_missing_objects_get_clear_errors(scene):
    still = build_armature(mixamo_rig(), "Still")
    with pytest.raises(RuntimeError, match="no bones named"):
        bpy.ops.vibe.retarget(source=still.name, target=still.name)
    source = create_armature(bpy.context, "Unanimated", scene.collection, blender_rest_joints(default_rest_joints()))
    with pytest.raises(RuntimeError, match="no animation"):
        bpy.ops.vibe.retarget(source=source.name, target=still.name)
    with pytest.raises(RuntimeError, match="No armature object named 'Nobody'"):
        bpy.ops.vibe.retarget(source="Nobody", target=still.name)


def test_panel_bone_map_detect_edit_save_load_and_use(scene, tmp_path):
    source = make_source()
    spec = mixamo_rig()
    target = build_armature(spec, "Edited")
    settings = scene.vibe_retarget
    settings.source, settings.target = source, target
    bpy.ops.vibe.retarget_detect_map()
    assert settings.panel_map() == spec.bone_map
    path = tmp_path / "my_rig.json"
    bpy.ops.vibe.retarget_save_map(filepath=str(path))
    settings.bone_map[JOINT_NAMES.index("L_Foot")].bone = ""
    settings.bone_map[JOINT_NAMES.index("L_Knee")].bone = "mixamorig:RightLeg"  # a mistake: used twice now
    with pytest.raises(RuntimeError, match="mixamorig:RightLeg \\(L_Knee, R_Knee\\)"):
        bpy.ops.vibe.retarget(source=source.name, target=target.name, use_panel_map=True)
    bpy.ops.vibe.retarget_load_map(filepath=str(path))
    assert settings.panel_map() == spec.bone_map
    settings.bone_map[JOINT_NAMES.index("L_Foot")].bone = ""  # optional joints may be left out
    assert bpy.ops.vibe.retarget(source=source.name, target=target.name, use_panel_map=True) == {"FINISHED"}
    curves = {fc.data_path for fc in owner_fcurves(target)}
    assert 'pose.bones["mixamorig:LeftToeBase"].rotation_quaternion' not in curves
    assert 'pose.bones["mixamorig:LeftLeg"].rotation_quaternion' in curves


@pytest.mark.parametrize("interpolation", ["BEZIER", "LINEAR"])
def test_sample_pose_reads_every_rotation_mode_like_blender(scene, interpolation):
    """Keys on some frames only, in four rotation modes: Bezier keys are evaluated frame by frame, linear ones (as
    Import Motion writes them around tracking gaps) interpolated in bulk, also before the first and after the last."""
    obj = build_armature(rigify_rig(), "Modes")
    rng = np.random.default_rng(5)
    modes = ["QUATERNION", "XYZ", "ZXY", "AXIS_ANGLE"]
    for i, pose_bone in enumerate(obj.pose.bones):
        pose_bone.rotation_mode = modes[i % 4]
        for frame in (1, 5, 9):
            pose_bone.rotation_quaternion = rng.normal(size=4)
            pose_bone.rotation_euler = rng.normal(size=3)
            pose_bone.rotation_axis_angle = rng.normal(size=4)
            pose_bone.location = rng.normal(scale=0.1, size=3)
            pose_bone.keyframe_insert({"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(
                pose_bone.rotation_mode, "rotation_euler"), frame=frame)
            pose_bone.keyframe_insert("location", frame=frame)
    for fcurve in owner_fcurves(obj):
        for point in fcurve.keyframe_points:
            point.interpolation = interpolation
    armature = read_armature(obj)
    frames = np.arange(0, 12)
    pose = sample_pose(obj, armature, frames)
    for k, frame in enumerate(frames):
        bpy.context.scene.frame_set(int(frame))
        blender = np.array([np.array(obj.pose.bones[name].matrix) for name in armature.names])
        assert np.allclose(pose[k], blender, atol=1e-4)


def test_retarget_onto_character_from_a_blend_file(scene, tmp_path):
    character = build_armature(mixamo_rig(), "Hero")
    mesh = bpy.data.meshes.new("HeroBody")
    mesh.from_pydata([(0, 0, 0), (0.1, 0, 0), (0, 0.1, 0)], [], [(0, 1, 2)])
    body = bpy.data.objects.new("HeroBody", mesh)
    body.modifiers.new("Armature", "ARMATURE").object = character
    lamp = bpy.data.objects.new("Lamp", bpy.data.lights.new("Lamp", "POINT"))
    path = tmp_path / "hero.blend"
    bpy.data.libraries.write(str(path), {character, body, lamp})
    for obj in (character, body, lamp):
        bpy.data.objects.remove(obj)

    source = make_source()
    appended = retarget_onto_character(bpy.context, source, path)
    assert appended.name in scene.objects and appended.animation_data.action is not None
    objects = character_objects(appended)
    assert [obj.type for obj in objects] == ["ARMATURE", "MESH"] and objects[1].name in scene.objects
    assert "Lamp" not in bpy.data.objects
    with pytest.raises(RetargetError, match="not found"):
        retarget_onto_character(bpy.context, source, tmp_path / "missing.blend")
