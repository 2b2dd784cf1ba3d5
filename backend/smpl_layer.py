"""Torch SMPL body model (linear blend skinning with pose blend shapes) giving VIBE's 49 joints.

Numerically the `smplx` package's `SMPL.forward(..., pose2rot=False)` (float32), extended as VIBE's lib/models/smpl.py:
54 joints = SMPL's 24 posed joints + 21 mesh vertices picked as smplx does for SMPL/SMPL-H (face, feet, finger tips)
+ 9 rows of `J_regressor_extra.npy` applied to the posed mesh; then 49 of them are selected in `VIBE_JOINTS` order.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from smpl_rig.skeleton import JOINT_NAMES, NUM_JOINTS
from smpl_rig.smpl_model import SmplModel, SmplModelError, load_smpl_model

from .data_folder import FILES_BY_NAME
from .errors import BackendError

NUM_BETAS = 10

# smplx's vertex joints for the SMPL topology (vertex_ids['smplh']), in smplx's order: face, feet, finger tips.
VERTEX_JOINTS: tuple[tuple[str, int], ...] = (
    ("nose", 332), ("reye", 6260), ("leye", 2800), ("rear", 4071), ("lear", 583),
    ("LBigToe", 3216), ("LSmallToe", 3226), ("LHeel", 3387), ("RBigToe", 6617), ("RSmallToe", 6624), ("RHeel", 6787),
    ("lthumb", 2746), ("lindex", 2319), ("lmiddle", 2445), ("lring", 2556), ("lpinky", 2673),
    ("rthumb", 6191), ("rindex", 5782), ("rmiddle", 5905), ("rring", 6016), ("rpinky", 6133),
)
# Rows of J_regressor_extra.npy, as SPIN/VIBE name them.
EXTRA_JOINTS: tuple[str, ...] = (
    "Right Hip", "Left Hip", "Neck (LSP)", "Top of Head (LSP)", "Pelvis (MPII)", "Thorax (MPII)", "Spine (H36M)",
    "Jaw (H36M)", "Head (H36M)",
)
ALL_54_JOINTS: tuple[str, ...] = JOINT_NAMES + tuple(name for name, _ in VERTEX_JOINTS) + EXTRA_JOINTS

# VIBE's 49 output joints (`kp_3d`, `joints3d`): 25 in OpenPose BODY_25 order, then 24 "ground-truth" joints
# (LSP 14, MPII, H36M, COCO face). Each is (VIBE name, source joint among ALL_54_JOINTS).
VIBE_JOINTS: tuple[tuple[str, str], ...] = (
    ("OP Nose", "nose"), ("OP Neck", "Neck"), ("OP RShoulder", "R_Shoulder"), ("OP RElbow", "R_Elbow"),
    ("OP RWrist", "R_Wrist"), ("OP LShoulder", "L_Shoulder"), ("OP LElbow", "L_Elbow"), ("OP LWrist", "L_Wrist"),
    ("OP MidHip", "Pelvis"), ("OP RHip", "R_Hip"), ("OP RKnee", "R_Knee"), ("OP RAnkle", "R_Ankle"),
    ("OP LHip", "L_Hip"), ("OP LKnee", "L_Knee"), ("OP LAnkle", "L_Ankle"), ("OP REye", "reye"), ("OP LEye", "leye"),
    ("OP REar", "rear"), ("OP LEar", "lear"), ("OP LBigToe", "LBigToe"), ("OP LSmallToe", "LSmallToe"),
    ("OP LHeel", "LHeel"), ("OP RBigToe", "RBigToe"), ("OP RSmallToe", "RSmallToe"), ("OP RHeel", "RHeel"),
    ("Right Ankle", "R_Ankle"), ("Right Knee", "R_Knee"), ("Right Hip", "Right Hip"), ("Left Hip", "Left Hip"),
    ("Left Knee", "L_Knee"), ("Left Ankle", "L_Ankle"), ("Right Wrist", "R_Wrist"), ("Right Elbow", "R_Elbow"),
    ("Right Shoulder", "R_Shoulder"), ("Left Shoulder", "L_Shoulder"), ("Left Elbow", "L_Elbow"),
    ("Left Wrist", "L_Wrist"), ("Neck (LSP)", "Neck (LSP)"), ("Top of Head (LSP)", "Top of Head (LSP)"),
    ("Pelvis (MPII)", "Pelvis (MPII)"), ("Thorax (MPII)", "Thorax (MPII)"), ("Spine (H36M)", "Spine (H36M)"),
    ("Jaw (H36M)", "Jaw (H36M)"), ("Head (H36M)", "Head (H36M)"), ("Nose", "nose"), ("Left Eye", "leye"),
    ("Right Eye", "reye"), ("Left Ear", "lear"), ("Right Ear", "rear"),
)
VIBE_JOINT_NAMES: tuple[str, ...] = tuple(name for name, _ in VIBE_JOINTS)
VIBE_JOINT_MAP: tuple[int, ...] = tuple(ALL_54_JOINTS.index(source) for _, source in VIBE_JOINTS)


class SmplOutput(NamedTuple):
    vertices: torch.Tensor     # (B, V, 3)
    joints: torch.Tensor       # (B, 49, 3) in VIBE_JOINTS order
    smpl_joints: torch.Tensor  # (B, 24, 3) posed SMPL joints


class SmplLayer(nn.Module):
    """SMPL forward on rotation matrices. The model arrays are non-persistent buffers: they follow `.to(device)`
    but stay out of `state_dict`, since they come from SMPL_NEUTRAL.pkl, never from a checkpoint."""

    def __init__(self, model: SmplModel, j_regressor_extra: np.ndarray) -> None:
        super().__init__()
        num_verts = model.v_template.shape[0]
        if j_regressor_extra.shape != (len(EXTRA_JOINTS), num_verts):
            raise ValueError(f"J_regressor_extra has shape {j_regressor_extra.shape}, "
                             f"expected ({len(EXTRA_JOINTS)}, {num_verts})")

        def buffer(name: str, array: np.ndarray, dtype: torch.dtype = torch.float32) -> None:
            self.register_buffer(name, torch.as_tensor(np.ascontiguousarray(array), dtype=dtype), persistent=False)

        buffer("v_template", model.v_template)
        buffer("shapedirs", model.shapedirs[:, :, :NUM_BETAS].reshape(num_verts * 3, NUM_BETAS).T)  # (10, V*3)
        buffer("posedirs", model.posedirs.reshape(num_verts * 3, -1).T)  # (207, V*3), as smplx stores it
        buffer("j_regressor", model.j_regressor)
        buffer("j_regressor_extra", j_regressor_extra)
        buffer("lbs_weights", model.weights)
        buffer("vertex_joint_ids", np.array([v for _, v in VERTEX_JOINTS]), torch.long)
        buffer("joint_map", np.array(VIBE_JOINT_MAP), torch.long)
        self.parents = model.parents.tolist()
        self.faces = model.faces

    def forward(self, betas: torch.Tensor, rotmat: torch.Tensor) -> SmplOutput:
        """betas (B, 10), rotmat (B, 24, 3, 3) local joint rotations (root first) -> posed mesh and joints."""
        v_shaped, rest_joints = self.shape(betas)
        pose_feature = (rotmat[:, 1:] - torch.eye(3, dtype=rotmat.dtype, device=rotmat.device)).flatten(1)
        v_posed = v_shaped + (pose_feature @ self.posedirs).unflatten(1, (-1, 3))
        world = self._world_transforms(rotmat, rest_joints)
        rotation, posed_joints = world[:, :, :3, :3], world[:, :, :3, 3]
        # Skinning transforms map rest-pose points: subtract each joint's rotated rest position. Blend the 3x3
        # rotations and the translations of the joints per vertex in one product (B, V, 12); no batched 3x3 matrix
        # products over vertices (slow in OpenVINO): a multiply and a sum apply them.
        translation = posed_joints - (rotation * rest_joints[:, :, None]).sum(-1)
        blended = self.lbs_weights @ torch.cat([rotation.flatten(2), translation], dim=2)
        vertices = (blended[..., :9].unflatten(2, (3, 3)) * v_posed[:, :, None]).sum(-1) + blended[..., 9:]
        all_joints = torch.cat([posed_joints, vertices[:, self.vertex_joint_ids], self.j_regressor_extra @ vertices],
                               dim=1)
        return SmplOutput(vertices, all_joints[:, self.joint_map], posed_joints)

    def shape(self, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 10) betas -> unposed vertices (B, V, 3) and joints (B, 24, 3); the pelvis (joint 0) stays at its
        unposed place under any pose."""
        v_shaped = self.v_template + (betas @ self.shapedirs).unflatten(1, (-1, 3))
        return v_shaped, self.j_regressor @ v_shaped

    def _world_transforms(self, rotmat: torch.Tensor, rest_joints: torch.Tensor) -> torch.Tensor:
        """(B, 24, 4, 4) joint-to-world transforms along the kinematic chain."""
        offsets = torch.cat([rest_joints[:, :1], rest_joints[:, 1:] - rest_joints[:, self.parents[1:]]], dim=1)
        local = torch.cat([rotmat, offsets[..., None]], dim=-1)
        bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=rotmat.dtype, device=rotmat.device)
        local = torch.cat([local, bottom.expand(*local.shape[:2], 1, 4)], dim=-2)
        chain = [local[:, 0]]
        for joint in range(1, NUM_JOINTS):
            chain.append(chain[self.parents[joint]] @ local[:, joint])
        return torch.stack(chain, dim=1)


