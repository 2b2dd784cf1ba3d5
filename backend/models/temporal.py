"""VIBE's temporal generator: a causal GRU over per-frame features, then the HMR regressor on every frame."""

import torch
from torch import nn

from ..smpl_layer import SmplLayer
from .regressor import Regressor
from .resnet import FEATURE_SIZE


class TemporalEncoder(nn.Module):
    """Unidirectional 2-layer GRU (2048 -> 1024), ReLU, Linear back to 2048, plus the input feature (residual).

    The demo configuration of the official code (n_layers=2, hidden_size=1024, add_linear, use_residual).
    """

    def __init__(self, hidden_size: int = 1024, num_layers: int = 2) -> None:
        super().__init__()
        self.gru = nn.GRU(FEATURE_SIZE, hidden_size, num_layers=num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, FEATURE_SIZE)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, 2048) -> (B, T, 2048); each sequence starts from a zero hidden state."""
        hidden, _ = self.gru(features)
        return self.linear(torch.relu(hidden)) + features


class VibeGenerator(nn.Module):
    """Encoder + regressor; `state_dict()` keys equal the official `gen_state_dict` without `regressor.smpl.*`.

    The GRU's size defaults to the published models'; training may choose another (MODEL.TGRU in the official code).
    """

    def __init__(self, smpl: SmplLayer, hidden_size: int = 1024, num_layers: int = 2,
                 frame_batch: int | None = None) -> None:
        super().__init__()
        self.encoder = TemporalEncoder(hidden_size, num_layers)
        self.regressor = Regressor(smpl)
        self.frame_batch = frame_batch  # frames per regressor call (bounds SMPL's memory); None: all at once

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features (B, T, 2048) -> the regressor's outputs reshaped to (B, T, ...)."""
        batch, frames = features.shape[:2]
        encoded = self.encoder(features).reshape(batch * frames, -1)
        parts = [self.regressor(part) for part in encoded.split(self.frame_batch or max(len(encoded), 1))]
        return {key: torch.cat([part[key] for part in parts]).reshape(batch, frames, *parts[0][key].shape[1:])
                for key in parts[0]}
