"""The camera's rotation from the background: pans, tilts and rolls with a person walking through, a still camera,
frames without texture, and a camera that moves instead of turning."""

import logging

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from backend.camera_motion import CameraRotations, CameraRotationTracker
from smpl_rig.motion import Motion, load_motion, save_motion
from tests.camera_scenes import moving_camera, turning_camera, yaw_pitch_roll

DETECT_EVERY = 4  # as the pipeline's built-in detector: boxes on every 4th frame only


def track(frames: np.ndarray, boxes: np.ndarray | None = None) -> CameraRotations:
    tracker = CameraRotationTracker(frames.shape[2], frames.shape[1])
    for i, rgb in enumerate(frames):
        tracker.add(100 + i, rgb, boxes[i][None] if boxes is not None and i % DETECT_EVERY == 0 else None)
    return tracker.result()


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees of the rotation that takes a to b, per frame."""
    return np.degrees(Rotation.from_matrix(np.swapaxes(a, -1, -2) @ b).magnitude())


def pan(num_frames: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, num_frames)
    return yaw_pitch_roll(18 * np.sin(2 * np.pi * t), 4 * np.sin(np.pi * t), 2 * t)


def blank(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """Grey frames with sensor noise (a covered lens, a white wall), the same shape."""
    return np.random.default_rng(seed).normal(128, 2, frames.shape).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("contrast", [1.0, 0.08])  # 0.08: a dim, flat scene (as flat-shaded renders)
def test_pan_tilt_and_roll_with_a_walker_are_recovered_per_frame(contrast):
    truth = pan(48)
    frames, boxes = turning_camera(truth, person_height=160)
    frames[:] = (128 + contrast * (frames - 128.0) + np.random.default_rng(1).normal(0, 1, frames.shape)).clip(0, 255)
    out = track(frames, boxes)
    assert list(out.frame_ids) == list(range(100, 148)) and out.measured.all()
    error = angle_between(out.rotations, truth)
    assert error.max() < 0.2, error  # 0.03 degrees here; the camera turns 18 degrees
    assert not out.moving.any()


def test_a_still_camera_stays_still_while_a_person_walks_through():
    frames, boxes = turning_camera(np.repeat(np.eye(3)[None], 60, axis=0), person_height=200)
    out = track(frames, boxes)
    assert out.measured.all() and not out.moving.any()
    assert angle_between(out.rotations, np.eye(3)).max() < 0.01


def test_frames_without_texture_are_interpolated_and_logged(caplog):
    truth = yaw_pitch_roll(np.linspace(0.0, 20.0, 40), np.linspace(0.0, -5.0, 40), np.zeros(40))  # steady
    frames, _ = turning_camera(truth)
    frames[12:15] = blank(frames[12:15])
    with caplog.at_level(logging.INFO, logger="backend.camera_motion"):
        out = track(frames)
    assert list(np.flatnonzero(~out.measured)) == [12, 13, 14]
    assert angle_between(out.rotations, truth).max() < 0.1  # slerped across a steady pan
    assert "too little background texture on frames 112-114" in caplog.text


def test_a_long_gap_restarts_tracking_from_the_last_rotation(caplog):
    truth = pan(40)
    frames, _ = turning_camera(truth)
    frames[10:20] = blank(frames[10:20])
    with caplog.at_level(logging.INFO, logger="backend.camera_motion"):
        out = track(frames)
    assert "tracking restarted from the last rotation at frames 120" in caplog.text
    # The turn during the gap is lost, but the motion before and after it is measured
    assert angle_between(out.rotations[:10], truth[:10]).max() < 0.2
    after = np.swapaxes(out.rotations[20], 0, 1) @ out.rotations[20:]
    assert angle_between(after, np.swapaxes(truth[20], 0, 1) @ truth[20:]).max() < 0.2


def test_a_moving_camera_is_reported(caplog):
    frames = moving_camera(np.c_[np.linspace(0.0, 0.4, 30), np.zeros(30), np.zeros(30)])
    with caplog.at_level(logging.INFO, logger="backend.camera_motion"):
        out = track(frames)
    assert out.moving.mean() > 0.8
    assert "the camera seems to move, not only turn" in caplog.text


def test_the_motion_file_keeps_the_camera_rotations(tmp_path):
    rotations = yaw_pitch_roll(np.arange(5.0), np.zeros(5), np.zeros(5))
    motion = Motion(fps=30, width=4, height=4, estimator="default", camera_frame_ids=np.arange(3, 8),
                    camera_rotations=rotations)
    loaded = load_motion(save_motion(motion, tmp_path / "m.npz"))
    assert list(loaded.camera_frame_ids) == [3, 4, 5, 6, 7] and np.allclose(loaded.camera_rotations, rotations)
    assert load_motion(save_motion(Motion(fps=30, width=4, height=4, estimator="x"), tmp_path / "n.npz")
                       ).camera_rotations is None


def test_rotation_errors_measure_the_pan_after_aligning_the_start():
    from bench.camera_rotation import rotation_errors

    level = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # looking along +y, z up
    truth = level @ yaw_pitch_roll(np.linspace(0.0, 30.0, 7), np.full(7, -10.0), np.zeros(7))  # pan, tilted down
    exact = np.swapaxes(truth[:1], 1, 2) @ truth
    assert np.allclose(rotation_errors(exact, truth).angle, 0.0, atol=1e-6)
    late = exact @ yaw_pitch_roll(np.full(7, 3.0), np.zeros(7), np.zeros(7))  # 3 degrees more pan in every frame
    errors = rotation_errors(late, truth)
    assert np.allclose(errors.angle, 3.0) and np.allclose(errors.yaw, 3.0, atol=0.1)
