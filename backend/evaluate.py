"""`python -m backend.evaluate`: MPJPE, PA-MPJPE, PVE and acceleration error of a VIBE checkpoint on a database in
the 3DPW layout, by the official protocol (lib/core/evaluate.py).

Protocol: the database's videos are cut into non-overlapping windows of `seqlen` frames (a video's last frames that
fill no whole window are left out), each window runs through the generator from a fresh GRU state, the predicted mesh
gives the 14 LSP joints through `J_regressor_h36m.npy`, both skeletons are centred on their hips' midpoint, and the
per-frame errors are averaged over every evaluated frame; acceleration error runs over the windows laid end to end.
PVE compares the predicted mesh with the SMPL mesh of the labelled `pose` and `shape`, neither one moved.
"""

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from smpl_rig.rotations import axis_angle_to_matrix

from . import metrics
from .arguments import positive_int
from .checkpoints import read_checkpoint, resolve_device
from .data_folder import FILES_BY_NAME, VIBE_MODEL_FILE, data_file, find_vibe_checkpoint
from .errors import BackendError
from .models.temporal import VibeGenerator
from .smpl_layer import load_j_regressor, load_smpl_layer
from .train import run_command
from .train.data import COMMON_JOINTS, SPIN_JOINTS, load_database, window_starts
from .vibe import load_generator

H36M_TO_LSP14 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)  # J_regressor_h36m rows -> the 14 common joints
LSP_HIPS = (2, 3)  # right and left hip among the 14 common joints
EVAL_KEYS = ("vid_name", "features", "joints3D")


