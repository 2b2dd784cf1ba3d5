"""Pose metrics on constructed cases whose values are known by hand or by an independent optimiser."""

import numpy as np
import pytest
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from backend.metrics import (
    COMMON_SMPL_JOINTS,
    accel_error,
    center_on_hips,
    common_joints,
    mpjpe,
    pa_mpjpe,
    pve,
    similarity_align,
)
from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.skeleton import JOINT_NAMES

# VIBE's 49 joints begin with the 25 OpenPose-order joints; these are the ones that are SMPL joints (by name).
OPENPOSE_SMPL = {1: "Neck", 2: "R_Shoulder", 3: "R_Elbow", 4: "R_Wrist", 5: "L_Shoulder", 6: "L_Elbow",
                 7: "L_Wrist", 8: "Pelvis", 9: "R_Hip", 10: "R_Knee", 11: "R_Ankle", 12: "L_Hip", 13: "L_Knee",
                 14: "L_Ankle"}


def skeleton_frames(n: int = 5, seed: int = 0) -> np.ndarray:
    """n frames of the default 24-joint skeleton, each jittered so the frames differ."""
    rng = np.random.default_rng(seed)
    return default_rest_joints()[None] + rng.normal(scale=0.05, size=(n, 24, 3))


def test_mpjpe_of_a_known_offset():
    true = skeleton_frames()
    pred = true + np.array([0.03, 0.04, 0.0])  # a 3-4-5 triangle: 50 mm at every joint
    np.testing.assert_allclose(mpjpe(pred, true), 50.0)
    pred = true.copy()
    pred[:, 3] += [0.0, 0.0, 0.24]  # one joint of 24 off by 240 mm
    np.testing.assert_allclose(mpjpe(pred, true), 10.0)


def test_pa_mpjpe_is_zero_under_a_similarity_transform():
    true = skeleton_frames()
    rotations = Rotation.random(len(true), random_state=1).as_matrix()
    pred = 1.7 * np.einsum("nij,nkj->nki", rotations, true) + np.array([0.5, -2.0, 4.0])
    assert mpjpe(pred, true).min() > 100.0
    np.testing.assert_allclose(pa_mpjpe(pred, true), 0.0, atol=1e-9)
    np.testing.assert_allclose(similarity_align(pred, true), true, atol=1e-12)


def test_pa_mpjpe_matches_an_independent_least_squares_fit():
    true = skeleton_frames(n=3, seed=2)
    pred = true + np.random.default_rng(3).normal(scale=0.03, size=true.shape)

    def residuals(params, p, t):  # rotation vector, log scale, translation
        r = Rotation.from_rotvec(params[:3]).as_matrix()
        return (np.exp(params[3]) * p @ r.T + params[4:] - t).ravel()

    for p, t, aligned in zip(pred, true, similarity_align(pred, true), strict=True):
        best = least_squares(residuals, np.zeros(7), args=(p, t), xtol=1e-14, ftol=1e-14, gtol=1e-14)
        np.testing.assert_allclose(aligned, p @ Rotation.from_rotvec(best.x[:3]).as_matrix().T * np.exp(best.x[3])
                                   + best.x[4:], atol=1e-7)


def test_pa_mpjpe_does_not_undo_a_mirror_image():
    true = skeleton_frames(n=2)
    mirrored = true * np.array([-1.0, 1.0, 1.0])  # left and right swapped: no rotation maps it back
    assert pa_mpjpe(mirrored, true).min() > 5.0


def test_accel_error_of_constant_acceleration_trajectories():
    frames = np.arange(10.0)[:, None, None]
    a_true, a_pred = np.array([0.002, 0.0, 0.0]), np.array([0.0, 0.0015, 0.0])  # m/frame^2
    true = np.zeros((10, 2, 3)) + 0.5 * a_true * frames**2
    pred = np.ones((10, 2, 3)) + 0.5 * a_pred * frames**2 + 0.01 * frames  # offsets and velocity do not matter
    np.testing.assert_allclose(accel_error(pred, true), 2.5, atol=1e-9)  # |(0.002, -0.0015, 0)| = 2.5 mm/frame^2
    np.testing.assert_allclose(accel_error(true, true), 0.0, atol=1e-12)


def test_accel_error_drops_triples_that_touch_an_invalid_frame():
    true = np.zeros((8, 1, 3))
    pred = true.copy()
    pred[4, 0, 0] = 0.001  # a 1 mm spike at frame 4: second differences -2 mm at 4, +1 mm at 3 and 5
    np.testing.assert_allclose(accel_error(pred, true), [0, 0, 1, 2, 1, 0])
    valid = np.ones(8, dtype=bool)
    valid[4] = False
    np.testing.assert_allclose(accel_error(pred, true, valid), [0, 0, 0])
    with pytest.raises(ValueError, match="one entry per frame"):
        accel_error(pred, true, valid[:5])


def test_pve_is_the_mean_vertex_distance():
    true = np.zeros((2, 4, 3))
    pred = true.copy()
    pred[:, 0] = [0.0, 0.0, 0.2]  # one vertex of four off by 200 mm
    np.testing.assert_allclose(pve(pred, true), [50.0, 50.0])


def test_common_joints_pick_the_same_smpl_joints_from_24_and_49_joint_outputs():
    smpl = skeleton_frames(n=2)
    vibe49 = np.full((2, 49, 3), np.nan)
    for op_index, name in OPENPOSE_SMPL.items():
        vibe49[:, op_index] = smpl[:, JOINT_NAMES.index(name)]
    np.testing.assert_array_equal(common_joints(vibe49), common_joints(smpl))
    assert [JOINT_NAMES[j] for j in COMMON_SMPL_JOINTS] == [
        "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
        "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist"]
    with pytest.raises(ValueError, match="joints3d"):
        common_joints(np.zeros((2, 17, 3)))


def test_center_on_hips_puts_the_hip_midpoint_at_the_origin():
    joints = common_joints(skeleton_frames(n=3))
    centered = center_on_hips(joints)
    np.testing.assert_allclose(centered[:, [1, 2]].mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(centered[:, 5] - centered[:, 0], joints[:, 5] - joints[:, 0])


def test_mismatched_shapes_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="same frames and joints"):
        mpjpe(np.zeros((3, 14, 3)), np.zeros((4, 14, 3)))
