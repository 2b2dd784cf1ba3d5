"""VIBE's training losses (official lib/core/loss.py), on flat (frames, ...) tensors.

Generator: 2D keypoints (squared error weighted by each keypoint's confidence), 3D keypoints (the 14 common joints,
pelvis-centred, squared error), SMPL pose (rotation matrices, squared error) and shape (squared error), and the
least-squares adversarial term; the motion discriminator gets the least-squares real/fake losses. Every loss is a
mean, so the weights (config `loss`, published: 2D 300, 3D 300, pose 60, shape 0.06, adversarial 0.5) set the
balance exactly as in the official code.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models.discriminator import body_pose

# The 14 joints with 3D labels are VIBE's joints 25..38 (LSP order: ankles, knees, hips, wrists, elbows, shoulders,
# neck, head top); the pelvis is the midpoint of the hips, which are the 3rd and 4th of them.
COMMON_3D = slice(25, 39)
COMMON_HIPS = (2, 3)


@dataclass(frozen=True)
class LossWeights:
    kp_2d: float
    kp_3d: float
    shape: float
    pose: float
    d_motion: float


def vibe_losses(output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], real_theta: torch.Tensor,
                discriminator: nn.Module, weights: LossWeights) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The official VIBELoss: (generator loss, discriminator loss, weighted terms).

    `output` is the generator's (B, T, ...) output, `batch` a training batch (backend.train.data layout) whose
    `w_3d`/`w_smpl` select the frames with 3D keypoints/SMPL labels, `real_theta` (B', T, 85) real motion. The
    2D loss covers every frame; the adversarial terms see whole sequences (generated ones detached for the
    discriminator's loss).
    """
    def frames(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, *x.shape[2:])

    with_3d, with_smpl = frames(batch["w_3d"]) > 0, frames(batch["w_smpl"]) > 0
    target_theta = frames(batch["theta"])[with_smpl]
    pose, shape = smpl_losses(frames(output["rotmat"])[with_smpl], frames(output["theta"])[with_smpl, 75:],
                              target_theta[:, 3:75], target_theta[:, 75:])
    real, fake = discriminator_losses(discriminator(body_pose(real_theta)),
                                      discriminator(body_pose(output["theta"].detach())))
    terms = {
        "kp_2d": weights.kp_2d * keypoint_2d_loss(frames(output["kp_2d"]), frames(batch["kp_2d"])),
        "kp_3d": weights.kp_3d * keypoint_3d_loss(frames(output["kp_3d"])[with_3d], frames(batch["kp_3d"])[with_3d]),
        "pose": weights.pose * pose,
        "shape": weights.shape * shape,
        "adversarial": weights.d_motion * generator_adversarial_loss(discriminator(body_pose(output["theta"]))),
        "disc_real": weights.d_motion * real,
        "disc_fake": weights.d_motion * fake,
    }
    generator_loss = terms["kp_2d"] + terms["kp_3d"] + terms["pose"] + terms["shape"] + terms["adversarial"]
    return generator_loss, terms["disc_real"] + terms["disc_fake"], terms


def keypoint_2d_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """pred (N, J, 2), target (N, J, 3) = x, y, confidence: mean over N*J*2 of confidence * squared error."""
    return (target[..., 2:] * (pred - target[..., :2]) ** 2).mean()


def keypoint_3d_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """pred, target (N, 49, 3) VIBE joints: mean squared error of the 14 common joints, each skeleton centred on its
    own pelvis; zero when there are no frames."""
    if len(target) == 0:
        return pred.sum() * 0.0
    return F.mse_loss(_pelvis_centred(pred[:, COMMON_3D]), _pelvis_centred(target[:, COMMON_3D]))


def smpl_losses(pred_rotmat: torch.Tensor, pred_betas: torch.Tensor, target_pose: torch.Tensor,
                target_betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose loss: mean squared error between rotation matrices, pred (N, 24, 3, 3), target axis-angle (N, 72); shape
    loss: mean squared error of the betas (N, 10). Both zero when there are no frames."""
    if len(target_pose) == 0:
        zero = pred_rotmat.sum() * 0.0 + pred_betas.sum() * 0.0
        return zero, zero
    target_rotmat = axis_angle_to_rotmat(target_pose.reshape(-1, 24, 3))
    return F.mse_loss(pred_rotmat, target_rotmat), F.mse_loss(pred_betas, target_betas)


def generator_adversarial_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN, generator side: the discriminator should score generated motion as real (1)."""
    return ((fake_scores - 1.0) ** 2).sum() / len(fake_scores)


def discriminator_losses(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares GAN, discriminator side: (real term, fake term); real motion should score 1, generated 0."""
    return ((real_scores - 1.0) ** 2).sum() / len(real_scores), (fake_scores ** 2).sum() / len(fake_scores)


def axis_angle_to_rotmat(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices (Rodrigues; exact identity at zero angle)."""
    angle = axis_angle.norm(dim=-1, keepdim=True)
    axis = axis_angle / angle.clamp_min(1e-8)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*axis.shape[:-1], 3, 3)
    sin, cos = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + sin * skew + (1.0 - cos) * skew @ skew


def _pelvis_centred(joints: torch.Tensor) -> torch.Tensor:
    return joints - joints[:, list(COMMON_HIPS)].mean(dim=1, keepdim=True)
