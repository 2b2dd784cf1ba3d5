"""VIBE's motion discriminator: is a sequence of body poses real human motion (AMASS) or the generator's output?

A GRU reads the 69 body-pose numbers of every frame (SMPL's 23 body joints in axis-angle; the global orientation is
left out), self-attention pooling weighs the GRU's outputs over time, and a linear layer gives one score per sequence.
Parameter names equal the official `disc_motion_state_dict`: `gru.*`, `attention.attention.{0,3,...}.*`, `fc.*`.
The official code requires the attention size to equal the GRU's hidden size, so one `hidden_size` sets both.
"""

import torch
from torch import nn

BODY_POSE = slice(6, 75)  # theta = cam (3) + root orientation (3) + body pose (69) + betas (10)
BODY_POSE_SIZE = BODY_POSE.stop - BODY_POSE.start


def body_pose(theta: torch.Tensor) -> torch.Tensor:
    """(..., 85) theta -> (..., 69) body pose, the discriminator's input."""
    return theta[..., BODY_POSE]


class SelfAttentionPool(nn.Module):
    """Scores every time step with an MLP (tanh after each layer, dropout), softmax over time, weighted sum.

    `attention` holds [Linear, Tanh, Dropout] per layer, the last Linear giving one score, so with 3 layers its
    Linear layers are `attention.0`, `attention.3` and `attention.6`, as in the official checkpoints.
    """

    def __init__(self, size: int, layers: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"attention needs at least one layer, got {layers}")
        modules: list[nn.Module] = []
        for index in range(layers):
            modules += [nn.Linear(size, 1 if index == layers - 1 else size), nn.Tanh(), nn.Dropout(dropout)]
        self.attention = nn.Sequential(*modules)
        for module in self.attention:
            if isinstance(module, nn.Linear):  # the official initialisation
                nn.init.uniform_(module.weight, -0.1, 0.1)
                nn.init.constant_(module.bias, 0.01)

    def forward(self, sequence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, size) -> pooled (B, size) and the attention weights (B, T), which sum to one over time."""
        weights = torch.softmax(self.attention(sequence).squeeze(-1), dim=-1)
        return (sequence * weights.unsqueeze(-1)).sum(dim=1), weights


class MotionDiscriminator(nn.Module):
    """GRU -> attention pooling -> Linear: one realism score per pose sequence (least-squares GAN: 1 real, 0 fake).

    Defaults are the published configuration (configs/config.yaml: 2 GRU layers of 1024, 3 attention layers,
    attention dropout 0.2).
    """

    def __init__(self, hidden_size: int = 1024, num_layers: int = 2, attention_layers: int = 3,
                 attention_dropout: float = 0.2, input_size: int = BODY_POSE_SIZE) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.attention = SelfAttentionPool(hidden_size, attention_layers, attention_dropout)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        """Body poses (B, T, 69) -> scores (B, 1); each sequence starts from a zero GRU state."""
        if poses.ndim != 3 or poses.shape[-1] != self.gru.input_size:
            raise ValueError(f"expected body poses of shape (B, T, {self.gru.input_size}), got {tuple(poses.shape)}")
        outputs, _ = self.gru(poses)
        pooled, _ = self.attention(outputs)
        return self.fc(pooled)
