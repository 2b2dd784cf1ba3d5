"""Training configuration: `default.json` (the published VIBE settings) overlaid by the user's JSON file.

Every key is checked: an unknown key, a value of the wrong type or out of range is a BackendError naming the key, what
it expects and the valid keys, so a typo never silently trains with a default. Relative paths are relative to the
working directory, as in the official code (checkpoint names are looked up in `model.data_dir` first). The keys are
documented in docs/training.md.
"""

import json
import math
import types
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError

DEFAULT_FILE = Path(__file__).with_name("default.json")
# The numbers a run needs in range (key: lowest, highest); a zero batch, window or log interval would crash mid-run.
RANGES = {
    **dict.fromkeys(("data.seqlen", "model.gru_hidden_size", "model.gru_layers", "model.disc_hidden_size",
                     "model.disc_layers", "model.disc_attention_layers", "train.batch_size", "train.epochs",
                     "train.iters_per_epoch", "train.disc_update_steps", "train.log_every"), (1, math.inf)),
    **dict.fromkeys(("data.num_workers", "loss.kp_2d", "loss.kp_3d", "loss.shape", "loss.pose", "loss.d_motion",
                     "train.gen_lr", "train.gen_weight_decay", "train.disc_lr", "train.disc_weight_decay",
                     "train.lr_patience"), (0, math.inf)),
    "data.ratio_2d": (0.0, 1.0),
    "model.disc_attention_dropout": (0.0, 1.0),
}


@dataclass(frozen=True)
class DataConfig:
    db_dir: str                    # folder of the precomputed-feature databases (*_db.pt, insta_train_db.h5)
    datasets_2d: tuple[str, ...]   # databases with 2D keypoints only (insta, pennaction, posetrack, or own)
    datasets_3d: tuple[str, ...]   # databases with 3D keypoints and/or SMPL (mpii3d, h36m, 3dpw, or own)
    eval_dataset: str | None       # evaluated after every epoch (its `val` split); null: none
    amass: str                     # amass_db.pt, or a folder of AMASS .npz sequences
    seqlen: int
    ratio_2d: float                # share of each batch drawn from the 2D databases
    num_workers: int               # DataLoader worker processes


@dataclass(frozen=True)
class ModelConfig:
    data_dir: str                  # the official vibe_data folder (SMPL, J_regressor_*, mean params, SPIN)
    pretrained_regressor: str      # SPIN checkpoint whose regressor starts the generator ("": mean params only)
    pretrained: str                # a VIBE checkpoint to fine-tune (overrides pretrained_regressor); "": none
    gru_hidden_size: int           # the generator's temporal GRU (published: 2 layers of 1024)
    gru_layers: int
    disc_hidden_size: int
    disc_layers: int
    disc_attention_layers: int
    disc_attention_dropout: float


@dataclass(frozen=True)
class LossConfig:
    kp_2d: float
    kp_3d: float
    shape: float
    pose: float
    d_motion: float


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int
    epochs: int
    iters_per_epoch: int
    gen_lr: float
    gen_weight_decay: float
    disc_lr: float
    disc_weight_decay: float
    disc_update_steps: int         # the discriminator steps on every n-th iteration
    lr_patience: int               # epochs without improvement before both learning rates drop tenfold
    log_every: int                 # iterations between log lines


@dataclass(frozen=True)
class Config:
    output_dir: str
    device: str                    # auto (CUDA when present), cpu or cuda
    seed: int                      # < 0: not seeded
    data: DataConfig
    model: ModelConfig
    loss: LossConfig
    train: TrainConfig


def load_config(path: str | Path | None = None) -> Config:
    """The default configuration with the JSON file at `path` (any subset of the keys) laid over it."""
    merged = _read_json(DEFAULT_FILE)
    if path is not None:
        _overlay(merged, _read_json(Path(path)), "")
    config = _build(Config, merged, "")
    for name, (low, high) in RANGES.items():
        section, key = name.split(".")
        value = getattr(getattr(config, section), key)
        if not low <= value <= high:
            expected = f"at least {low}" if high == math.inf else f"between {low} and {high}"
            raise BackendError(f"Configuration key '{name}' is {value}, expected {expected}.",
                               "See docs/training.md for the keys and their meaning.")
    return config


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain JSON-ready dict (tuples as lists), as saved next to the checkpoints."""
    def plain(value: Any) -> Any:
        if is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        return list(value) if isinstance(value, tuple) else value
    return plain(config)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BackendError(f"The configuration file {path} does not exist.", "Pass the path of a JSON file.")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackendError(f"{path} is not valid JSON ({exc}).", "Fix the syntax; see docs/training.md.") from exc
    if not isinstance(content, dict):
        raise BackendError(f"{path} must hold a JSON object of settings.", "See docs/training.md for the keys.")
    return content


def _overlay(base: dict[str, Any], update: dict[str, Any], where: str) -> None:
    """Write `update` into `base`, recursing into sections; unknown keys are reported with the valid ones."""
    for key, value in update.items():
        name = f"{where}{key}"
        if key not in base:
            raise BackendError(f"Unknown configuration key '{name}'.",
                               f"Valid keys{' in ' + where.rstrip('.') if where else ''}: {', '.join(base)}.")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise BackendError(f"Configuration key '{name}' must be a section (a JSON object).",
                                   "See docs/training.md for its keys.")
            _overlay(base[key], value, f"{name}.")
        else:
            base[key] = value


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _convert(hints[f.name], values[f.name], f"{where}{f.name}") for f in fields(cls)})


def _convert(kind: Any, value: Any, name: str) -> Any:
    """`value` checked against the field type; ints are accepted where floats are expected."""
    if is_dataclass(kind):
        return _build(kind, value, f"{name}.")
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, args[0]) for v in value):
            raise _type_error(name, value, f"a list of {args[0].__name__}")
        return tuple(value)
    if origin is types.UnionType:  # `str | None`
        return None if value is None else _convert(args[0], value, name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _type_error(name, value, f"a {kind.__name__}")
    return value


def _type_error(name: str, value: Any, expected: str) -> BackendError:
    return BackendError(f"Configuration key '{name}' is {json.dumps(value)}, expected {expected}.",
                        "See docs/training.md for the keys and their types.")
