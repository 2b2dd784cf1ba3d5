"""Synthetic stand-ins for the licensed VIBE/SPIN data files: the official layouts and shapes, seeded random values.

The key lists are written out from the official layout (docs: /work/shared/formats/vibe_official_files.md), not
taken from the backend's modules, so loading them is a real check of the backend's key names. Checkpoints are saved
in torch's legacy (pre-1.6) format, as the published files are, and VIBE's `performance` is a numpy scalar.
"""

from pathlib import Path

import numpy as np
import torch

from tests.synthetic import NUM_FACES, NUM_VERTS, write_smpl_model

RESNET50_BLOCKS = (3, 4, 6, 3)
NUM_POSE_6D, NUM_BETAS, FEATURE_SIZE = 144, 10, 2048


def _uniform(gen: torch.Generator, shape: tuple[int, ...], bound: float) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


def _linear(gen: torch.Generator, name: str, fan_in: int, fan_out: int, scale: float = 1.0) -> dict:
    """PyTorch's default Linear init range, times `scale`."""
    bound = scale / fan_in ** 0.5
    return {f"{name}.weight": _uniform(gen, (fan_out, fan_in), bound), f"{name}.bias": _uniform(gen, (fan_out,), bound)}


def _gru(gen: torch.Generator, name: str, input_size: int, hidden: int, layers: int) -> dict:
    bound = 1 / hidden ** 0.5
    state = {}
    for layer in range(layers):
        inputs = input_size if layer == 0 else hidden
        state[f"{name}.weight_ih_l{layer}"] = _uniform(gen, (3 * hidden, inputs), bound)
        state[f"{name}.weight_hh_l{layer}"] = _uniform(gen, (3 * hidden, hidden), bound)
        state[f"{name}.bias_ih_l{layer}"] = _uniform(gen, (3 * hidden,), bound)
        state[f"{name}.bias_hh_l{layer}"] = _uniform(gen, (3 * hidden,), bound)
    return state


def mean_pose_6d(rng: np.random.Generator) -> np.ndarray:
    """(144,) 6D rotations near the official mean: root turned 180 degrees about x (camera frame), rest near rest."""
    rotations = np.tile(np.eye(3), (24, 1, 1))
    rotations[0] = np.diag([1.0, -1.0, -1.0])
    return (rotations[:, :, :2].reshape(-1) + rng.normal(scale=0.05, size=NUM_POSE_6D)).astype(np.float32)