def load_smpl_layer(data_dir: str | Path, model_name: str = "SMPL_NEUTRAL.pkl") -> SmplLayer:
    """SMPL layer from the data folder's SMPL model and J_regressor_extra.npy, with errors users can act on."""
    folder = Path(data_dir)
    try:
        model = load_smpl_model(folder / model_name)
    except SmplModelError as exc:
        raise BackendError(str(exc), FILES_BY_NAME["SMPL_NEUTRAL.pkl"].source) from exc
    extra = load_j_regressor(folder / "J_regressor_extra.npy", rows=len(EXTRA_JOINTS), num_verts=len(model.v_template))
    return SmplLayer(model, extra)


def load_j_regressor(path: Path, rows: int, num_verts: int) -> np.ndarray:
    """A (rows, num_verts) joint regressor .npy (no pickles allowed), or a BackendError naming the problem."""
    source = FILES_BY_NAME.get(path.name, FILES_BY_NAME["J_regressor_extra.npy"]).source
    if not path.is_file():
        raise BackendError(f"{path.name} not found in {path.parent}.", source)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BackendError(f"{path} is not a readable .npy array ({exc}).", source) from exc
    if array.shape != (rows, num_verts) or not np.issubdtype(array.dtype, np.floating):
        raise BackendError(
            f"{path} holds a {array.dtype} array of shape {array.shape}; "
            f"expected floating-point numbers of shape ({rows}, {num_verts}).",
            source,
        )
    return array
