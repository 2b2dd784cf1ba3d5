"""Build the estimator a run asks for: TCMR, VIBE (official files in the data folder) or the embedded default."""

from pathlib import Path

from .checkpoints import resolve_device as _resolve_torch_device
from .data_folder import choose_estimator, data_file


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when usable, else 'cpu'; a CUDA request without a GPU raises BackendError."""
    return _resolve_torch_device(device).type


def create_estimator(requested: str, data_dir: Path | None, device: str, checkpoint: str | None = None):
    """(estimator, reason): `requested` is auto/tcmr/vibe/default; `checkpoint` (a file name in the data folder, or
    a path, see `backend.data_folder.data_file`) replaces the VIBE/TCMR model file, which the folder need not hold."""
    choice = choose_estimator(data_dir, requested, checkpoint)
    if choice.name == "default":
        from .default_estimator import DefaultEstimator

        return DefaultEstimator(), choice.reason
    model_file = str(data_file(data_dir, checkpoint).resolve()) if checkpoint else choice.checkpoint
    if choice.name == "tcmr":
        from .tcmr import load_tcmr

        return load_tcmr(data_dir, checkpoint=model_file, device=device), choice.reason
    from .vibe import load_vibe

    return load_vibe(data_dir, checkpoint=model_file, device=device), choice.reason
