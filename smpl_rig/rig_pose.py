"""SMPL pose -> Blender pose-bone channels: bone rest frames and the keyed quaternions/locations (numpy, no bpy).

The armature object stays at the origin with an identity transform. Its rest pose is SMPL's canonical T-pose turned
z-up and facing -Y, toward the scene camera (`CANONICAL_TO_BLENDER`, which equals CAMERA_TO_BLENDER times VIBE's
upright root rotation of 180 degrees about x), so an unposed armature stands like the filmed person.

Blender evaluates a bone b with parent p (heads not connected, full inheritance) as
    P_b = P_p M_p^-1 M_b B_b,    P_root = M_root B_root,
with M the rest matrix in armature space and B the keyed local basis (rotation_quaternion, location). SMPL forward
kinematics in Blender's frame deforms each joint j by D_j = [G_j | X_j - G_j h_j], h_j its rest head and
G_j = G_p A L_j A^T (A = CANONICAL_TO_BLENDER, L_j SMPL's local rotation). Since D_b = P_b M_b^-1 = D_p M_b B_b M_b^-1,
every child bone needs rotation R_b^T A L_j A^T R_b and no location (R_b: its rest rotation), whatever the rest frames
are; the root takes R_0^T G_0 R_0 and location R_0^T (X_0 - h_0). Blender's linear-blend skinning with these D_j is
then SMPL's skinning without the pose-corrective blend shapes.
"""

import numpy as np

from .camera import CAMERA_TO_BLENDER, camera_to_blender
from .fk import forward_kinematics
from .rotations import axis_angle_to_matrix, make_quaternions_continuous, matrix_to_quaternion
from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

CANONICAL_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
LEAF_BONE_LENGTH = 0.1  # metres: Head, hands and feet have no child joint to point at
MIN_BONE_LENGTH = 1e-3  # Blender deletes zero-length bones; shorter ones point like a leaf instead
_FORWARD = np.array([0.0, -1.0, 0.0])  # the rest pose faces -Y: bones' z axes point forward where they can
_UP = np.array([0.0, 0.0, 1.0])


def _tail_child(joint: int) -> int:
    """The child a bone points at: the only child, or the centre-line one (Pelvis -> Spine1, Spine3 -> Neck)."""
    children = [c for c in range(NUM_JOINTS) if PARENTS[c] == joint]
    if len(children) > 1:
        children = [c for c in children if not JOINT_NAMES[c].startswith(("L_", "R_"))]
    return children[0] if children else -1


TAIL_CHILD = np.array([_tail_child(j) for j in range(NUM_JOINTS)])


def blender_rest_joints(rest_joints: np.ndarray) -> np.ndarray:
    """SMPL canonical rest joints (24, 3) -> bone heads in the armature's rest pose (24, 3)."""
    return np.asarray(rest_joints, dtype=np.float64) @ CANONICAL_TO_BLENDER.T


def bone_tails(heads: np.ndarray) -> np.ndarray:
    """Tails (24, 3): at the tail child's head, or LEAF_BONE_LENGTH along the parent bone for leaves."""
    heads = np.asarray(heads, dtype=np.float64)
    tails = np.empty_like(heads)
    for j in range(NUM_JOINTS):
        child = TAIL_CHILD[j]
        if child >= 0 and np.linalg.norm(heads[child] - heads[j]) >= MIN_BONE_LENGTH:
            tails[j] = heads[child]
            continue
        direction = heads[j] - heads[PARENTS[j]] if PARENTS[j] >= 0 else _UP
        norm = np.linalg.norm(direction)
        tails[j] = heads[j] + (direction / norm if norm >= MIN_BONE_LENGTH else _UP) * LEAF_BONE_LENGTH
    return tails


