"""Retargeting math and bone maps, without Blender."""

import json

import numpy as np
import pytest

from blender_vibe.retarget.bone_maps import (
    REQUIRED_JOINTS,
    BoneMapError,
    builtin_presets,
    check_bone_map,
    detect_bone_map,
    load_preset,
    save_preset,
)
from blender_vibe.retarget.solve import RestArmature, leg_length, pose_matrices, retarget, world_pose
from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.rig_pose import TAIL_CHILD, blender_joint_positions, pose_bone_channels
from smpl_rig.rotations import axis_angle_to_matrix, quaternion_to_matrix
from smpl_rig.skeleton import JOINT_NAMES
from tests.retarget_rigs import (
    MIXAMO_NAMES,
    UNREAL_NAMES,
    mixamo_rig,
    rigify_rig,
    smpl_source,
    unmappable_rig,
    unreal_rig,
)
from tests.walking import walk

FRAMES = 30


def random_source_pose(source: RestArmature, seed: int = 0) -> np.ndarray:
    """Random local rotations (up to about 70 degrees) on every bone and a wandering pelvis."""
    rng = np.random.default_rng(seed)
    aa = rng.normal(scale=0.5, size=(FRAMES, 24, 3))
    locations = np.zeros((FRAMES, 24, 3))
    locations[:, source.index("Pelvis")] = np.cumsum(rng.normal(scale=0.05, size=(FRAMES, 3)), axis=0)
    return pose_matrices(source, axis_angle_to_matrix(aa), locations)


def apply_motion(target: RestArmature, motion) -> np.ndarray:
    """Pose matrices of every target bone with the retargeted keys (unmapped bones at rest)."""
    rotations = np.broadcast_to(np.eye(3), (FRAMES, len(target.names), 3, 3)).copy()
    for m, name in enumerate(motion.bones):
        rotations[:, target.index(name)] = quaternion_to_matrix(motion.quaternions[:, m])
    locations = np.zeros((FRAMES, len(target.names), 3))
    locations[:, target.index(motion.root_bone)] = motion.root_location
    return pose_matrices(target, rotations, locations)


def _chain_child(joint: str, bone_map: dict[str, str]) -> int:
    """The next mapped joint down the SMPL chain, or -1 for a leaf."""
    child = TAIL_CHILD[JOINT_NAMES.index(joint)]
    while child >= 0 and JOINT_NAMES[child] not in bone_map:
        child = TAIL_CHILD[child]
    return child


def bone_directions(armature: RestArmature, pose: np.ndarray, bone_map: dict[str, str]) -> dict[str, np.ndarray]:
    """Each mapped joint's world direction (..., 3): to the next mapped joint down its chain, else along the bone."""
    rotations, heads = world_pose(armature, pose)
    directions = {}
    for joint, bone in bone_map.items():
        child = _chain_child(joint, bone_map)
        b = armature.index(bone)
        if child >= 0:
            vector = heads[..., armature.index(bone_map[JOINT_NAMES[child]]), :] - heads[..., b, :]
        else:
            vector = rotations[..., b, :, 1]
        directions[joint] = vector / np.linalg.norm(vector, axis=-1, keepdims=True)
    return directions


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def test_pose_matrices_follow_blender_rules_and_reproduce_smpl_forward_kinematics():
    rng = np.random.default_rng(3)
    rest_joints = default_rest_joints()
    source = smpl_source()
    pose, trans = rng.normal(scale=0.4, size=(FRAMES, 72)), rng.normal(scale=0.5, size=(FRAMES, 3))
    quaternions, root_location = pose_bone_channels(pose, trans, rest_joints, source.rest[:, :3, :3])
    locations = np.zeros((FRAMES, 24, 3))
    locations[:, 0] = root_location
    _, heads = world_pose(source, pose_matrices(source, quaternion_to_matrix(quaternions), locations))
    assert np.allclose(heads, blender_joint_positions(pose, trans, rest_joints), atol=1e-9)


def test_rest_armature_sorts_parents_first():
    spec = rigify_rig()
    shuffled = np.random.default_rng(0).permutation(len(spec.names))
    rest = spec.rest_armature()
    again = RestArmature.from_bones(
        [spec.names[i] for i in shuffled], [spec.parents[i] for i in shuffled],
        np.array([rest.rest[rest.index(spec.names[i])] for i in shuffled]),
    )
    assert all(again.parents[b] < b for b in range(len(again.names)))
    assert [again.names[p] if p >= 0 else None for p in again.parents] == [
        spec.parents[spec.names.index(name)] for name in again.names
    ]


