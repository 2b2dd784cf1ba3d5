"""Load official checkpoints safely (`weights_only=True`) and key for key, with errors that name the file and the fix.

The published VIBE checkpoints store `performance` as a numpy scalar, which plain `weights_only=True` refuses; only
numpy scalars, dtypes and plain numeric or string arrays are added to torch's allow-list (they carry data, never code).
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data_folder import DataFile
from .errors import BackendError

_NUMPY_DATA_GLOBALS = [np.core.multiarray.scalar, np.core.multiarray._reconstruct, np.ndarray, np.dtype] + [
    type(np.dtype(code)) for code in "?bhilqBHILQefdUS"  # numpy >= 1.25 pickles dtypes by class, e.g. Float32DType
]
_LISTED_NAMES = 8


def resolve_device(device: str | torch.device) -> torch.device:
    """'cpu', 'cuda' (or 'cuda:N') or 'auto' (CUDA when this PyTorch can use a GPU, else CPU)."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError("A CUDA device was requested, but this PyTorch cannot use a GPU.",
                           "Choose the device 'auto' or 'cpu', or install a CUDA build of PyTorch for the backend.")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise BackendError(f"Unknown device '{name}'.", "Choose 'auto', 'cpu' or 'cuda'.") from exc


def read_checkpoint(path: str | Path, entry: str, expected: DataFile, device: torch.device) -> dict[str, torch.Tensor]:
    """The state dict stored under `entry` in a torch checkpoint, loaded with weights_only onto `device`."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"Missing {path}: {expected.purpose}", expected.source)
    checkpoint = load_weights_only(path, device, f"{expected.name}: {expected.purpose}", expected.source)
    state = checkpoint.get(entry) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        found = ", ".join(map(str, checkpoint)) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise BackendError(
            f"{path} is not a {expected.name} checkpoint: it has no '{entry}' weights (it holds: {found}). "
            f"Expected: {expected.purpose}",
            expected.source,
        )
    return state


def load_weights_only(path: str | Path, device: torch.device | str, expected: str, fix: str) -> Any:
    """Everything in a torch file, loaded with weights_only=True (numpy data allowed); a BackendError naming the
    file, the reason and `expected` when it is not a torch file, is truncated, or holds objects beyond plain data."""
    try:
        with torch.serialization.safe_globals(_NUMPY_DATA_GLOBALS):
            return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise BackendError(f"{path} is not a readable PyTorch checkpoint ({_reason(exc)}). Expected {expected}",
                           fix) from exc


def _reason(exc: Exception) -> str:
    """The informative part of a torch.load failure (weights_only errors wrap it in generic advice)."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()[0]
        if "global" in detail or "Can only build" in detail:
            return f"it holds Python objects other than weights, refused for safety: {detail}"
        return f"its content is not a weights pickle: {detail}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def load_exact(module: nn.Module, state: dict[str, torch.Tensor], path: str | Path, expected: DataFile,
               ignore: tuple[str, ...] = ()) -> None:
    """Load `state` into `module` key for key; keys starting with an `ignore` prefix are dropped first.

    Any missing, unexpected or wrongly shaped key is reported by name; nothing is loaded then.
    """
    state = {k: v for k, v in state.items() if not k.startswith(ignore)} if ignore else state
    own = module.state_dict()
    problems = []
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} instead of {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if names:
            listed = ", ".join(names[:_LISTED_NAMES]) + (f" and {len(names) - _LISTED_NAMES} more"
                                                         if len(names) > _LISTED_NAMES else "")
            problems.append(f"{label}: {listed}")
    if problems:
        raise BackendError(
            f"{path} does not match {expected.name} key for key ({'; '.join(problems)}). Expected: {expected.purpose}",
            f"Use the official, unmodified file. {expected.source}",
        )
    module.load_state_dict(state, strict=True)


def load_mean_params(path: str | Path, expected: DataFile) -> dict[str, torch.Tensor]:
    """smpl_mean_params.npz as the regressor's buffers: init_pose (1, 144), init_shape (1, 10), init_cam (1, 3)."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"Missing {path}: {expected.purpose}", expected.source)
    shapes = {"pose": 144, "shape": 10, "cam": 3}
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k], dtype=np.float32).reshape(1, -1) for k in shapes if k in npz}
    except (ValueError, OSError, EOFError) as exc:
        raise BackendError(f"{path} is not a readable .npz archive ({exc}).", expected.source) from exc
    bad = [f"{k} (expected {n} numbers)" for k, n in shapes.items() if k not in arrays or arrays[k].shape[1] != n]
    if bad:
        raise BackendError(f"{path} is not {expected.name}: missing or malformed {', '.join(bad)}.", expected.source)
    return {f"init_{k}": torch.from_numpy(v) for k, v in arrays.items()}
