"""BlazePose world landmarks -> SMPL joint rotations, in closed form and vectorised over frames (numpy only).

Input: landmarks (N, 33, 3) in metres in VIBE's camera frame (x right, y down, z forward), as
`landmarks.py` delivers MediaPipe's world landmarks. The subject's skeleton is measured first (median bone lengths
over the frames, see `landmark_rig.build_rig`), then every bone's rotation is solved from the observed directions.

What the landmarks leave open is fixed by conventions, and `landmark_rig.landmarks_from_pose` of any pose that follows
them is solved back exactly:
- Pelvis: its x axis is the hip line; leaning the torso forward or back is a pelvis tilt (the spine cannot be told
  apart from it), so the hip-to-shoulder vector lies in the pelvis's frontal (x-y) plane.
- Spine: a sideways bend shared equally by Spine1-3 (about the pelvis's forward axis) and the torso twist at Spine3.
- Limbs and neck: a bone's twist is whatever leaves the next bone's rotation without twist about this bone's rest
  axis, solved from the far end inwards: the hand (wrist, index, pinky, thumb) turns the forearm and the forearm the
  upper arm, the foot (ankle, heel, toe) turns the shin and the shin the thigh, the face turns the neck.
- Collars turn only as far as needed to reach the observed shoulders; the Foot and Hand joints stay at rest.
"""

from dataclasses import dataclass, replace

import numpy as np

from smpl_rig.fk import forward_kinematics
from smpl_rig.rotations import matrix_to_axis_angle, matrix_to_quaternion, quaternion_to_matrix
from smpl_rig.skeleton import NUM_JOINTS, PARENTS

from .landmark_rig import (
    FACE,
    FEET,
    HANDS,
    HEAD_JOINT,
    JOINT_LANDMARK,
    BodyMeasures,
    LandmarkRig,
    build_rig,
)

_EPS = 1e-12
_L_HIP, _R_HIP, _L_SHOULDER, _R_SHOULDER = 23, 24, 11, 12
_Y, _Z = np.eye(3)[1:]
# The joints above each rigid end of HANDS + FEET (upper limb, middle limb) and below it (Hand, Foot: kept at rest).
_LIMBS = ((16, 18, 22), (17, 19, 23), (1, 4, 10), (2, 5, 11))


@dataclass(frozen=True)
class PoseSolution:
    """Local joint rotations (N, 24, 3, 3), joint positions (N, 24, 3) in the landmarks' frame, and the skeleton."""

    rotations: np.ndarray
    joints: np.ndarray
    rig: LandmarkRig
    measures: BodyMeasures

    @property
    def axis_angle(self) -> np.ndarray:
        """SMPL pose (N, 72)."""
        return matrix_to_axis_angle(self.rotations).reshape(len(self.rotations), -1)


def solve_pose(landmarks: np.ndarray) -> PoseSolution:
    """Solve (N, 33, 3) world landmarks of one person into SMPL rotations on a skeleton measured from them."""
    marks = np.asarray(landmarks, dtype=np.float64)
    if marks.ndim != 3 or marks.shape[1:] != (33, 3) or len(marks) == 0:
        raise ValueError(f"expected world landmarks of shape (N, 33, 3) with N >= 1, got {marks.shape}")
    n = len(marks)
    world = np.broadcast_to(np.eye(3), (n, NUM_JOINTS, 3, 3)).copy()
    pelvis_rot, bend, twist, torso = _solve_torso(marks)
    bend_step = _rotation_about(_Z, bend / 3)
    world[:, 0] = pelvis_rot
    world[:, 3] = pelvis_rot @ bend_step
    world[:, 6] = world[:, 3] @ bend_step
    world[:, 9] = world[:, 6] @ bend_step @ _rotation_about(_Y, twist)

    measures = _measure(marks, torso)
    rig = build_rig(measures)  # its torso and face do not depend on the neck length measured next
    rest = rig.rest_joints
    hip_mid = (marks[:, _L_HIP] + marks[:, _R_HIP]) / 2
    root_shift = hip_mid - pelvis_rot @ ((rest[1] + rest[2]) / 2 - rest[0]) - rest[0]
    torso_joints, _ = forward_kinematics(_to_local(world), rest, root_shift)
    face = marks[:, list(FACE)]
    world[:, HEAD_JOINT] = fit_rotation(rig.face_template, face)
    head = face.mean(axis=1) - world[:, HEAD_JOINT] @ rig.face_template.mean(axis=0)
    measures = replace(measures, neck=float(np.median(np.linalg.norm(head - torso_joints[:, 12], axis=-1))))
    rig = build_rig(measures)
    rest = rig.rest_joints

    world[:, 12] = aim_keeping_child_twist(rest[15] - rest[12], head - torso_joints[:, 12], world[:, HEAD_JOINT])
    for collar, shoulder in ((13, 16), (14, 17)):
        target = np.einsum("nji,nj->ni", world[:, 9], marks[:, JOINT_LANDMARK[shoulder]] - torso_joints[:, collar])
        world[:, collar] = world[:, 9] @ rotation_between(rest[shoulder] - rest[collar], target)
    for (end, group), (root, middle, tip) in zip(HANDS + FEET, _LIMBS, strict=True):
        world[:, end] = fit_rotation(rig.landmark_offset[list(group)], marks[:, list(group)])
        world[:, middle] = _aim_limb(rest, marks, middle, end, world[:, end])
        world[:, root] = _aim_limb(rest, marks, root, middle, world[:, middle])
        world[:, tip] = world[:, end]

    local = _to_local(world)
    joints, _ = forward_kinematics(local, rest, root_shift)
    return PoseSolution(rotations=local, joints=joints, rig=rig, measures=measures)


