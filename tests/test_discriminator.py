"""Motion discriminator: official parameter layout, forward pass against a numpy reference, and that it learns."""

import numpy as np
import pytest
import torch

from backend.checkpoints import load_exact
from backend.data_folder import VIBE_MODEL_FILE
from backend.errors import BackendError
from backend.models.discriminator import MotionDiscriminator, SelfAttentionPool, body_pose
from backend.train.losses import discriminator_losses
from tests.checkpoints_synthetic import motion_discriminator_state
from tests.test_vibe_model import np_gru


def np_discriminator(weights: dict, poses: np.ndarray, gru_layers: int, attention_layers: int) -> np.ndarray:
    """Independent float64 reference: GRU, tanh-MLP scores softmaxed over time, weighted sum, Linear."""
    hidden = np_gru(poses, weights, "gru", gru_layers)
    scores = hidden
    for index in range(attention_layers):
        name = f"attention.attention.{3 * index}"
        scores = np.tanh(scores @ weights[f"{name}.weight"].T + weights[f"{name}.bias"])
    scores = np.exp(scores[..., 0] - scores[..., 0].max(axis=1, keepdims=True))
    attention = scores / scores.sum(axis=1, keepdims=True)
    pooled = (hidden * attention[..., None]).sum(axis=1)
    return pooled @ weights["fc.weight"].T + weights["fc.bias"]


def test_parameters_have_the_official_names_and_shapes():
    official = motion_discriminator_state()
    ours = MotionDiscriminator().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in official.items()}


def test_forward_matches_a_numpy_reference_on_official_weights():
    official = motion_discriminator_state(seed=3)
    model = MotionDiscriminator().eval()
    load_exact(model, official, "disc.pth.tar", VIBE_MODEL_FILE)
    poses = np.random.default_rng(0).normal(scale=0.4, size=(2, 5, 69))
    with torch.no_grad():
        scores = model(torch.as_tensor(poses, dtype=torch.float32)).numpy()
    reference = np_discriminator({k: v.double().numpy() for k, v in official.items()}, poses, 2, 3)
    assert scores.shape == (2, 1)
    np.testing.assert_allclose(scores, reference, atol=1e-4)


def test_attention_with_equal_scores_pools_the_mean_over_time():
    pool = SelfAttentionPool(size=4, layers=2, dropout=0.0)
    with torch.no_grad():
        for module in pool.attention:
            if isinstance(module, torch.nn.Linear):
                module.weight.zero_()
    sequence = torch.randn(3, 7, 4)
    pooled, weights = pool(sequence)
    torch.testing.assert_close(weights, torch.full((3, 7), 1 / 7))
    torch.testing.assert_close(pooled, sequence.mean(dim=1))


def test_input_is_the_body_pose_without_camera_root_or_shape():
    theta = torch.arange(85.0).expand(2, 3, 85)
    torch.testing.assert_close(body_pose(theta), torch.arange(6.0, 75.0).expand(2, 3, 69))
    with pytest.raises(ValueError, match=r"\(B, T, 69\)"):
        MotionDiscriminator(hidden_size=8, num_layers=1)(theta)


def smooth_motion(rng: np.random.Generator, count: int, frames: int) -> torch.Tensor:
    """Body poses moving like joints do: each angle a slow sinusoid of its own amplitude, frequency and phase."""
    t = np.arange(frames)[None, :, None]
    amplitude = rng.uniform(0.1, 0.5, size=(count, 1, 69))
    frequency = rng.uniform(0.02, 0.08, size=(count, 1, 69))
    phase = rng.uniform(0, 2 * np.pi, size=(count, 1, 69))
    return torch.as_tensor(amplitude * np.sin(2 * np.pi * frequency * t + phase), dtype=torch.float32)


def jitter(rng: np.random.Generator, count: int, frames: int) -> torch.Tensor:
    """Poses drawn independently every frame, with the same range as the smooth motion."""
    return torch.as_tensor(rng.uniform(-0.5, 0.5, size=(count, frames, 69)), dtype=torch.float32)


def test_discriminator_learns_to_tell_smooth_motion_from_noise():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    model = MotionDiscriminator(hidden_size=32, num_layers=1, attention_layers=2, attention_dropout=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(150):
        real_loss, fake_loss = discriminator_losses(model(smooth_motion(rng, 16, 16)), model(jitter(rng, 16, 16)))
        optimizer.zero_grad()
        (real_loss + fake_loss).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        real, fake = model(smooth_motion(rng, 200, 16)).squeeze(1), model(jitter(rng, 200, 16)).squeeze(1)
    assert real.mean() > 0.8 and fake.mean() < 0.2
    assert ((real > 0.5).float().mean() + (fake < 0.5).float().mean()) / 2 > 0.95


def test_a_checkpoint_of_another_size_is_refused_by_name():
    with pytest.raises(BackendError, match="wrong shape: gru.weight_ih_l0"):
        load_exact(MotionDiscriminator(hidden_size=16), motion_discriminator_state(), "x.pth.tar", VIBE_MODEL_FILE)