def regressor_state(gen: torch.Generator, prefix: str = "") -> dict:
    """HMR regressor keys (fc1, fc2, decpose, decshape, deccam, init_*), decoders large enough to move the pose."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=gen)))
    state = {
        **_linear(gen, "fc1", FEATURE_SIZE + NUM_POSE_6D + NUM_BETAS + 3, 1024),
        **_linear(gen, "fc2", 1024, 1024),
        **_linear(gen, "decpose", 1024, NUM_POSE_6D, scale=0.5),
        **_linear(gen, "decshape", 1024, NUM_BETAS, scale=0.5),
        **_linear(gen, "deccam", 1024, 3, scale=0.05),
        "init_pose": torch.from_numpy(mean_pose_6d(rng))[None],
        "init_shape": torch.from_numpy(rng.normal(scale=0.3, size=(1, NUM_BETAS)).astype(np.float32)),
        "init_cam": torch.tensor([[0.9, 0.02, 0.15]]),
    }
    return {prefix + k: v for k, v in state.items()}


def smpl_module_state(prefix: str) -> dict:
    """Buffers and parameters an smplx SMPL layer (plus VIBE's J_regressor_extra) leaves in a state dict; zeros."""
    shapes = {
        "betas": (1, NUM_BETAS), "global_orient": (1, 3), "body_pose": (1, 69), "v_template": (NUM_VERTS, 3),
        "shapedirs": (NUM_VERTS, 3, NUM_BETAS), "J_regressor": (24, NUM_VERTS), "posedirs": (207, NUM_VERTS * 3),
        "lbs_weights": (NUM_VERTS, 24), "J_regressor_extra": (9, NUM_VERTS),
    }
    state = {prefix + k: torch.zeros(s) for k, s in shapes.items()}
    state[prefix + "faces_tensor"] = torch.zeros(NUM_FACES, 3, dtype=torch.long)
    state[prefix + "parents"] = torch.zeros(24, dtype=torch.long)
    state[prefix + "vertex_joint_selector.extra_joints_idxs"] = torch.zeros(21, dtype=torch.long)
    return state


def vibe_generator_state(seed: int = 0, smpl_keys: bool = True) -> dict:
    """`gen_state_dict` of the demo configuration: GRU 2048->1024 x2, Linear 1024->2048, HMR regressor."""
    gen = torch.Generator().manual_seed(seed)
    state = {**_gru(gen, "encoder.gru", FEATURE_SIZE, 1024, 2), **_linear(gen, "encoder.linear", 1024, FEATURE_SIZE)}
    state.update(regressor_state(gen, "regressor."))
    if smpl_keys:
        state.update(smpl_module_state("regressor.smpl."))
    return state


def motion_discriminator_state(seed: int = 0) -> dict:
    """`disc_motion_state_dict`: GRU 69->1024 x2, 3-layer self-attention pooling, Linear 1024->1."""
    gen = torch.Generator().manual_seed(seed)
    state = _gru(gen, "gru", 69, 1024, 2)
    for index, out in ((0, 1024), (3, 1024), (6, 1)):
        state.update(_linear(gen, f"attention.attention.{index}", 1024, out))
    state.update(_linear(gen, "fc", 1024, 1))
    return state


def resnet50_state(seed: int = 0) -> dict:
    """SPIN's backbone keys: He-initialised convolutions and BatchNorm with non-trivial running statistics; the
    residual branches are damped (bn3 scale 0.2) so features stay of order one, as trained ones are."""
    gen = torch.Generator().manual_seed(seed)
    state = {}

    def conv(name: str, out: int, inp: int, k: int) -> None:
        state[f"{name}.weight"] = torch.randn((out, inp, k, k), generator=gen) * (2.0 / (k * k * out)) ** 0.5

    def bn(name: str, n: int, scale: float = 1.0) -> None:
        state[f"{name}.weight"] = scale * (1 + 0.1 * torch.randn(n, generator=gen))
        state[f"{name}.bias"] = 0.1 * torch.randn(n, generator=gen)
        state[f"{name}.running_mean"] = 0.1 * torch.randn(n, generator=gen)
        state[f"{name}.running_var"] = 0.5 + torch.rand(n, generator=gen)
        state[f"{name}.num_batches_tracked"] = torch.tensor(1000)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inplanes = 64
    for layer, (planes, blocks) in enumerate(zip((64, 128, 256, 512), RESNET50_BLOCKS, strict=True), start=1):
        for block in range(blocks):
            name = f"layer{layer}.{block}"
            conv(f"{name}.conv1", planes, inplanes, 1)
            bn(f"{name}.bn1", planes)
            conv(f"{name}.conv2", planes, planes, 3)
            bn(f"{name}.bn2", planes)
            conv(f"{name}.conv3", planes * 4, planes, 1)
            bn(f"{name}.bn3", planes * 4, scale=0.2)
            if block == 0:
                conv(f"{name}.downsample.0", planes * 4, inplanes, 1)
                bn(f"{name}.downsample.1", planes * 4)
            inplanes = planes * 4
    return state


def _adam_state(num_params: int, lr: float) -> dict:
    group = {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
             "params": list(range(num_params))}
    return {"state": {}, "param_groups": [group]}


def _save(obj: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path, _use_new_zipfile_serialization=False)
    return path


def write_vibe_checkpoint(path: str | Path, seed: int = 0, smpl_keys: bool = True, drop: tuple[str, ...] = ()) -> Path:
    """vibe_model_*.pth.tar layout; `drop` removes named keys from `gen_state_dict` (to test error reports)."""
    generator = {k: v for k, v in vibe_generator_state(seed, smpl_keys).items() if k not in drop}
    discriminator = motion_discriminator_state(seed + 1)
    return _save({
        "epoch": 29,
        "gen_state_dict": generator,
        "performance": np.float32(56.5),  # numpy scalar, as the official trainer saves it
        "gen_optimizer": _adam_state(len(generator), 5e-5),
        "disc_motion_state_dict": discriminator,
        "disc_motion_optimizer": _adam_state(len(discriminator), 1e-4),
    }, path)


def spin_model_state(seed: int = 0) -> dict:
    """SPIN's `model`: ResNet-50 backbone + HMR regressor + the SMPL layer's buffers."""
    gen = torch.Generator().manual_seed(seed + 1)
    return {**resnet50_state(seed), **regressor_state(gen), **smpl_module_state("smpl.")}


def write_spin_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """spin_model_checkpoint.pth.tar layout."""
    model = spin_model_state(seed)
    return _save({
        "model": model,
        "optimizer": _adam_state(len(model), 5e-5),
        "epoch": 3,
        "batch_idx": 0,
        "batch_size": 64,
        "dataset_perm": torch.randperm(256, generator=torch.Generator().manual_seed(seed)),
        "total_step_count": 100000,
    }, path)


def make_j_regressor(rows: int, seed: int = 0, per_row: int = 12) -> np.ndarray:
    """(rows, 6890) float64, each row averaging a few random vertices (like the real sparse regressors)."""
    rng = np.random.default_rng(seed)
    regressor = np.zeros((rows, NUM_VERTS))
    for row in regressor:
        row[rng.choice(NUM_VERTS, size=per_row, replace=False)] = 1.0 / per_row
    return regressor


def write_j_regressor_extra(path: str | Path, seed: int = 0) -> Path:
    """J_regressor_extra.npy: (9, 6890)."""
    np.save(path, make_j_regressor(9, seed))
    return Path(path)


def write_mean_params(path: str | Path, seed: int = 0) -> Path:
    """smpl_mean_params.npz: pose (144,) float32 6D, shape (10,) float64, cam (3,) float32, as the official file."""
    rng = np.random.default_rng(seed)
    np.savez(path, pose=mean_pose_6d(rng), shape=rng.normal(scale=0.3, size=NUM_BETAS),
             cam=np.array([0.9, 0.0, 0.0], dtype=np.float32))
    return Path(path)


def make_data_dir(tmp_path: str | Path, chumpy: bool = False, seed: int = 0) -> Path:
    """A synthetic `vibe_data` folder: vibe_model_wo_3dpw, SPIN, SMPL, both joint regressors, mean params."""
    folder = Path(tmp_path) / "vibe_data"
    folder.mkdir(parents=True, exist_ok=True)
    write_vibe_checkpoint(folder / "vibe_model_wo_3dpw.pth.tar", seed)
    write_spin_checkpoint(folder / "spin_model_checkpoint.pth.tar", seed)
    write_smpl_model(folder / "SMPL_NEUTRAL.pkl", chumpy=chumpy, seed=seed)
    write_j_regressor_extra(folder / "J_regressor_extra.npy", seed)
    np.save(folder / "J_regressor_h36m.npy", make_j_regressor(17, seed + 1))
    write_mean_params(folder / "smpl_mean_params.npz", seed)
    return folder