@torch.no_grad()
def evaluate_database(generator: VibeGenerator, db: Mapping[str, Any], j_regressor_h36m: torch.Tensor,
                      seqlen: int = 16, batch_size: int = 32) -> dict[str, float]:
    """Errors of `generator` on database `db` (official evaluation; see the module docstring), in millimetres:
    mpjpe, pa_mpjpe, accel_error, and pve when the database has `pose` and `shape`; plus the frame count."""
    starts = window_starts(np.asarray(db["vid_name"][:]), seqlen, seqlen)
    if len(starts) == 0:
        raise BackendError(f"The evaluation database has no video of at least {seqlen} frames.",
                           "Lower --seqlen or evaluate on a database with longer videos.")
    generator.eval()
    device = j_regressor_h36m.device
    smpl = generator.regressor.smpl
    with_mesh = "pose" in db and "shape" in db
    predicted, labelled, vertex_errors = [], [], []
    for chunk in np.array_split(starts, -(-len(starts) // batch_size)):
        rows = (chunk[:, None] + np.arange(seqlen)).ravel()
        features = torch.as_tensor(np.asarray(db["features"][rows], dtype=np.float32), device=device)
        output = generator(features.reshape(len(chunk), seqlen, -1))
        vertices = output["verts"].reshape(len(rows), -1, 3)
        predicted.append(torch.einsum("jv,nvc->njc", j_regressor_h36m, vertices)[:, H36M_TO_LSP14].cpu().numpy())
        labelled.append(labelled_joints(np.asarray(db["joints3D"][rows])))
        if with_mesh:
            vertex_errors.append(metrics.pve(vertices.cpu().numpy(), _label_mesh(smpl, db, rows, device)))
    pred = metrics.center_on_hips(np.concatenate(predicted), LSP_HIPS)
    true = metrics.center_on_hips(np.concatenate(labelled), LSP_HIPS)
    result = {
        "mpjpe": float(metrics.mpjpe(pred, true).mean()),
        "pa_mpjpe": float(metrics.pa_mpjpe(pred, true).mean()),
        "accel_error": float(metrics.accel_error(pred, true).mean()),
    }
    if with_mesh:
        result["pve"] = float(np.concatenate(vertex_errors).mean())
    return result | {"frames": len(pred)}


def labelled_joints(joints: np.ndarray) -> np.ndarray:
    """Labelled 3D joints (N, 14, 3+) of the evaluation splits, or (N, 49, 3+) VIBE joints -> (N, 14, 3)."""
    joints = np.asarray(joints, dtype=np.float64)[..., :3]
    if joints.ndim == 3 and joints.shape[1] == len(COMMON_JOINTS):
        return joints
    if joints.ndim == 3 and joints.shape[1] == len(SPIN_JOINTS):
        return joints[:, 25:39]
    raise BackendError(f"joints3D has shape {joints.shape}; expected (frames, 14, 3) or (frames, 49, 3).",
                       "Evaluate on a database in the 3DPW layout (see docs/training.md).")


def _label_mesh(smpl: torch.nn.Module, db: Mapping[str, Any], rows: np.ndarray, device: torch.device) -> np.ndarray:
    """Vertices (N, V, 3) of the labelled SMPL parameters, in the model's own frame (no translation)."""
    rotmat = axis_angle_to_matrix(np.asarray(db["pose"][rows], dtype=np.float64).reshape(-1, 24, 3))
    betas = np.asarray(db["shape"][rows], dtype=np.float32)[:, :10]
    body = smpl(torch.as_tensor(betas, device=device), torch.as_tensor(rotmat, dtype=torch.float32, device=device))
    return body.vertices.cpu().numpy()


def load_checkpoint_generator(data_dir: Path, checkpoint: str | None, device: torch.device) -> VibeGenerator:
    """The generator of a VIBE checkpoint (official or from backend.train), SMPL from the data folder."""
    if not data_dir.is_dir():
        raise BackendError(f"The data folder {data_dir} does not exist.",
                           "Pass --data-dir the official vibe_data folder (SMPL, J_regressor_*; see docs/training.md).")
    name = checkpoint or find_vibe_checkpoint(data_dir)
    if name is None:
        raise BackendError(f"No VIBE checkpoint was given and {data_dir} holds none.",
                           "Pass --checkpoint with a vibe_model_*.pth.tar or a training checkpoint.")
    path = data_file(data_dir, name)
    state = read_checkpoint(path, "gen_state_dict", VIBE_MODEL_FILE, device)
    generator = VibeGenerator(load_smpl_layer(data_dir), *gru_size(state)).to(device)
    load_generator(generator, data_dir, path, VIBE_MODEL_FILE, device)  # the backend's loader: every key checked
    return generator


def gru_size(state: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    """(hidden size, layers) of the temporal GRU in a `gen_state_dict` (published: 1024, 2)."""
    layers = sum(1 for k in state if k.startswith("encoder.gru.weight_hh_l"))
    if layers == 0:
        raise BackendError("The checkpoint's gen_state_dict has no encoder.gru weights: it is not a VIBE generator.",
                           VIBE_MODEL_FILE.source)
    return state["encoder.gru.weight_hh_l0"].shape[1], layers


def load_h36m_regressor(data_dir: Path, num_verts: int, device: torch.device) -> torch.Tensor:
    """J_regressor_h36m.npy (17, V) of the data folder as a float32 tensor."""
    path = data_dir / FILES_BY_NAME["J_regressor_h36m.npy"].name
    return torch.as_tensor(load_j_regressor(path, rows=17, num_verts=num_verts), dtype=torch.float32, device=device)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend.evaluate", description="Evaluate a VIBE checkpoint on "
                                     "a database in the 3DPW layout; prints one JSON line of errors in mm.")
    parser.add_argument("--db", type=Path, required=True, help="database file, e.g. data/vibe_db/3dpw_test_db.pt")
    parser.add_argument("--data-dir", type=Path, required=True, help="the vibe_data folder (SMPL, J_regressor_*)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint: a file name in the data folder or a path "
                        "(default: the folder's VIBE model)")
    parser.add_argument("--seqlen", type=positive_int, default=16, help="window length (official: 16)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="windows per forward pass")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> None:
        device = resolve_device(args.device)
        generator = load_checkpoint_generator(args.data_dir, args.checkpoint, device)
        regressor = load_h36m_regressor(args.data_dir, generator.regressor.smpl.v_template.shape[0], device)
        result = evaluate_database(generator, load_database(args.db, EVAL_KEYS), regressor, args.seqlen,
                                   args.batch_size)
        print(json.dumps({"db": str(args.db), **result}))

    return run_command(run)


if __name__ == "__main__":
    sys.exit(main())
