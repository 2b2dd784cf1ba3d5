"""Build the estimator a run asks for: TCMR, VIBE (official files in the data folder) or the embedded default."""

import logging
from pathlib import Path

from .checkpoints import resolve_device as _resolve_torch_device
from .data_folder import choose_estimator, data_file
from .errors import BackendError

RUNTIMES = ("auto", "openvino", "torch")
INSTALL_FIX = ("Install the backend's requirements again (Set up backend in the add-on's preferences, or "
               "pip install -r requirements.txt), or choose the runtime 'torch' (--runtime torch).")
TORCH_FIX = "Choose the runtime 'torch' (--runtime torch) or 'auto', and report the problem with the log attached."


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when usable, else 'cpu'; a CUDA request without a GPU raises BackendError."""
    return _resolve_torch_device(device).type


def create_estimator(requested: str, data_dir: Path | None, device: str, checkpoint: str | None = None,
                     runtime: str = "auto"):
    """(estimator, reason): `requested` is auto/tcmr/vibe/default; `checkpoint` (a file name in the data folder, or
    a path, see `backend.data_folder.data_file`) replaces the VIBE/TCMR model file, which the folder need not hold;
    `runtime` runs VIBE/TCMR (see `use_runtime`)."""
    choice = choose_estimator(data_dir, requested, checkpoint)
    if choice.name == "default":
        from .default_estimator import DefaultEstimator

        return DefaultEstimator(), choice.reason
    model_file = str(data_file(data_dir, checkpoint).resolve()) if checkpoint else choice.checkpoint
    if choice.name == "tcmr":
        from .tcmr import load_tcmr

        model = load_tcmr(data_dir, checkpoint=model_file, device=device)
    else:
        from .vibe import load_vibe

        model = load_vibe(data_dir, checkpoint=model_file, device=device)
    use_runtime(model, runtime)
    return model, choice.reason


def use_runtime(model, runtime: str) -> None:
    """Run a VIBE/TCMR model with `runtime`: 'torch' (eager), 'openvino' (compiled for the CPU, same numbers within
    1e-4; a BackendError when that is impossible) or 'auto': OpenVINO on the CPU when it is installed and the
    conversion succeeds, else torch with a warning in the log. On a GPU 'auto' is torch."""
    if runtime not in RUNTIMES:
        raise BackendError(f"Unknown runtime '{runtime}'.", f"Choose one of {', '.join(RUNTIMES)}.")
    if runtime == "torch" or (runtime == "auto" and model.device.type != "cpu"):
        return
    if model.device.type != "cpu":
        raise BackendError(f"OpenVINO runs {model.name.upper()} on the CPU, but the device is {model.device}.",
                           "Choose the device 'cpu', or the runtime 'torch' or 'auto' for the GPU.")
    try:
        model.use_openvino()
    except ImportError as exc:
        if runtime == "openvino":
            raise BackendError(f"The runtime 'openvino' was requested, but OpenVINO is not installed ({exc}).",
                               INSTALL_FIX) from exc
        logging.warning("OpenVINO is not installed (%s): %s runs on torch eager, about half as fast", exc, model.name)
    except Exception as exc:  # a conversion OpenVINO cannot do, or outputs that differ: torch is always right
        if runtime == "openvino":
            raise BackendError(f"OpenVINO could not run {model.name.upper()}: {exc}", TORCH_FIX) from exc
        logging.warning("OpenVINO could not run %s (%s: %s): torch eager instead", model.name,
                        type(exc).__name__, exc)