@pytest.mark.parametrize("make_rig", [mixamo_rig, rigify_rig, unreal_rig], ids=["mixamo", "rigify", "unreal"])
@pytest.mark.parametrize("feet_on_ground", [False, True])
def test_every_mapped_bone_points_like_the_source(make_rig, feet_on_ground):
    source, spec = smpl_source(), make_rig()
    target = spec.rest_armature()
    source_pose = random_source_pose(source)
    motion = retarget(source, source_pose, target, spec.bone_map, feet_on_ground=feet_on_ground)
    same = {joint: joint for joint in spec.bone_map}  # the source's bones are named as the joints
    want = bone_directions(source, source_pose, same)
    got = bone_directions(target, apply_motion(target, motion), spec.bone_map)
    errors = {joint: angles_deg(want[joint], got[joint]).max() for joint in spec.bone_map}
    leaves = {joint for joint in spec.bone_map if _chain_child(joint, spec.bone_map) < 0}
    assert max(errors[j] for j in errors if j not in leaves) < 1e-3  # exact where a mapped child gives the direction
    assert max(errors[j] for j in leaves) < 1.0  # leaves follow their parent's alignment
    rest_gap = max(
        angles_deg(a, b).max()
        for a, b in zip(bone_directions(source, source.rest, same).values(),
                        bone_directions(target, target.rest, spec.bone_map).values(), strict=True)
    )
    if make_rig is not mixamo_rig:
        assert rest_gap > 25  # the rest poses really differ (A-pose, other facing)


def test_same_rest_directions_transfer_twist_too():
    """With rest directions alike (only rolls, proportions and object transform differ), each bone turns by
    exactly the source bone's world rotation, twist about the bone included."""
    source, spec = smpl_source(), mixamo_rig()
    target = spec.rest_armature()
    source_pose = random_source_pose(source, seed=1)
    motion = retarget(source, source_pose, target, spec.bone_map)
    src_rot, _ = world_pose(source, source_pose)
    tgt_rot, _ = world_pose(target, apply_motion(target, motion))
    src_rest, _ = world_pose(source, source.rest)
    tgt_rest, _ = world_pose(target, target.rest)
    for joint, bone in spec.bone_map.items():
        s, t = source.index(joint), target.index(bone)
        assert np.allclose(src_rot[:, s] @ src_rest[s].T, tgt_rot[:, t] @ tgt_rest[t].T, atol=1e-9)


def test_root_motion_scales_with_leg_length_and_turns_to_face_like_the_source():
    source, spec = smpl_source(), unreal_rig()
    target = spec.rest_armature()
    source_pose = random_source_pose(source, seed=2)
    motion = retarget(source, source_pose, target, spec.bone_map)
    assert motion.root_bone == "root"  # the pelvis is connected to it
    _, src_heads = world_pose(source, source_pose)
    _, tgt_heads = world_pose(target, apply_motion(target, motion))
    _, src_rest = world_pose(source, source.rest)
    _, tgt_rest = world_pose(target, target.rest)
    pelvis, hips = target.index("pelvis"), (target.index("thigh_l"), target.index("thigh_r"))
    legs = {j: tgt_rest[target.index(b)] for j, b in spec.bone_map.items()}
    ratio = leg_length(legs) / leg_length({j: src_rest[source.index(j)] for j in JOINT_NAMES})
    assert ratio == pytest.approx(1.15)
    assert np.allclose(tgt_heads[:, pelvis] - tgt_rest[pelvis], ratio * (src_heads[:, 0] - src_rest[0]), atol=1e-9)
    unscaled = apply_motion(target, retarget(source, source_pose, target, spec.bone_map, scale_root_motion=False))
    _, unscaled_heads = world_pose(target, unscaled)
    assert np.allclose(unscaled_heads[:, pelvis] - tgt_rest[pelvis], src_heads[:, 0] - src_rest[0], atol=1e-9)
    source_left = src_heads[:, 1] - src_heads[:, 2]
    target_left = tgt_heads[:, hips[0]] - tgt_heads[:, hips[1]]
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    assert angles_deg(unit(source_left), unit(target_left)).max() < 1e-3  # target rest faces +X, source -Y