def _solve_torso(marks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pelvis rotation (N, 3, 3), spine bend and twist angles (N,) and the straight torso length (N,) per frame."""
    hip_axis = marks[:, _L_HIP] - marks[:, _R_HIP]
    shoulder_axis = marks[:, _L_SHOULDER] - marks[:, _R_SHOULDER]
    torso = (marks[:, _L_SHOULDER] + marks[:, _R_SHOULDER] - marks[:, _L_HIP] - marks[:, _R_HIP]) / 2
    pelvis_rot = frame_from_axes(hip_axis, torso)
    in_pelvis = np.einsum("nji,nj->ni", pelvis_rot, torso)  # (sideways, up, 0)
    bend = _bend_for_chord_angle(np.arctan2(-in_pelvis[:, 0], in_pelvis[:, 1]))
    steps = np.outer(bend, np.arange(len(_SEGMENTS)) / 3)
    chord = np.hypot(np.sin(steps) @ _SEGMENTS, np.cos(steps) @ _SEGMENTS)
    across = np.einsum("nji,nj->ni", pelvis_rot @ _rotation_about(_Z, bend), shoulder_axis)
    twist = np.arctan2(-across[:, 2], across[:, 0])
    return pelvis_rot, bend, twist, np.linalg.norm(torso, axis=-1) / chord


def _torso_segments() -> np.ndarray:
    """Lengths of hip midpoint -> Spine1 -> Spine2 -> Spine3 -> shoulder midpoint for a unit torso (sum 1)."""
    rest = build_rig(BodyMeasures()).rest_joints
    heights = np.array([rest[1, 1], rest[3, 1], rest[6, 1], rest[9, 1], rest[16, 1]])
    return np.diff(heights) / (heights[-1] - heights[0])


_SEGMENTS = _torso_segments()


def _bend_for_chord_angle(angle: np.ndarray, iterations: int = 12) -> np.ndarray:
    """Spine bend whose chord (hip to shoulder midpoint) leans sideways by `angle`: Newton's method on a function
    that is monotone for bends within +-90 degrees (the segments turn by 0, 1/3, 2/3 and all of the bend)."""
    k = np.arange(len(_SEGMENTS)) / 3
    angle = np.clip(angle, -0.4 * np.pi, 0.4 * np.pi)
    bend = angle / (_SEGMENTS @ k)
    for _ in range(iterations):
        steps = np.outer(bend, k)
        s, c = np.sin(steps) @ _SEGMENTS, np.cos(steps) @ _SEGMENTS
        ds, dc = np.cos(steps) @ (_SEGMENTS * k), -np.sin(steps) @ (_SEGMENTS * k)
        slope = (ds * c - s * dc) / (s * s + c * c)
        bend = np.clip(bend - (np.arctan2(s, c) - angle) / slope, -np.pi / 2, np.pi / 2)
    return bend


def _measure(marks: np.ndarray, torso: np.ndarray) -> BodyMeasures:
    """Median bone lengths over frames, left and right pooled; the face scale from its spread around its centre.
    The neck is measured later, from where the torso puts the Neck joint."""

    def pooled(*pairs: tuple[int, int]) -> float:
        lengths = [marks[:, JOINT_LANDMARK[a]] - marks[:, JOINT_LANDMARK[b]] for a, b in pairs]
        return float(np.median(np.linalg.norm(np.concatenate(lengths), axis=-1)))

    def spread(points: np.ndarray) -> np.ndarray:
        return np.sqrt(((points - points.mean(axis=-2, keepdims=True)) ** 2).sum(axis=(-2, -1)))

    return BodyMeasures(
        torso=float(np.median(torso)), hip_width=pooled((1, 2)), shoulder_width=pooled((16, 17)),
        thigh=pooled((1, 4), (2, 5)), shin=pooled((4, 7), (5, 8)), upper_arm=pooled((16, 18), (17, 19)),
        forearm=pooled((18, 20), (19, 21)),
        face=float(np.median(spread(marks[:, list(FACE)])) / spread(build_rig(BodyMeasures()).face_template)),
    )


def _aim_limb(rest: np.ndarray, marks: np.ndarray, joint: int, child: int, child_world: np.ndarray) -> np.ndarray:
    target = marks[:, JOINT_LANDMARK[child]] - marks[:, JOINT_LANDMARK[joint]]
    return aim_keeping_child_twist(rest[child] - rest[joint], target, child_world)


def _to_local(world: np.ndarray) -> np.ndarray:
    parent_world = np.concatenate([np.broadcast_to(np.eye(3), world[:, :1].shape), world[:, PARENTS[1:]]], axis=1)
    return np.swapaxes(parent_world, -1, -2) @ world


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def _rotation_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations (N, 3, 3) by `angle` (N,) about one unit axis."""
    half = np.asarray(angle, dtype=np.float64)[..., None] / 2
    return quaternion_to_matrix(np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1))


