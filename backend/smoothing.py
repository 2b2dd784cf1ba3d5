"""Temporal smoothing of SMPL motion, done on rotations.

The official demo runs a One-Euro filter on each raw axis-angle number, which glitches where an axis-angle wraps at
pi (the vector jumps from angle ~pi to ~-pi along the flipped axis). Here every joint rotation becomes a quaternion,
signs are made continuous in time, the four components are filtered with a zero-phase Gaussian and renormalised
(a good approximation of rotation averaging for nearby rotations), and converted back. Translations get the same
filter. Gaps in `frame_ids` split the motion into runs that are filtered separately.
"""

import numpy as np
from scipy.ndimage import gaussian_filter1d

from smpl_rig.rotations import axis_angle_to_quaternion, make_quaternions_continuous, quaternion_to_axis_angle
from smpl_rig.timeline import contiguous_runs


def _gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_filter1d(values, sigma=sigma, axis=0, mode="nearest")


def smooth_pose(pose: np.ndarray, frame_ids: np.ndarray, strength: float) -> np.ndarray:
    """Smooth (N, 72) axis-angle poses; `strength` is the Gaussian sigma in frames (0 = unchanged)."""
    if strength <= 0:
        return pose
    out = np.array(pose, dtype=np.float64)
    for run in contiguous_runs(frame_ids):
        quats = make_quaternions_continuous(axis_angle_to_quaternion(out[run].reshape(-1, 24, 3)))
        filtered = _gaussian(quats, strength)
        filtered /= np.linalg.norm(filtered, axis=-1, keepdims=True)
        out[run] = quaternion_to_axis_angle(filtered).reshape(-1, 72)
    return out


def smooth_vectors(values: np.ndarray, frame_ids: np.ndarray, strength: float) -> np.ndarray:
    """Smooth per-frame vectors (N, ...) such as translations with the same filter."""
    if strength <= 0:
        return values
    out = np.array(values, dtype=np.float64)
    for run in contiguous_runs(frame_ids):
        out[run] = _gaussian(out[run], strength)
    return out
