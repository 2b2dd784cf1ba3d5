"""VIBE (CVPR 2020) from the official data folder: SPIN's ResNet-50 features -> temporal GRU -> SMPL regressor.

    model = load_vibe(data_dir, checkpoint="vibe_model_wo_3dpw.pth.tar", device="cpu")
    feats = model.extract_features(crops)   # (N, 3, 224, 224) ImageNet-normalised -> (N, 2048)
    out = model.regress(feats[None])        # (B, T, 2048) -> theta, verts, kp_2d, kp_3d, rotmat per frame
    result = model.estimate(crops_rgb)      # estimator contract: uint8 (N, 224, 224, 3) -> pose, betas, cam, joints3d
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoints import load_exact, load_mean_params, read_checkpoint, resolve_device
from .data_folder import FILES_BY_NAME, VIBE_MODEL_FILE, DataFile
from .models.resnet import CROP_SIZE, FEATURE_SIZE, ResNet50Features, normalize_imagenet
from .models.temporal import VibeGenerator
from .smpl_layer import load_smpl_layer

CHUNK_FRAMES = 450  # the official demo's batch: one causal GRU sequence per 450 frames of a tracklet
FEATURE_BATCH = {"cuda": 64, "cpu": 8}  # crops per backbone call: on the CPU 8 run as fast as 64, in 1/8 the memory
REGRESSOR_BATCH = 64  # frames per regressor call: bounds the memory of SMPL's vertices and skinning
_SPIN_HEAD_KEYS = ("fc1.", "fc2.", "decpose.", "decshape.", "deccam.", "init_pose", "init_shape", "init_cam", "smpl.")
_INIT_KEYS = ("regressor.init_pose", "regressor.init_shape", "regressor.init_cam")


class VibeModel:
    """Inference wrapper: eval mode (dropout off, BatchNorm running statistics), batched, no autograd."""

    name = "vibe"
    sequence_chunk: int | None = CHUNK_FRAMES  # frames per GRU sequence in `estimate`; None: one sequence
    context = (0, 0)  # frames before/after a chunk the pipeline must add (VIBE's GRU restarts at chunks: none)
    encoder_input = (1, 4, FEATURE_SIZE), (0, 1)  # the encoder's input for tracing: (B, T, F), any B and T
    fixed_length_gru = False  # the encoder's GRUs run a fixed number of steps (OpenVINO: converted unrolled)

    def __init__(self, backbone: ResNet50Features, generator: VibeGenerator, device: torch.device, version: str,
                 feature_batch: int | None = None) -> None:
        self.backbone = backbone.to(device).eval()
        self.generator = generator.to(device).eval()
        self.smpl = self.generator.regressor.smpl  # for the pelvis, whatever runs the regressor
        self.device = device
        self.runtime = "torch"
        self.version = version
        self.feature_batch = feature_batch or FEATURE_BATCH.get(device.type, 64)

    @torch.inference_mode()
    def extract_features(self, crops: torch.Tensor) -> torch.Tensor:
        """ImageNet-normalised crops (N, 3, 224, 224) float -> (N, 2048) features, in batches of `feature_batch`."""
        if not crops.is_floating_point() or crops.ndim != 4 or tuple(crops.shape[1:]) != (3, CROP_SIZE, CROP_SIZE):
            raise ValueError(f"expected float crops of shape (N, 3, {CROP_SIZE}, {CROP_SIZE}), "
                             f"got {crops.dtype} {tuple(crops.shape)}")
        batches = [self.backbone(batch.to(self.device, torch.float32)) for batch in crops.split(self.feature_batch)]
        return torch.cat(batches) if batches else torch.zeros(0, FEATURE_SIZE, device=self.device)

    @torch.inference_mode()
    def regress(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features (B, T, 2048) -> theta (B, T, 85), verts (B, T, 6890, 3), kp_2d (B, T, 49, 2),
        kp_3d (B, T, 49, 3), rotmat (B, T, 24, 3, 3); each of the B sequences runs from a fresh GRU state."""
        if not features.is_floating_point() or features.ndim != 3 or features.shape[-1] != FEATURE_SIZE:
            raise ValueError(f"expected float features of shape (B, T, {FEATURE_SIZE}), "
                             f"got {features.dtype} {tuple(features.shape)}")
        return self.generator(features.to(self.device, torch.float32))

    def estimate(self, crops_rgb: np.ndarray) -> dict[str, np.ndarray]:
        """One tracklet's uint8 RGB crops (N, 224, 224, 3) in frame order -> pose (N, 72), betas (N, 10),
        cam (N, 3) crop camera (s, tx, ty), joints3d (N, 49, 3), pelvis (N, 3) the SMPL root joint in model
        coordinates (to place the root whatever skeleton the motion lands on); fed in sequences of
        `sequence_chunk` (450) frames as the official demo, features in batches."""
        if len(crops_rgb) == 0:
            raise ValueError("estimate() needs at least one crop")
        parts = []
        step = self.sequence_chunk or len(crops_rgb)
        for start in range(0, len(crops_rgb), step):
            crops = crops_rgb[start:start + step]
            features = torch.cat([self.extract_features(normalize_imagenet(crops[i:i + self.feature_batch],
                                                                           self.device))
                                  for i in range(0, len(crops), self.feature_batch)])  # float crops of one batch
            output = self.regress(features[None])
            parts.append({k: output[k][0].cpu().numpy() for k in ("theta", "kp_3d")})
        theta = np.concatenate([p["theta"] for p in parts])
        with torch.inference_mode():
            pelvis = self.smpl.shape(torch.as_tensor(theta[:, 75:], device=self.device))[1][:, 0].cpu().numpy()
        return {
            "pelvis": pelvis,
            "pose": theta[:, 3:75],
            "betas": theta[:, 75:],
            "cam": theta[:, :3],
            "joints3d": np.concatenate([p["kp_3d"] for p in parts]),
        }

    def use_openvino(self, cache_dir: Path | None = None) -> None:
        """Run the backbone, the temporal encoder and the regressor (with SMPL) compiled by OpenVINO for the CPU
        (`backend.openvino_runtime`: same outputs within 1e-4). All three or none: if one fails, the torch modules
        stay and the error (ImportError, ParityError, OpenVINO's RuntimeError) is raised."""
        from .openvino_runtime import compile_module

        if self.device.type != "cpu":
            raise ValueError(f"OpenVINO runs these models on the CPU, not on {self.device}")
        generator = self.generator
        parts = (compile_module(self.backbone, (2, 3, CROP_SIZE, CROP_SIZE), (0,), cache_dir),
                 compile_module(generator.encoder, *self.encoder_input, cache_dir, self.fixed_length_gru),
                 compile_module(generator.regressor, (2, FEATURE_SIZE), (0,), cache_dir))
        self.backbone, generator.encoder, generator.regressor = parts
        self.runtime = "openvino"


