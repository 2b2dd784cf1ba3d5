"""Pose-bone channels reproduce SMPL forward kinematics under Blender's bone evaluation (numpy, no bpy)."""

import numpy as np
import pytest

from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.fk import forward_kinematics
from smpl_rig.rig_pose import (
    LEAF_BONE_LENGTH,
    TAIL_CHILD,
    blender_joint_positions,
    blender_rest_joints,
    bone_rest_rotations,
    bone_tails,
    fit_bone_lengths,
    pose_bone_channels,
    visibility_keys,
)
from smpl_rig.rotations import axis_angle_to_matrix, quaternion_to_matrix
from smpl_rig.skeleton import JOINT_NAMES, PARENTS
from smpl_rig.smpl_model import SmplModel
from tests.synthetic import make_smpl_arrays


def blender_pose_heads(quaternions, root_location, heads, rest_rotations):
    """Blender's pose evaluation, written out: P_b = P_p M_p^-1 M_b B_b, P_root = M_root B_root; returns heads."""
    n = len(quaternions)
    rest = np.tile(np.eye(4), (24, 1, 1))
    rest[:, :3, :3], rest[:, :3, 3] = rest_rotations, heads
    basis = np.tile(np.eye(4), (n, 24, 1, 1))
    basis[:, :, :3, :3] = quaternion_to_matrix(quaternions)
    basis[:, 0, :3, 3] = root_location
    posed = np.empty_like(basis)
    posed[:, 0] = rest[0] @ basis[:, 0]
    for j in range(1, 24):
        p = PARENTS[j]
        posed[:, j] = posed[:, p] @ np.linalg.inv(rest[p]) @ rest[j] @ basis[:, j]
    return posed[:, :, :3, 3]


def random_rotations(rng, n):
    return axis_angle_to_matrix(rng.normal(size=(n, 3)))


def synthetic_model():
    arrays = make_smpl_arrays()
    return SmplModel(
        v_template=arrays["v_template"], shapedirs=arrays["shapedirs"], posedirs=arrays["posedirs"],
        j_regressor=np.asarray(arrays["J_regressor"].todense()), weights=arrays["weights"], parents=PARENTS,
        faces=arrays["f"].astype(np.int64),
    )


@pytest.mark.parametrize("rest_frames", ["armature", "arbitrary"])
def test_keyed_channels_reproduce_smpl_fk_for_random_poses_and_shapes(rest_frames):
    rng = np.random.default_rng(3)
    n = 40
    rest_joints = synthetic_model().rest_joints(rng.normal(size=10))
    pose = rng.uniform(-np.pi, np.pi, size=(n, 72))
    trans = rng.normal(size=(n, 3)) + [0.0, 0.0, 6.0]
    heads = blender_rest_joints(rest_joints)
    if rest_frames == "armature":
        rest = bone_rest_rotations(heads, bone_tails(heads))
    else:  # any rest orientation must work: the channels are relative to it
        rest = random_rotations(rng, 24)
    quaternions, root_location = pose_bone_channels(pose, trans, rest_joints, rest)
    got = blender_pose_heads(quaternions, root_location, heads, rest)
    assert np.allclose(got, blender_joint_positions(pose, trans, rest_joints), atol=1e-9)


def test_upright_person_facing_the_camera_is_the_rest_pose_standing_on_z_facing_minus_y():
    rest_joints = default_rest_joints()
    pose = np.zeros((1, 72))
    pose[0, :3] = [np.pi, 0.0, 0.0]  # VIBE's root for an upright person facing the camera
    trans = np.array([[0.3, 0.1, 4.0]])  # in front of the camera, slightly right and below the image centre
    heads = blender_rest_joints(rest_joints)
    rest = bone_rest_rotations(heads, bone_tails(heads))
    quaternions, root_location = pose_bone_channels(pose, trans, rest_joints, rest)
    assert np.allclose(np.abs(quaternions[0, :, 0]), 1.0)  # every bone at rest: the rest pose is that person
    joints = dict(zip(JOINT_NAMES, blender_joint_positions(pose, trans, rest_joints)[0], strict=True))
    assert joints["Head"][2] > joints["Pelvis"][2] > joints["L_Ankle"][2]  # upright on z
    assert joints["Pelvis"][1] == pytest.approx(4.0)  # 4 m in front of the camera, which looks along +Y
    assert joints["L_Foot"][1] < joints["L_Ankle"][1]  # toes point at the camera
    assert joints["L_Shoulder"][0] > joints["R_Shoulder"][0]  # facing us, the left side is on the image's right
    assert np.allclose(heads + root_location[0] @ rest[0].T, list(joints.values()))


