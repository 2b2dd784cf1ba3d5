"""TCMR's temporal part (Choi et al., CVPR 2021): three GRU views of a 16-frame window fused by temporal attention.

Module and parameter names follow the official `lib/models/tcmr.py` so that `gen_state_dict` of
`tcmr_demo_model.pth.tar` loads key for key under the `encoder.` prefix (see docs/tcmr_checkpoint.md):
- `gru_cur`: bidirectional GRU over the whole window, read at the mid frame;
- `gru_bef`: GRU over the frames before the mid frame, read at its last step (PoseForecast from the past);
- `gru_aft`: GRU over the frames after the mid frame in reverse order, read at its last step (from the future);
- `linear_cur/bef/aft`: ReLU then a linear map of each view back to the feature size;
- `attention`: scores the three views (softmax) and the encoder returns their weighted sum.
The mid frame itself never enters `gru_bef`/`gru_aft`, which is what keeps TCMR from leaning on the static feature.
Unlike VIBE's encoder there is no residual: the fused feature goes straight to the regressor.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..smpl_layer import SmplLayer
from .regressor import Regressor
from .resnet import FEATURE_SIZE

DEMO_SEQ_LEN = 16
DEMO_HIDDEN_SIZE = 1024
DEMO_NUM_LAYERS = 2
ATTENTION_HIDDEN = 256


class TemporalAttention(nn.Module):
    """Softmax weights over `num_views` feature vectors: a shared projection, then a tanh MLP on their concatenation."""

    def __init__(self, feature_size: int = FEATURE_SIZE, num_views: int = 3, hidden: int = ATTENTION_HIDDEN) -> None:
        super().__init__()
        self.fc = nn.Linear(feature_size, hidden)
        self.attention = nn.Sequential(
            nn.Linear(hidden * num_views, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, num_views),
            nn.Tanh(),
        )

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """views (B, num_views, F) -> scores (B, num_views) summing to 1."""
        projected = self.fc(views).flatten(1)
        return torch.softmax(self.attention(projected), dim=-1)


class TemporalEncoder(nn.Module):
    """TCMR's encoder: (B, seq_len, F) windows -> one fused (B, F) feature for each window's mid frame."""

    def __init__(
        self,
        seq_len: int = DEMO_SEQ_LEN,
        hidden_size: int = DEMO_HIDDEN_SIZE,
        num_layers: int = DEMO_NUM_LAYERS,
        feature_size: int = FEATURE_SIZE,
        attention_hidden: int = ATTENTION_HIDDEN,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.mid_frame = seq_len // 2

        def gru(bidirectional: bool) -> nn.GRU:
            return nn.GRU(feature_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                          batch_first=True)

        self.gru_cur = gru(bidirectional=True)
        self.gru_bef = gru(bidirectional=False)
        self.gru_aft = gru(bidirectional=False)
        self.linear_cur = nn.Linear(2 * hidden_size, feature_size)
        self.linear_bef = nn.Linear(hidden_size, feature_size)
        self.linear_aft = nn.Linear(hidden_size, feature_size)
        self.attention = TemporalAttention(feature_size, num_views=3, hidden=attention_hidden)

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """windows (B, seq_len, F) -> (fused feature (B, F), attention scores (B, 3) for past, current, future)."""
        if windows.ndim != 3 or windows.shape[1] != self.seq_len:
            raise ValueError(f"TCMR expects windows of shape (B, {self.seq_len}, F), got {tuple(windows.shape)}")
        mid = self.mid_frame
        current = self.gru_cur(windows)[0][:, mid]
        past = self.gru_bef(windows[:, :mid])[0][:, -1]
        future = self.gru_aft(windows[:, mid + 1:].flip(1))[0][:, -1]
        views = torch.stack(
            [self.linear_bef(F.relu(past)), self.linear_cur(F.relu(current)), self.linear_aft(F.relu(future))], dim=1
        )
        scores = self.attention(views)
        return (views * scores[:, :, None]).sum(dim=1), scores


EDGE_MODES = ("pad", "official")


def demo_windows(num_frames: int, seq_len: int = DEMO_SEQ_LEN, edges: str = "pad") -> np.ndarray:
    """(num_frames, seq_len) frame indices of the window fed for each frame (stride 1), frame t at the mid position
    of t-8 .. t+7 (seq_len 16).

    edges="pad" (the default, as specified for this project): near the ends the sequence is padded by repeating its
    first and last frames, so edge frames keep real temporal context. edges="official": what the official
    `FeatureDataset` (lib/dataset/_dataset_demo.py) does, where a full window does not fit (the first 8 and last 7
    frames) the frame's own feature is repeated 16 times.
    """
    if edges not in EDGE_MODES:
        raise ValueError(f"edges must be one of {EDGE_MODES}, got {edges!r}")
    mid = seq_len // 2
    frames = np.arange(num_frames)
    padded = np.clip(frames[:, None] - mid + np.arange(seq_len), 0, num_frames - 1)
    if edges == "pad":
        return padded
    fits = (frames >= mid) & (frames - mid + seq_len <= num_frames)
    return np.where(fits[:, None], padded, frames[:, None])


class TcmrGenerator(nn.Module):
    """Encoder + VIBE's regressor; `state_dict()` keys equal the official `gen_state_dict` without `regressor.smpl.*`.

    Called like VIBE's generator: per-frame features in, per-frame outputs out; each frame's output comes from the
    window `demo_windows` gives it, `window_batch` windows at a time (the demo's batch size is 64).
    """

    def __init__(self, smpl: SmplLayer, window_batch: int = 64, edges: str = "pad") -> None:
        super().__init__()
        self.encoder = TemporalEncoder()
        self.regressor = Regressor(smpl)
        self.seq_len = self.encoder.seq_len  # kept here: the encoder may be swapped for a compiled one
        self.window_batch = window_batch
        self.edges = edges

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features (B, T, 2048) -> the regressor's outputs reshaped to (B, T, ...), one per frame."""
        batch, frames = features.shape[:2]
        if frames == 0:
            raise ValueError("TCMR needs at least one frame of features")
        windows = torch.from_numpy(demo_windows(frames, self.seq_len, self.edges)).to(features.device)
        parts = []
        for chunk in windows.split(self.window_batch):
            fused, _ = self.encoder(features[:, chunk].flatten(0, 1))  # (B * len(chunk), 16, F) -> (B * len(chunk), F)
            output = self.regressor(fused)
            parts.append({k: v.reshape(batch, len(chunk), *v.shape[1:]) for k, v in output.items()})
        return {key: torch.cat([part[key] for part in parts], dim=1) for key in parts[0]}
