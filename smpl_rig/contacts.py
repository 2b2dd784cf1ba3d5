"""Foot contact: which foot touches the floor on which frame (numpy).

A foot's contact point is the lowest point of its sole: below the ankle for a flat foot or a heel strike, below the
ball of the foot (SMPL's Foot joint) when the heel is raised. A foot is planted when that point is on the floor and
the ankle does not move along it (the ankle, not the sole point: on a flat foot the lowest point flips between heel
and ball).
"""

import numpy as np

from .timeline import clean_flags, smooth, step_velocities

ANKLES = (7, 8)  # L_Ankle, R_Ankle
BALLS = (10, 11)  # L_Foot, R_Foot: the ball of the foot, at the base of the toes
BALL_HEIGHT = 0.025  # metres: SMPL's Foot joint above the sole
LOWER_FOOT_MARGIN = 0.03  # metres: both feet count as the lower one when their heights differ less
PLANTED_HEIGHT = 0.15  # metres: a planted sole is at most this far from the floor (estimated feet are often 10 cm off)
PLANTED_SPEED = 0.5  # metres per second: and its ankle moves slower than this (a swing foot moves ~3 m/s)...
SLOWER_FOOT_SPEED = 1.6  # ...or it is the slower foot and slower than this: estimated strides fall short, so a
# walker's estimated stance foot creeps forward at a fraction of the walking speed
MIN_CONTACT_SECONDS = 0.08  # shorter contacts are noise
MAX_GAP_SECONDS = 0.07  # shorter breaks in a contact are noise


def ankle_height(rest_joints: np.ndarray) -> float:
    """The ankle joint's height above a flat foot's sole: its drop to the ball of the foot in the rest pose (SMPL's
    canonical frame is y up, feet flat) plus the ball's own height."""
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    return float(np.mean(rest_joints[list(ANKLES), 1] - rest_joints[list(BALLS), 1])) + BALL_HEIGHT


def sole_points(joints: np.ndarray, up: np.ndarray, ankle_above_sole: float) -> np.ndarray:
    """Each foot's lowest sole point (..., 2, 3) along `up` (3,), from joints (..., 24, 3)."""
    joints = np.asarray(joints, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    heel = joints[..., ANKLES, :] - ankle_above_sole * up
    ball = joints[..., BALLS, :] - BALL_HEIGHT * up
    return np.where((heel @ up <= ball @ up)[..., None], heel, ball)


def lower_feet(soles: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(N, 2) bool: the foot whose sole is lower along `up`, or both when they are level (standing)."""
    heights = np.asarray(soles) @ np.asarray(up)
    return heights <= heights.min(axis=1, keepdims=True) + LOWER_FOOT_MARGIN


def planted_feet(joints_world: np.ndarray, ankle_above_sole: float, frame_ids: np.ndarray, fps: float,
                 seen_ankles: np.ndarray | None = None) -> np.ndarray:
    """(N, 2) bool contact flags from world joints (N, 24, 3) (floor z = 0, z up): the lower foot (or both, level),
    near the floor, its ankle still; brief flickers removed.

    seen_ankles: (N, 2, 3) where the rays through the ankles' pixels meet the floor (at a flat foot's ankle height):
    a planted foot's stays put whatever the estimated depth does (a far person's wobbles with the gait), while the
    estimated body's is steadier where the pixels are noisy; a foot is as still as the stiller of the two says.
    """
    up = np.array([0.0, 0.0, 1.0])
    soles = sole_points(joints_world, up, ankle_above_sole)
    speed = _speed(joints_world[:, list(ANKLES)], frame_ids, fps)
    if seen_ankles is not None:
        speed = np.minimum(speed, _speed(seen_ankles, frame_ids, fps))
    slower = speed <= speed.min(axis=1, keepdims=True)
    still = (lower_feet(soles, up) & (speed < PLANTED_SPEED)) | (slower & (speed < SLOWER_FOOT_SPEED))
    raw = (np.abs(soles[..., 2]) < PLANTED_HEIGHT) & still
    return clean_flags(raw, frame_ids, max(2, round(MIN_CONTACT_SECONDS * fps)), round(MAX_GAP_SECONDS * fps))


def _speed(points: np.ndarray, frame_ids: np.ndarray, fps: float) -> np.ndarray:
    """(N, K) speeds in metres per second of points (N, K, 3), lightly smoothed (`step_velocities`)."""
    return np.linalg.norm(step_velocities(smooth(points, frame_ids, sigma=1.0), frame_ids, fps), axis=-1)
