"""SMPL forward kinematics on joints (no skinning), vectorised over frames."""

import numpy as np

from .rotations import axis_angle_to_matrix
from .skeleton import PARENTS


def forward_kinematics(
    pose: np.ndarray, rest_joints: np.ndarray, trans: np.ndarray | None = None, parents: np.ndarray = PARENTS
) -> tuple[np.ndarray, np.ndarray]:
    """World joint positions (N, 24, 3) and world rotations (N, 24, 3, 3).

    pose: (N, 72) axis-angle or (N, 24, 3, 3) local rotations; rest_joints: (24, 3) or (N, 24, 3);
    trans: (N, 3) added to every joint, as SMPL's `transl`.
    """
    pose = np.asarray(pose, dtype=np.float64)
    local = pose if pose.ndim == 4 else axis_angle_to_matrix(pose.reshape(len(pose), -1, 3))
    n = local.shape[0]
    rest = np.broadcast_to(np.asarray(rest_joints, dtype=np.float64), (n,) + np.shape(rest_joints)[-2:])
    world_rot = np.empty_like(local)
    world_pos = np.empty((n, len(parents), 3))
    world_rot[:, 0] = local[:, 0]
    world_pos[:, 0] = rest[:, 0]
    for j in range(1, len(parents)):
        p = parents[j]
        world_rot[:, j] = world_rot[:, p] @ local[:, j]
        world_pos[:, j] = world_pos[:, p] + np.einsum("nij,nj->ni", world_rot[:, p], rest[:, j] - rest[:, p])
    if trans is not None:
        world_pos = world_pos + np.asarray(trans, dtype=np.float64)[:, None, :]
    return world_pos, world_rot