def test_quaternions_stay_in_one_hemisphere_through_half_turns():
    n = 60
    pose = np.zeros((n, 72))
    angles = np.linspace(0.0, 4 * np.pi, n)
    pose[:, :3] = angles[:, None] * np.array([0.0, 1.0, 0.0])  # root spins twice about the camera's y axis
    pose[:, 3 * 16 + 2] = np.linspace(-3.0, 3.0, n) * 1.1  # left shoulder swings past +-pi
    rest_joints = default_rest_joints()
    heads = blender_rest_joints(rest_joints)
    rest = bone_rest_rotations(heads, bone_tails(heads))
    quaternions, _ = pose_bone_channels(pose, np.zeros((n, 3)), rest_joints, rest)
    dots = np.sum(quaternions[1:] * quaternions[:-1], axis=-1)
    assert dots.min() > 0.9


def test_bones_point_at_their_child_and_leaves_continue_their_parent():
    heads = blender_rest_joints(default_rest_joints())
    tails = bone_tails(heads)
    rest = bone_rest_rotations(heads, tails)
    for j, child in enumerate(TAIL_CHILD):
        if child >= 0:
            assert np.allclose(tails[j], heads[child])
        else:
            along_parent = (heads[j] - heads[PARENTS[j]]) / np.linalg.norm(heads[j] - heads[PARENTS[j]])
            assert np.allclose(tails[j], heads[j] + LEAF_BONE_LENGTH * along_parent)
    assert [JOINT_NAMES[c] for c in TAIL_CHILD[[0, 9]]] == ["Spine1", "Neck"]
    assert np.allclose(rest @ np.swapaxes(rest, -1, -2), np.eye(3))
    assert np.allclose(np.linalg.det(rest), 1.0)
    directions = (tails - heads) / np.linalg.norm(tails - heads, axis=-1, keepdims=True)
    assert np.allclose(rest[:, :, 1], directions)


def test_bone_lengths_fitted_from_measured_joints_keep_directions():
    rng = np.random.default_rng(5)
    template = default_rest_joints()
    subject = fit_bone_lengths(template, forward_kinematics(np.zeros((1, 72)), template * 1.15)[0])
    assert np.allclose(subject, template * 1.15)
    pose = rng.normal(scale=0.5, size=(30, 72))
    joints3d, _ = forward_kinematics(pose, subject, rng.normal(size=(30, 3)))
    joints3d[::4, 7] = np.nan  # a partly missing joint: the other frames still measure it
    joints3d[:, 15] = joints3d[:, 12]  # the head collapsed onto the neck: keep the template's length
    fitted = fit_bone_lengths(template, joints3d)
    assert np.allclose(fitted[7], subject[7])
    assert np.allclose(np.linalg.norm(fitted[15] - fitted[12]), np.linalg.norm(template[15] - template[12]))
    offsets = fitted[1:] - fitted[PARENTS[1:]]
    template_offsets = template[1:] - template[PARENTS[1:]]
    cosines = np.sum(offsets * template_offsets, -1) / np.linalg.norm(offsets, axis=-1)
    assert np.allclose(cosines, np.linalg.norm(template_offsets, axis=-1))


def test_visibility_keys_show_a_person_only_where_tracked():
    frames, hidden = visibility_keys(np.array([3, 4, 5, 9, 10]), 1, 12)
    assert frames.tolist() == [1, 3, 6, 9, 11]
    assert hidden.tolist() == [1, 0, 1, 0, 1]
    frames, hidden = visibility_keys(np.array([1, 2, 3]), 1, 5)
    assert frames.tolist() == [1, 4] and hidden.tolist() == [0, 1]
    assert len(visibility_keys(np.arange(1, 6), 1, 5)[0]) == 0
