"""Foot locking: a planted foot stays where it was put down (numpy; run by the backend and inside Blender alike).

Per foot, every contact (a run of planted frames) gets one anchor: the ankle's mean position over the contact, at a
flat foot's ankle height above the floor (z = 0). On planted frames the ankle's target is its anchor;
the offset to it fades out over BLEND_SECONDS before and after the contact, so nothing pops where a contact starts
or ends. The root moves only where an anchor is out of the leg's reach (a small correction, smoothed in time); then
two-bone IK on hip and knee puts each ankle on its target and keeps the ankle's world orientation, so the foot does
not swing with the shin. Frames are in the world frame: floor z = 0, z up.
"""

import numpy as np

from .contacts import ankle_height
from .fk import forward_kinematics
from .rotations import axis_angle_to_matrix, matrix_to_axis_angle
from .skeleton import NUM_JOINTS
from .timeline import contiguous_runs, runs_of, smooth

LEGS = ((1, 4, 7), (2, 5, 8))  # (hip, knee, ankle) of the left and the right leg
BLEND_SECONDS = 0.2  # how long an anchor's pull fades in before a contact and out after it
REACH = 0.998  # an ankle target is moved within this share of the leg's full length from the hip
_UP = np.array([0.0, 0.0, 1.0])


def lock_feet(pose: np.ndarray, root: np.ndarray, rest_joints: np.ndarray, contacts: np.ndarray,
              frame_ids: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Pose (N, 72) and pelvis positions (N, 3) with planted feet locked, for the skeleton `rest_joints` (24, 3).

    pose: SMPL axis-angle with the root orientation in the world frame; root: pelvis joint positions in the world;
    contacts: (N, 2) bool, left and right foot planted.
    """
    pose = np.asarray(pose, dtype=np.float64)
    root = np.asarray(root, dtype=np.float64)
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    if not np.any(contacts):
        return pose.copy(), root.copy()
    local = axis_angle_to_matrix(pose.reshape(len(pose), NUM_JOINTS, 3))
    positions, world = forward_kinematics(local, rest_joints, root - rest_joints[0])
    hips, knees, ankles = (np.stack([positions[:, leg[k]] for leg in LEGS], axis=1) for k in range(3))
    flat_soles = ankles[..., 2] - ankle_height(rest_joints)  # a planted foot stands flat
    shift, thigh_turns, shin_turns = leg_corrections(
        hips, knees, ankles, flat_soles, contacts,
        frame_ids, fps, np.array([_leg_length(rest_joints, leg) for leg in LEGS]),
        np.stack([-world[:, hip, :, 0] for hip, _, _ in LEGS], axis=1))
    for side, (hip, knee, ankle) in enumerate(LEGS):
        thigh, shin = thigh_turns[:, side] @ world[:, hip], shin_turns[:, side] @ world[:, knee]
        local[:, hip] = np.swapaxes(world[:, 0], -1, -2) @ thigh
        local[:, knee] = np.swapaxes(thigh, -1, -2) @ shin
        local[:, ankle] = np.swapaxes(shin, -1, -2) @ world[:, ankle]
    return matrix_to_axis_angle(local).reshape(len(pose), -1), root + shift


def leg_corrections(hips: np.ndarray, knees: np.ndarray, ankles: np.ndarray, sole_heights: np.ndarray,
                    contacts: np.ndarray, frame_ids: np.ndarray, fps: float, leg_lengths: np.ndarray,
                    bend_axes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What locks the planted feet of any two-legged skeleton (the SMPL armature, a retargeted character).

    hips, knees, ankles: (N, 2, 3) world joint positions of the left and right leg; sole_heights: (N, 2) each sole
    above the floor (zeros keep the ankles' own height); leg_lengths: (2,) thigh plus shin; bend_axes: (N, 2, 3)
    the knees' flexion axes (see `two_bone_ik`). Returns the root's shift (N, 3), and per leg the world rotations
    (N, 2, 3, 3) to apply to the thigh (about the hip, after the shift) and to the shin (about the knee); the
    ankles keep their world orientation.
    """
    contacts = np.asarray(contacts, dtype=bool)
    targets = ankle_targets(ankles, sole_heights, contacts, frame_ids, fps)
    reach = REACH * np.asarray(leg_lengths, dtype=np.float64)
    shift = np.zeros((len(hips), 3))
    for _ in range(2):  # the smoothed correction can fall a little short: a second pass takes the rest
        shift += smooth(_out_of_reach(hips + shift[:, None], targets, reach), frame_ids,
                        sigma=BLEND_SECONDS * fps / 3)
    turns = [two_bone_ik(hips[:, side] + shift, knees[:, side] + shift, ankles[:, side] + shift, targets[:, side],
                         bend_axes[:, side]) for side in range(2)]
    return shift, np.stack([t[0] for t in turns], axis=1), np.stack([t[1] for t in turns], axis=1)


def ankle_targets(ankles: np.ndarray, sole_heights: np.ndarray, contacts: np.ndarray, frame_ids: np.ndarray,
                  fps: float) -> np.ndarray:
    """Where each ankle (N, 2, 3) should be: on its contact's anchor while planted, easing to its own position
    within BLEND_SECONDS of a contact. sole_heights (N, 2): each foot's sole above the floor."""
    ankles = np.asarray(ankles, dtype=np.float64)
    offsets = np.zeros_like(ankles)
    blend = max(BLEND_SECONDS * fps, 1.0)
    for part in contiguous_runs(frame_ids):
        for foot in range(2):
            offsets[part, foot] = _foot_offsets(ankles[part, foot], sole_heights[part, foot], contacts[part, foot],
                                                blend)
    return ankles + offsets


def _foot_offsets(ankle: np.ndarray, sole_height: np.ndarray, planted: np.ndarray, blend: float) -> np.ndarray:
    """Offsets (N, 3) from one foot's ankle to its target over a run of consecutive frames."""
    offsets = np.zeros_like(ankle)
    contacts = runs_of(planted)
    if not contacts:
        return offsets
    for start, stop in contacts:
        anchor = ankle[start:stop].mean(axis=0) - np.median(sole_height[start:stop]) * _UP
        offsets[start:stop] = anchor - ankle[start:stop]
    frames = np.arange(len(ankle))
    starts = np.array([start for start, _ in contacts])
    stops = np.array([stop for _, stop in contacts])
    free = ~planted
    t = frames[free]
    before = np.searchsorted(stops, t, side="right") - 1  # the contact that ended last before t
    after = np.searchsorted(starts, t, side="right")  # the next contact to start after t
    has_before, has_after = before >= 0, after < len(starts)
    last_offset = offsets[stops[np.maximum(before, 0)] - 1]
    next_offset = offsets[starts[np.minimum(after, len(starts) - 1)]]
    w_before = np.where(has_before, _ease(1.0 - (t - stops[np.maximum(before, 0)] + 1) / blend), 0.0)
    w_after = np.where(has_after, _ease(1.0 - (starts[np.minimum(after, len(starts) - 1)] - t) / blend), 0.0)
    total = np.maximum(w_before + w_after, 1.0)
    offsets[free] = (w_before[:, None] * last_offset + w_after[:, None] * next_offset) / total[:, None]
    return offsets


def _ease(x: np.ndarray) -> np.ndarray:
    """Smoothstep of x clipped to [0, 1]: 0 and 1 with zero slope at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _leg_length(rest_joints: np.ndarray, leg: tuple[int, int, int]) -> float:
    hip, knee, ankle = rest_joints[list(leg)]
    return float(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))


def _out_of_reach(hips: np.ndarray, targets: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """(N, 3): how far the root must move so that every ankle target is within `reach` (2,) of its hip."""
    to_target = targets - hips
    distance = np.linalg.norm(to_target, axis=-1)
    excess = np.maximum(distance - reach, 0.0)
    return np.sum(to_target * (excess / np.maximum(distance, 1e-9))[..., None], axis=1)


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray,
                bend_axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (N, 3, 3) for the thigh (about the hip) and the shin (about the knee, thigh's included) that
    put the ankle on `target`, clamped to the leg's reach; the knee bends in its current plane.

    All inputs (N, 3). bend_axis: the knee's flexion axis in the world, oriented as cross(hip - knee, ankle - knee)
    is for a bent knee; it gives the plane where the leg is almost straight and its own plane is undefined.
    """
    thigh, shin = np.linalg.norm(knee - hip, axis=-1), np.linalg.norm(ankle - knee, axis=-1)
    reach = np.clip(np.linalg.norm(target - hip, axis=-1), np.abs(thigh - shin) + 1e-6, thigh + shin - 1e-6)
    up_thigh = (hip - knee) / thigh[:, None]
    to_ankle = ankle - knee
    side = to_ankle - np.sum(to_ankle * up_thigh, axis=-1, keepdims=True) * up_thigh
    straight = np.linalg.norm(side, axis=-1) < 0.05 * shin
    side = np.where(straight[:, None], np.cross(bend_axis, up_thigh), side)
    side /= np.linalg.norm(side, axis=-1, keepdims=True)
    angle = np.arccos(np.clip((thigh**2 + shin**2 - reach**2) / (2 * thigh * shin), -1.0, 1.0))  # at the knee
    new_shin = shin[:, None] * (np.cos(angle)[:, None] * up_thigh + np.sin(angle)[:, None] * side)
    bend = _shortest_rotation(to_ankle, new_shin)
    swing = _shortest_rotation(knee + new_shin - hip, target - hip)
    return swing, swing @ bend


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))


def _rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations (N, 3, 3) by `angle` (N,) about `axis` (N, 3) (any length)."""
    unit = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
    return axis_angle_to_matrix(unit * np.asarray(angle)[:, None])


def _shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations (N, 3, 3) of least angle turning directions a (N, 3) onto b (N, 3)."""
    return _rotation(np.cross(a, b), _angle_between(a, b))
