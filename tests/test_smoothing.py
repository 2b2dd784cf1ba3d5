import numpy as np

from backend.smoothing import smooth_pose, smooth_vectors
from smpl_rig.fk import forward_kinematics
from smpl_rig.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from smpl_rig.timeline import contiguous_runs
from tests.synthetic import make_smpl_arrays


def _accel_error_mm(pred: np.ndarray, true: np.ndarray) -> float:
    accel = lambda x: x[:-2] - 2 * x[1:-1] + x[2:]  # noqa: E731
    return 1000 * float(np.linalg.norm(accel(pred) - accel(true), axis=-1).mean())


def _known_motion(n=120):
    t = np.arange(n) / 30.0
    pose = np.zeros((n, 72))
    pose[:, 0] = np.pi  # upright in the camera frame
    pose[:, 3 * 16 + 2] = 0.8 * np.sin(2 * np.pi * 0.5 * t)  # left shoulder swings
    pose[:, 3 * 4] = 0.6 + 0.5 * np.sin(2 * np.pi * 0.7 * t)  # left knee bends
    pose[:, 3 * 15 + 1] = 0.3 * np.sin(2 * np.pi * 0.3 * t)  # head turns
    return pose


def test_smoothing_lowers_acceleration_error_of_jittered_motion():
    rest = np.asarray(make_smpl_arrays()["J"])
    pose = _known_motion()
    rng = np.random.default_rng(0)
    jittered = pose + rng.normal(scale=0.05, size=pose.shape)
    frames = np.arange(len(pose))
    true_joints, _ = forward_kinematics(pose, rest)
    raw_err = _accel_error_mm(forward_kinematics(jittered, rest)[0], true_joints)
    errors = [_accel_error_mm(forward_kinematics(smooth_pose(jittered, frames, s), rest)[0], true_joints)
              for s in (1.0, 2.0, 4.0)]
    assert errors[0] < raw_err / 2 and errors[1] < errors[0] and errors[2] < errors[1]


def test_no_glitch_where_axis_angle_wraps_at_pi():
    n = 60
    true = axis_angle_to_matrix(np.outer(np.linspace(np.pi - 0.3, np.pi + 0.3, n), [1.0, 0, 0]))
    pose = np.zeros((n, 72))
    pose[:, :3] = matrix_to_axis_angle(true)  # the stored numbers jump from +pi to -pi mid-way
    assert np.abs(np.diff(pose[:, 0])).max() > 6

    def worst_error_deg(root_aa):
        got = axis_angle_to_matrix(root_aa)
        cos = (np.trace(np.swapaxes(got, 1, 2) @ true, axis1=1, axis2=2) - 1) / 2
        return np.degrees(np.arccos(np.clip(cos, -1, 1))).max()

    assert worst_error_deg(smooth_pose(pose, np.arange(n), 2.0)[:, :3]) < 0.5
    assert worst_error_deg(smooth_vectors(pose[:, :3], np.arange(n), 2.0)) > 90  # per-number filtering glitches


def test_zero_strength_is_identity_and_gaps_split_runs():
    pose = np.random.default_rng(1).normal(size=(10, 72))
    frames = np.array([0, 1, 2, 3, 10, 11, 12, 20, 21, 22])
    assert smooth_pose(pose, frames, 0) is pose
    assert [(r.start, r.stop) for r in contiguous_runs(frames)] == [(0, 4), (4, 7), (7, 10)]
    trans = np.concatenate([np.zeros((4, 3)), np.ones((3, 3)), 2 * np.ones((3, 3))])
    assert np.allclose(smooth_vectors(trans, frames, 3.0), trans)  # no blending across gaps