def test_feet_on_ground_tracks_the_lowest_foot():
    source, spec = smpl_source(), unreal_rig()
    target = spec.rest_armature()
    source_pose = random_source_pose(source, seed=4)
    feet = ("L_Ankle", "R_Ankle", "L_Foot", "R_Foot")
    _, src_heads = world_pose(source, source_pose)
    _, src_rest = world_pose(source, source.rest)
    _, tgt_rest = world_pose(target, target.rest)
    src_feet = [source.index(j) for j in feet]
    tgt_feet = [target.index(spec.bone_map[j]) for j in feet]
    source_rise = src_heads[:, src_feet, 2].min(axis=1) - src_rest[src_feet, 2].min()

    def target_rise(grounded: bool) -> np.ndarray:
        motion = retarget(source, source_pose, target, spec.bone_map, feet_on_ground=grounded)
        _, heads = world_pose(target, apply_motion(target, motion))
        return heads[:, tgt_feet, 2].min(axis=1) - tgt_rest[tgt_feet, 2].min()

    ratio = leg_length({j: tgt_rest[target.index(b)] for j, b in spec.bone_map.items()}) / leg_length(
        {j: src_rest[source.index(j)] for j in JOINT_NAMES}
    )
    assert np.allclose(target_rise(True), ratio * source_rise, atol=1e-9)
    assert np.abs(target_rise(False) - ratio * source_rise).max() > 0.01  # other proportions: feet would float or sink


def test_retarget_rejects_maps_without_pelvis_or_with_shared_bones():
    source, spec = smpl_source(), mixamo_rig()
    target, pose = spec.rest_armature(), random_source_pose(smpl_source())
    without_pelvis = {j: b for j, b in spec.bone_map.items() if j != "Pelvis"}
    with pytest.raises(ValueError, match="Pelvis"):
        retarget(source, pose, target, without_pelvis)
    with pytest.raises(ValueError, match="more than one"):
        retarget(source, pose, target, {**spec.bone_map, "R_Knee": spec.bone_map["L_Knee"]})


@pytest.mark.parametrize(
    "names, preset",
    [
        (mixamo_rig().names, "mixamo"),
        ([n.replace("mixamorig:", "mixamorig7:") for n in mixamo_rig().names], "mixamo"),
        ([n.replace("mixamorig:", "") for n in mixamo_rig().names], "mixamo"),
        (rigify_rig().names, "rigify_deform"),
        (unreal_rig().names, "unreal"),
    ],
    ids=["mixamo", "mixamo-namespace", "mixamo-bare", "rigify-deform", "unreal"],
)
def test_detects_built_in_maps_from_bone_names(names, preset):
    found, bone_map = detect_bone_map(names)
    assert found.name == preset
    assert all(bone in names for bone in bone_map.values())
    assert set(REQUIRED_JOINTS) <= set(bone_map)


def test_detects_rigify_fk_controls_makehuman_and_unreal5():
    sides = ("L", "R")
    rigify = ["root", "torso", "hips", "chest", "neck", "head", "spine_fk", "spine_fk.001", "spine_fk.002",
              "spine_fk.003"] + [f"{b}.{s}" for s in sides for b in (
                  "shoulder", "upper_arm_fk", "forearm_fk", "hand_fk", "thigh_fk", "shin_fk", "foot_fk", "toe_fk",
                  "upper_arm_ik", "DEF-upper_arm", "DEF-forearm", "DEF-hand", "DEF-thigh", "DEF-shin", "DEF-foot")]
    rigify += ["DEF-spine", "DEF-spine.001", "DEF-spine.006"]
    preset, bone_map = detect_bone_map(rigify)
    assert preset.name == "rigify_fk" and bone_map["L_Shoulder"] == "upper_arm_fk.L" and bone_map["Pelvis"] == "torso"
    assert preset.switch_properties == {"IK_FK": 1.0}
    makehuman = ["root", "spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "neck02", "head"] + [
        f"{b}.{s}" for s in sides for b in ("clavicle", "shoulder01", "upperarm01", "upperarm02", "lowerarm01",
                                            "lowerarm02", "wrist", "pelvis", "upperleg01", "upperleg02",
                                            "lowerleg01", "lowerleg02", "foot")]
    preset, bone_map = detect_bone_map(makehuman)
    assert preset.name == "makehuman" and bone_map["L_Knee"] == "lowerleg01.L"
    unreal5 = unreal_rig().names + ["spine_04", "spine_05", "neck_02"]
    preset, bone_map = detect_bone_map(unreal5)
    assert preset.name == "unreal" and bone_map["Spine3"] == "spine_05"