def load_vibe(data_dir: str | Path, checkpoint: str = "vibe_model_wo_3dpw.pth.tar",
              device: str | torch.device = "cpu") -> VibeModel:
    """Build VIBE from the data folder; `checkpoint` is a file name in it (or a path). Every file is checked."""
    folder = Path(data_dir)
    target = resolve_device(device)
    checkpoint_path = folder / checkpoint
    generator = VibeGenerator(load_smpl_layer(folder), frame_batch=REGRESSOR_BATCH)
    load_generator(generator, folder, checkpoint_path, VIBE_MODEL_FILE, target)
    return VibeModel(load_spin_backbone(folder, target), generator, target,
                     version=checkpoint_path.name.removesuffix(".pth.tar"))


def load_generator(generator: nn.Module, data_dir: str | Path, checkpoint_path: Path, expected: DataFile,
                   device: torch.device) -> None:
    """Fill a generator (encoder + regressor, VIBE's or TCMR's) from a checkpoint's `gen_state_dict`, key for key."""
    state = read_checkpoint(checkpoint_path, "gen_state_dict", expected, device)
    if not any(key in state for key in _INIT_KEYS):  # older checkpoints leave the start values to the npz file
        mean_params = load_mean_params(Path(data_dir) / "smpl_mean_params.npz", FILES_BY_NAME["smpl_mean_params.npz"])
        state.update({f"regressor.{k}": v for k, v in mean_params.items()})
    load_exact(generator, state, checkpoint_path, expected, ignore=("regressor.smpl.",))


def load_spin_backbone(data_dir: str | Path, device: torch.device) -> ResNet50Features:
    """SPIN's ResNet-50 from the data folder's spin_model_checkpoint.pth.tar (its regressor head is not used)."""
    spin_file = FILES_BY_NAME["spin_model_checkpoint.pth.tar"]
    spin_path = Path(data_dir) / spin_file.name
    backbone = ResNet50Features()
    load_exact(backbone, read_checkpoint(spin_path, "model", spin_file, device), spin_path, spin_file,
               ignore=_SPIN_HEAD_KEYS)
    return backbone
