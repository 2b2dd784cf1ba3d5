"""How BlazePose's 33 landmarks sit on an SMPL-topology skeleton: the forward model that `solver.py` inverts.

Twelve landmarks are joints themselves (hips, knees, ankles, shoulders, elbows, wrists). The others are rigid points
of one bone: the face on Head, pinky/index/thumb knuckles on each Wrist, heel and toe tip on each Ankle. Their
offsets are templates in SMPL's canonical rest frame (y up, facing +z, +x is the person's left) for a 1.70 m person,
chosen for this project. The rest skeleton is `default_rest_joints()` with a straight spine (hip, spine, neck and
shoulder joints in one vertical plane through the pelvis) and its bones scaled to a subject's `BodyMeasures`.
"""

from dataclasses import dataclass

import numpy as np

from smpl_rig.default_skeleton import default_rest_joints
from smpl_rig.fk import forward_kinematics

LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
NUM_LANDMARKS = 33

# SMPL joint -> the landmark at that joint.
JOINT_LANDMARK: dict[int, int] = {1: 23, 2: 24, 4: 25, 5: 26, 7: 27, 8: 28, 16: 11, 17: 12, 18: 13, 19: 14,
                                  20: 15, 21: 16}
FACE = tuple(range(11))
HEAD_JOINT = 15
# Rigid landmark groups of the hands and feet: (joint, landmarks), the joint's own landmark first.
HANDS = ((20, (15, 17, 19, 21)), (21, (16, 18, 20, 22)))
FEET = ((7, (27, 29, 31)), (8, (28, 30, 32)))

_FACE_170 = np.array([  # relative to the Head joint
    [0.0, 0.05, 0.10],                                                        # nose
    [0.015, 0.08, 0.09], [0.033, 0.08, 0.085], [0.048, 0.08, 0.075],         # left eye inner, centre, outer
    [-0.015, 0.08, 0.09], [-0.033, 0.08, 0.085], [-0.048, 0.08, 0.075],      # right eye
    [0.07, 0.06, -0.01], [-0.07, 0.06, -0.01],                               # ears
    [0.025, 0.02, 0.09], [-0.025, 0.02, 0.09],                               # mouth corners
])
_LEFT_HAND_170 = np.array([[0.08, -0.005, -0.03], [0.09, 0.0, 0.03], [0.05, -0.02, 0.05]])  # pinky, index, thumb
_LEFT_FOOT_170 = np.array([[0.0, -0.05, -0.05], [0.03, -0.07, 0.16]])  # heel, toe tip
_MIRROR = np.array([-1.0, 1.0, 1.0])

_DEFAULT = default_rest_joints(1.70)
_TORSO = (0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17)  # pelvis, hips, spine, neck, collars, shoulders
_HIP_MID_Y = _DEFAULT[1, 1]
DEFAULT_TORSO = _DEFAULT[16, 1] - _HIP_MID_Y  # hip midpoint to shoulder midpoint


@dataclass(frozen=True)
class BodyMeasures:
    """A subject's sizes in metres: what the landmarks measure, everything else follows the default proportions."""

    torso: float = DEFAULT_TORSO
    hip_width: float = 2 * _DEFAULT[1, 0]
    shoulder_width: float = 2 * _DEFAULT[16, 0]
    thigh: float = float(np.linalg.norm(_DEFAULT[4] - _DEFAULT[1]))
    shin: float = float(np.linalg.norm(_DEFAULT[7] - _DEFAULT[4]))
    upper_arm: float = float(np.linalg.norm(_DEFAULT[18] - _DEFAULT[16]))
    forearm: float = float(np.linalg.norm(_DEFAULT[20] - _DEFAULT[18]))
    neck: float = float(np.linalg.norm(_DEFAULT[15] - _DEFAULT[12]))
    face: float = 1.0  # face template scale


@dataclass(frozen=True)
class LandmarkRig:
    """Rest joints (24, 3) and, per landmark, the joint it is fixed to and its offset in that joint's rest frame."""

    rest_joints: np.ndarray
    landmark_joint: np.ndarray  # (33,) int
    landmark_offset: np.ndarray  # (33, 3)

    @property
    def face_template(self) -> np.ndarray:
        return self.landmark_offset[list(FACE)]


def _scaled_bone(rest: np.ndarray, child: int, parent: int, length: float) -> np.ndarray:
    direction = _DEFAULT[child] - _DEFAULT[parent]
    return rest[parent] + direction * (length / np.linalg.norm(direction))


def build_rig(measures: BodyMeasures) -> LandmarkRig:
    """The solver's skeleton and landmark attachment for a subject of the given measures."""
    scale = measures.torso / DEFAULT_TORSO  # for the sizes no landmark measures
    rest = _DEFAULT.copy()
    rest[list(_TORSO), 2] = 0.0
    rest[list(_TORSO), 1] = _HIP_MID_Y + (rest[list(_TORSO), 1] - _HIP_MID_Y) * scale
    rest[[1, 2], 0] *= measures.hip_width / (2 * _DEFAULT[1, 0])
    rest[[13, 14, 16, 17], 0] *= measures.shoulder_width / (2 * _DEFAULT[16, 0])
    for side in (0, 1):
        hip, knee, ankle, foot = (1 + side, 4 + side, 7 + side, 10 + side)
        shoulder, elbow, wrist, hand = (16 + side, 18 + side, 20 + side, 22 + side)
        rest[knee] = _scaled_bone(rest, knee, hip, measures.thigh)
        rest[ankle] = _scaled_bone(rest, ankle, knee, measures.shin)
        rest[foot] = rest[ankle] + (_DEFAULT[foot] - _DEFAULT[ankle]) * scale
        rest[elbow] = _scaled_bone(rest, elbow, shoulder, measures.upper_arm)
        rest[wrist] = _scaled_bone(rest, wrist, elbow, measures.forearm)
        rest[hand] = rest[wrist] + (_DEFAULT[hand] - _DEFAULT[wrist]) * scale
    rest[15] = _scaled_bone(rest, 15, 12, measures.neck)

    joint = np.full(NUM_LANDMARKS, HEAD_JOINT)
    offset = np.zeros((NUM_LANDMARKS, 3))
    offset[list(FACE)] = _FACE_170 * measures.face
    for j, mark in JOINT_LANDMARK.items():
        joint[mark] = j
    for (j, marks), mirror in zip(HANDS, (1.0, _MIRROR), strict=True):
        joint[list(marks)] = j
        offset[list(marks[1:])] = _LEFT_HAND_170 * scale * mirror
    for (j, marks), mirror in zip(FEET, (1.0, _MIRROR), strict=True):
        joint[list(marks)] = j
        offset[list(marks[1:])] = _LEFT_FOOT_170 * scale * mirror
    return LandmarkRig(rest_joints=rest, landmark_joint=joint, landmark_offset=offset)


def landmarks_from_pose(pose: np.ndarray, rig: LandmarkRig, trans: np.ndarray | None = None) -> np.ndarray:
    """Landmark positions (N, 33, 3) of SMPL poses ((N, 72) axis-angle or (N, 24, 3, 3)) on the rig's skeleton."""
    positions, rotations = forward_kinematics(pose, rig.rest_joints, trans)
    return positions[:, rig.landmark_joint] + np.einsum(
        "nkij,kj->nki", rotations[:, rig.landmark_joint], rig.landmark_offset
    )