def test_unmappable_rigs_get_the_missing_joints_listed():
    with pytest.raises(BoneMapError) as error:
        detect_bone_map(unmappable_rig().names, armature_name="'Robot'")
    assert "'Robot'" in str(error.value)
    assert all(joint in str(error.value) for joint in REQUIRED_JOINTS)
    legless = [b for j, b in MIXAMO_NAMES.items() if "Hip" not in j and "Knee" not in j]
    with pytest.raises(BoneMapError) as error:
        detect_bone_map(legless)
    message = str(error.value)
    assert "Mixamo" in message
    listed = message.split("no bone found for ")[1].split(" (")[0].split(", ")
    assert listed == ["L_Hip", "R_Hip", "L_Knee", "R_Knee"]


def test_check_bone_map_lists_every_problem():
    names = list(UNREAL_NAMES.values())
    check_bone_map(UNREAL_NAMES, names)
    broken = {**UNREAL_NAMES, "L_Wrist": "hand_left", "R_Knee": UNREAL_NAMES["L_Knee"]}
    del broken["Head"]
    with pytest.raises(BoneMapError) as error:
        check_bone_map(broken, names, "'UE'")
    message = str(error.value)
    assert "no bone chosen for Head" in message
    assert "L_Wrist -> hand_left" in message
    assert "calf_l (L_Knee, R_Knee)" in message or "calf_l (R_Knee, L_Knee)" in message


def test_presets_round_trip_and_bad_files_are_named(tmp_path):
    path = save_preset(tmp_path / "robot.json", {**MIXAMO_NAMES, "L_Hand": ""}, label="Robot")
    preset = load_preset(path)
    assert preset.label == "Robot" and "L_Hand" not in preset.bones
    assert {j: names[0] for j, names in preset.bones.items()} == MIXAMO_NAMES
    assert [p.name for p in builtin_presets()] == ["mixamo", "rigify_fk", "rigify_deform", "unreal", "makehuman"]
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(BoneMapError, match="broken.json"):
        load_preset(tmp_path / "broken.json")
    (tmp_path / "odd.json").write_text(json.dumps({"bones": {"Tail": "tail_01"}}))
    with pytest.raises(BoneMapError, match="Tail"):
        load_preset(tmp_path / "odd.json")


@pytest.mark.parametrize("feet_on_ground", [False, True])
def test_feet_planted_on_the_source_stay_planted_on_a_character_with_other_legs(feet_on_ground):
    source = smpl_source()
    rest = source.rest.copy()  # a character with 30 % longer shins: its feet go elsewhere than the scaled source's
    for knee, below in (("L_Knee", ("L_Ankle", "L_Foot")), ("R_Knee", ("R_Ankle", "R_Foot"))):
        shin = rest[source.index(below[0]), :3, 3] - rest[source.index(knee), :3, 3]
        for joint in below:
            rest[source.index(joint), :3, 3] += 0.3 * shin
    target = RestArmature(source.names, source.parents, rest, source.connected, source.matrix_world)
    bone_map = {joint: joint for joint in JOINT_NAMES}
    scene = walk((0.0, 0.0), 40)
    bone_rest = source.rest[[source.index(j) for j in JOINT_NAMES], :3, :3]
    quaternions, root_location = pose_bone_channels(scene.pose, scene.root - scene.rest[0], scene.rest, bone_rest,
                                                    to_blender=np.eye(3))
    locations = np.zeros(quaternions.shape[:2] + (3,))
    locations[:, 0] = root_location
    source_pose = pose_matrices(source, quaternion_to_matrix(quaternions), locations)
    ankles = [target.index(j) for j in ("L_Ankle", "R_Ankle")]

    def skate(contacts) -> float:
        motion = retarget(source, source_pose, target, bone_map, feet_on_ground=feet_on_ground,
                          contacts=contacts, fps=scene.fps)
        frames = len(scene.frame_ids)
        rotations = np.broadcast_to(np.eye(3), (frames, len(target.names), 3, 3)).copy()
        for m, name in enumerate(motion.bones):
            rotations[:, target.index(name)] = quaternion_to_matrix(motion.quaternions[:, m])
        moves = np.zeros((frames, len(target.names), 3))
        moves[:, target.index(motion.root_bone)] = motion.root_location
        _, heads = world_pose(target, pose_matrices(target, rotations, moves))
        steps = np.linalg.norm(np.diff(heads[:, ankles], axis=0), axis=-1)
        return float(steps[scene.contacts[1:] & scene.contacts[:-1]].mean() * 1000)

    locked = skate(scene.contacts)
    assert skate(None) > 1.0 > 5 * locked  # mm per frame: direction matching alone slides the longer legs' feet
