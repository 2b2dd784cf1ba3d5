"""TCMR (CVPR 2021) from the official data folder: SPIN's ResNet-50 features -> TCMR's temporal encoder on a 16-frame
window centred on every frame -> VIBE's SMPL regressor. Same API as VIBE (`backend.vibe`):

    model = load_tcmr(data_dir, checkpoint="tcmr_demo_model.pth.tar", device="cpu")
    feats = model.extract_features(crops)   # (N, 3, 224, 224) ImageNet-normalised -> (N, 2048)
    out = model.regress(feats[None])        # (B, T, 2048) -> theta, verts, kp_2d, kp_3d, rotmat per frame
    result = model.estimate(crops_rgb)      # estimator contract: uint8 (N, 224, 224, 3) -> pose, betas, cam, joints3d

Checkpoint layout and the demo's conventions: docs/tcmr_checkpoint.md.
"""

from pathlib import Path

import torch

from .checkpoints import resolve_device
from .data_folder import FILES_BY_NAME
from .models.resnet import FEATURE_SIZE
from .models.tcmr import DEMO_SEQ_LEN, TcmrGenerator
from .smpl_layer import load_smpl_layer
from .vibe import VibeModel, load_generator, load_spin_backbone

TCMR_MODEL_FILE = FILES_BY_NAME["tcmr_demo_model.pth.tar"]


class TcmrModel(VibeModel):
    """VIBE's inference wrapper around TCMR's generator: `regress` gives each frame the output of its own window."""

    name = "tcmr"
    sequence_chunk = None  # every frame has its own window: regress all crops at once, no restart inside
    context = (DEMO_SEQ_LEN // 2, DEMO_SEQ_LEN // 2 - 1)  # a window reaches 8 frames back and 7 ahead
    crop_scale = camera_box_scale = 1.2  # TCMR's demo crops 1.2 times the box and converts its camera with that box
    encoder_input = (2, DEMO_SEQ_LEN, FEATURE_SIZE), (0,)  # the encoder's input for tracing: any number of windows
    fixed_length_gru = True  # 16-frame windows


def load_tcmr(data_dir: str | Path, checkpoint: str = "tcmr_demo_model.pth.tar",
              device: str | torch.device = "cpu", edges: str = "pad") -> TcmrModel:
    """Build TCMR from the data folder (TCMR's base_data); `checkpoint` is a file name in it (or a path).

    `edges` picks the windows of the first and last frames: "pad" (repeat the sequence's first/last frame) or
    "official" (the official demo's static windows), see `backend.models.tcmr.demo_windows`."""
    folder = Path(data_dir)
    target = resolve_device(device)
    checkpoint_path = folder / checkpoint
    generator = TcmrGenerator(load_smpl_layer(folder), edges=edges)
    load_generator(generator, folder, checkpoint_path, TCMR_MODEL_FILE, target)
    return TcmrModel(load_spin_backbone(folder, target), generator, target,
                     version=checkpoint_path.name.removesuffix(".pth.tar"))