def bone_rest_rotations(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """Rest rotations (24, 3, 3) as Blender builds them: y along the bone, z forward (-Y) made perpendicular to it
    (up for bones that point forward), x = y cross z. The armature rolls each bone to this z axis."""
    y = tails - heads
    y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    ref = np.where(np.abs(y @ _FORWARD)[:, None] > 0.95, _UP, _FORWARD)
    z = ref - np.sum(ref * y, axis=-1, keepdims=True) * y
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def pose_bone_channels(
    pose: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray, bone_rest: np.ndarray,
    to_blender: np.ndarray = CAMERA_TO_BLENDER,
) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone quaternions (N, 24, 4) (w, x, y, z), continuous in time, and root-bone locations (N, 3).

    pose: (N, 72) SMPL axis-angle with the root in VIBE's camera frame; trans: (N, 3) camera-frame `transl`;
    rest_joints: (24, 3) canonical rest joints the armature was built from; bone_rest: (24, 3, 3) the bones' rest
    rotations in armature space, read back from Blender so any roll or float rounding is accounted for;
    to_blender: the motion's frame to Blender's (the identity for a motion in the world frame, z up).
    """
    pose = np.asarray(pose, dtype=np.float64)
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    bone_rest = np.asarray(bone_rest, dtype=np.float64)
    a = CANONICAL_TO_BLENDER
    local = axis_angle_to_matrix(pose.reshape(len(pose), NUM_JOINTS, 3))
    relative = a @ local @ a.T  # G_p^-1 G_j: each joint's rotation relative to its parent, in Blender's frame
    root_rotation, transl = camera_to_blender(local[:, 0], trans, rest_joints[0], to_blender)
    relative[:, 0] = root_rotation @ a.T
    basis = np.swapaxes(bone_rest, -1, -2) @ relative @ bone_rest
    quaternions = make_quaternions_continuous(matrix_to_quaternion(basis))
    root_head = a @ rest_joints[0]
    root_location = (rest_joints[0] + transl - root_head) @ bone_rest[0]
    return quaternions, root_location


def blender_joint_positions(pose: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """Where the bone heads must end up: SMPL joints (N, 24, 3) of camera-frame FK, in Blender's world frame."""
    positions, _ = forward_kinematics(pose, rest_joints, trans)
    return positions @ CAMERA_TO_BLENDER.T


def fit_bone_lengths(template: np.ndarray, joints3d: np.ndarray) -> np.ndarray:
    """Rest joints (24, 3) with the template's bone directions and the median bone lengths measured in joints3d.

    joints3d: (N, 24, 3) SMPL-24 joints of one person. Bones whose measurement is missing or degenerate keep the
    template length, so partial or zero-filled estimates cannot collapse the skeleton.
    """
    template = np.asarray(template, dtype=np.float64)
    joints3d = np.asarray(joints3d, dtype=np.float64)
    offsets = template[1:] - template[PARENTS[1:]]
    template_lengths = np.linalg.norm(offsets, axis=-1)
    measured = np.linalg.norm(joints3d[:, 1:] - joints3d[:, PARENTS[1:]], axis=-1)
    valid = np.isfinite(measured) & (measured >= MIN_BONE_LENGTH)
    lengths = np.array([
        np.median(measured[valid[:, b], b]) if valid[:, b].any() else template_lengths[b] for b in range(NUM_JOINTS - 1)
    ])
    joints = template.copy()
    for j in range(1, NUM_JOINTS):
        joints[j] = joints[PARENTS[j]] + offsets[j - 1] / max(template_lengths[j - 1], 1e-12) * lengths[j - 1]
    return joints


def visibility_keys(frames: np.ndarray, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys (frames, hidden 0/1) for constant-interpolated visibility over [first, last]: shown on `frames` only.

    One key where the scene starts and one wherever tracking starts or stops; empty when the person is tracked on
    every frame of the range (then nothing needs keying).
    """
    tracked = np.zeros(last - first + 1, dtype=bool)
    tracked[np.asarray(frames, dtype=np.int64) - first] = True
    if tracked.all():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    changes = np.flatnonzero(np.diff(tracked.astype(np.int8))) + 1
    starts = np.concatenate([[0], changes])
    return starts + first, (~tracked[starts]).astype(np.float64)
