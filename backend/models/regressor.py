"""HMR iterative SMPL regressor (SPIN/VIBE `Regressor`): 2048-d features -> camera, pose, shape, mesh, joints."""

import torch
import torch.nn.functional as F
from torch import nn

from ..smpl_layer import NUM_BETAS, SmplLayer
from .resnet import CROP_SIZE, FEATURE_SIZE

NUM_POSE_6D = 24 * 6
FOCAL_LENGTH = 5000.0


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """(..., 6k) 6D rotations -> (N, 3, 3) as VIBE reads them: each 6-vector is a 3x2 matrix (row-major) whose two
    columns are orthonormalised by Gram-Schmidt; the third column is their cross product."""
    columns = x.reshape(-1, 3, 2)
    b1 = F.normalize(columns[:, :, 0], dim=1, eps=1e-6)
    a2 = columns[:, :, 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(dim=1, keepdim=True) * b1, dim=1, eps=1e-6)
    return torch.stack([b1, b2, torch.linalg.cross(b1, b2, dim=1)], dim=-1)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle with angle in [0, pi], through a quaternion whose
    largest component is computed first (stable near 180 degrees, where the official root rotation lives)."""
    m = rotmat
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four candidate quaternions (w, x, y, z), the k-th scaled by 4 * its k-th component; keep the best conditioned.
    diagonal = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    w_x, w_y, w_z = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    x_y, x_z, y_z = m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1]
    candidates = torch.stack([
        torch.stack([diagonal[..., 0], w_x, w_y, w_z], -1),
        torch.stack([w_x, diagonal[..., 1], x_y, x_z], -1),
        torch.stack([w_y, x_y, diagonal[..., 2], y_z], -1),
        torch.stack([w_z, x_z, y_z, diagonal[..., 3]], -1),
    ], dim=-2)
    best = diagonal.argmax(dim=-1)
    quat = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    quat = F.normalize(quat, dim=-1)
    quat = torch.where(quat[..., :1] < 0, -quat, quat)
    sin_half = quat[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, quat[..., :1])
    return quat[..., 1:] / sin_half.clamp_min(1e-12) * angle


def project_keypoints(joints: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Official crop projection: perspective with f = 5000 px, camera t = (tx, ty, 2f / (224 s)), principal point at
    the crop centre, divided by 112 so the 224 px crop spans [-1, 1]. joints (N, J, 3), cam (N, 3) = (s, tx, ty)."""
    depth = 2.0 * FOCAL_LENGTH / (CROP_SIZE * cam[:, 0] + 1e-9)
    translation = torch.stack([cam[:, 1], cam[:, 2], depth], dim=-1)
    points = joints + translation[:, None]
    return FOCAL_LENGTH * points[..., :2] / points[..., 2:] / (CROP_SIZE / 2.0)


class Regressor(nn.Module):
    """Iterative error feedback from the mean parameters (the `init_*` buffers, loaded from the checkpoint).

    State-dict keys equal the official ones: fc1, fc2, decpose, decshape, deccam, init_pose, init_shape, init_cam.
    """

    def __init__(self, smpl: SmplLayer, n_iter: int = 3) -> None:
        super().__init__()
        self.n_iter = n_iter
        self.fc1 = nn.Linear(FEATURE_SIZE + NUM_POSE_6D + NUM_BETAS + 3, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose = nn.Linear(1024, NUM_POSE_6D)
        self.decshape = nn.Linear(1024, NUM_BETAS)
        self.deccam = nn.Linear(1024, 3)
        self.register_buffer("init_pose", torch.zeros(1, NUM_POSE_6D))
        self.register_buffer("init_shape", torch.zeros(1, NUM_BETAS))
        self.register_buffer("init_cam", torch.zeros(1, 3))
        self.smpl = smpl

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features (N, 2048) -> theta (N, 85) = cam (s, tx, ty) + axis-angle pose (72) + betas (10), verts
        (N, 6890, 3), kp_2d (N, 49, 2) normalised crop coordinates, kp_3d (N, 49, 3), rotmat (N, 24, 3, 3)."""
        count = features.shape[0]
        pose = self.init_pose.expand(count, -1)
        shape = self.init_shape.expand(count, -1)
        cam = self.init_cam.expand(count, -1)
        for _ in range(self.n_iter):
            hidden = self.drop2(self.fc2(self.drop1(self.fc1(torch.cat([features, pose, shape, cam], dim=1)))))
            pose = pose + self.decpose(hidden)
            shape = shape + self.decshape(hidden)
            cam = cam + self.deccam(hidden)
        rotmat = rot6d_to_rotmat(pose).reshape(count, 24, 3, 3)
        body = self.smpl(shape, rotmat)
        axis_angle = rotmat_to_axis_angle(rotmat).reshape(count, 72)
        return {
            "theta": torch.cat([cam, axis_angle, shape], dim=1),
            "verts": body.vertices,
            "kp_2d": project_keypoints(body.joints, cam),
            "kp_3d": body.joints,
            "rotmat": rotmat,
        }