def frame_from_axes(x_axis: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotation (N, 3, 3) taking the rest x axis onto `x_axis` and the rest y axis towards `up`."""
    x = _unit(x_axis)
    y = _unit(up - np.sum(up * x, axis=-1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (N, 3, 3) taking direction a (3,) or (N, 3) onto direction b (N, 3)."""
    a, b = np.broadcast_arrays(_unit(np.asarray(a, dtype=np.float64)), _unit(b))
    q = np.concatenate([1.0 + np.sum(a * b, axis=-1, keepdims=True), np.cross(a, b)], axis=-1)
    helper = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    half_turn = np.concatenate([np.zeros_like(q[..., :1]), _unit(np.cross(a, helper))], axis=-1)
    q = np.where(np.linalg.norm(q, axis=-1, keepdims=True) < 1e-9, half_turn, q)
    return quaternion_to_matrix(q)


def aim_keeping_child_twist(rest_dir: np.ndarray, target: np.ndarray, child_world: np.ndarray) -> np.ndarray:
    """The world rotation R with R @ rest_dir along `target` whose child, R^T @ child_world, has no twist about
    rest_dir: the child's observed orientation sets this bone's twist."""
    rest_dir = _unit(np.asarray(rest_dir, dtype=np.float64))
    aim = rotation_between(rest_dir, target)
    q = matrix_to_quaternion(np.swapaxes(aim, -1, -2) @ child_world)
    twist = np.concatenate([q[..., :1], (q[..., 1:] @ rest_dir)[..., None] * rest_dir], axis=-1)
    twist = np.where(np.linalg.norm(twist, axis=-1, keepdims=True) < 1e-9, np.array([1.0, 0, 0, 0]), twist)
    return aim @ quaternion_to_matrix(twist)


def fit_rotation(template: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Best rotations (N, 3, 3) taking template points (K, 3) onto observed ones (N, K, 3), both centred (Kabsch)."""
    a = template - template.mean(axis=0)
    b = observed - observed.mean(axis=1, keepdims=True)
    u, _, vt = np.linalg.svd(np.einsum("ki,nkj->nij", a, b))
    v = np.swapaxes(vt, -1, -2)
    ut = np.swapaxes(u, -1, -2)
    flip = np.ones((len(b), 3))
    flip[:, 2] = np.where(np.linalg.det(v @ ut) < 0, -1.0, 1.0)  # a rotation, never a reflection
    return v @ (flip[..., None] * ut)
