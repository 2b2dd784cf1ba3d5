"""OpenVINO in place of torch eager for VIBE's and TCMR's networks on the CPU: about twice as fast, same numbers.

    fast = compile_module(module, example_shape=(2, 3, 224, 224), dynamic=(0,))   # an nn.Module, same outputs

A module is traced once on a random example, converted with OpenVINO's PyTorch frontend and compiled for the CPU in
float32 (OpenVINO would pick bfloat16 on CPUs that have it). The converted model is kept in a user cache folder
(`cache_root()`), keyed by the module's weights, its settings, the source of its code and the library versions, so a
later run compiles it in a second instead of converting again; models unused for UNUSED_DAYS are removed. A
conversion is checked against the torch module on inputs of another size than the traced one before it is used or
cached: outputs must agree within `TOLERANCE`.

The frontend is called directly: `openvino.convert_model` would also send usage telemetry (openvino-telemetry sends
it unless the user opted out), which an offline tool must not do.
"""

import copy
import hashlib
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TOLERANCE = 1e-4
CACHE_ENV = "BLENDER_VIBE_CACHE"  # overrides the cache folder (tests point it at a temporary folder)
UNUSED_DAYS = 30  # a cached model unused this long is removed when another is written
# float32 whatever the CPU offers; threads not pinned to cores: pinned ones wait for a core that Blender or another
# process is busy with (25% slower here when the cores are shared).
_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "ENABLE_CPU_PINNING": False}
_core = None


class ParityError(RuntimeError):
    """The compiled module's outputs differ from the torch module's by more than TOLERANCE."""


def cache_root() -> Path:
    """$BLENDER_VIBE_CACHE, else the platform's user cache folder: %LOCALAPPDATA%, ~/Library/Caches or
    $XDG_CACHE_HOME (~/.cache), each with blender-vibe/ inside; never the data folder with the licensed files."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "blender-vibe"


class OpenVinoModule(nn.Module):
    """A compiled OpenVINO model called like the torch module it came from: tensor(s) in, the same structure out (a
    tensor, a tuple or a dict of CPU float tensors). One inference request: call it from one thread at a time."""

    def __init__(self, compiled, structure: None | int | list[str]) -> None:
        super().__init__()
        self.request = compiled.create_infer_request()
        self.structure = structure

    def forward(self, *inputs: torch.Tensor):
        arrays = [x.detach().to("cpu", torch.float32).contiguous().numpy() for x in inputs]
        result = self.request.infer(arrays)
        outputs = [torch.from_numpy(result[i]) for i in range(len(result))]
        if self.structure is None:
            return outputs[0]
        if isinstance(self.structure, int):
            return tuple(outputs)
        return dict(zip(self.structure, outputs, strict=True))


class _Flat(nn.Module):
    """The module with its outputs as a flat tuple, as the tracer wants them (dict values in `keys` order)."""

    def __init__(self, module: nn.Module, keys: list[str] | None) -> None:
        super().__init__()
        self.module = module
        self.keys = keys

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.module(x)
        if self.keys is not None:
            return tuple(out[k] for k in self.keys)
        return tuple(out) if isinstance(out, tuple) else (out,)


def compile_module(module: nn.Module, example_shape: tuple[int, ...], dynamic: tuple[int, ...],
                   cache_dir: Path | None = None, unroll_grus: bool = False) -> OpenVinoModule:
    """`module` (eval mode, float32 input of `example_shape`, any size along the `dynamic` dimensions) compiled for
    the CPU, from the cache when it holds it; a fresh conversion raises ParityError when it does not reproduce the
    module's outputs (and is not cached then). ImportError without openvino.

    `unroll_grus`: convert the module's GRUs (its direct children) as explicit steps (`UnrolledGRU`), for GRUs that
    always run the same number of steps (TCMR's windows): compiled, a GRU node holds about three times its weights in
    memory, explicit steps about twice; as fast."""
    core = _openvino_core()
    converted = with_unrolled_grus(module) if unroll_grus else module
    folder = Path(cache_dir or cache_root()) / "openvino" / _cache_key(converted, example_shape, dynamic)
    if (folder / "model.xml").is_file():
        logging.info("OpenVINO: %s from the cache %s", type(module).__name__, folder)
        return _load(core, folder)
    logging.info("OpenVINO: converting %s (once for these weights)", type(module).__name__)
    generator = torch.Generator().manual_seed(0)
    example = torch.rand(example_shape, generator=generator)
    check = torch.rand([n + (i in dynamic) for i, n in enumerate(example_shape)], generator=generator)
    with torch.inference_mode():
        expected = module(check)
    structure = (list(expected) if isinstance(expected, dict)
                 else len(expected) if isinstance(expected, tuple) else None)
    model = _convert(_Flat(converted, structure if isinstance(structure, list) else None), example, dynamic)
    fast = OpenVinoModule(core.compile_model(model, "CPU", _CONFIG), structure)
    worst = _largest_difference(expected, fast(check))
    if worst > TOLERANCE:
        raise ParityError(f"OpenVINO's {type(module).__name__} differs from torch by {worst:.2g} (> {TOLERANCE})")
    # Run what later runs will read: weights of its own, not shared with the torch module.
    return _load(core, folder) if _save(model, structure, folder) else fast


class UnrolledGRU(nn.Module):
    """An `nn.GRU` (batch_first, zero initial state) written out as one cell step per frame with the GRU's own
    weights, PyTorch's gate equations and order (reset, update, new); the input products of all steps at once."""

    def __init__(self, gru: nn.GRU) -> None:
        super().__init__()
        if not gru.batch_first:
            raise ValueError("UnrolledGRU expects a batch_first GRU")
        self.gru = gru

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, input) -> outputs (B, T, directions * hidden) and final states (layers * directions, B, hidden)."""
        finals = []
        for layer in range(self.gru.num_layers):
            suffixes = ("", "_reverse") if self.gru.bidirectional else ("",)
            directions = [self._direction(x, f"_l{layer}{suffix}", reverse=bool(suffix)) for suffix in suffixes]
            x = torch.cat([outputs for outputs, _ in directions], dim=-1)
            finals += [state for _, state in directions]
        return x, torch.stack(finals)

    def _direction(self, x: torch.Tensor, suffix: str, reverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        gru = self.gru
        inputs = F.linear(x, getattr(gru, f"weight_ih{suffix}"), getattr(gru, f"bias_ih{suffix}", None))
        weight_hh, bias_hh = getattr(gru, f"weight_hh{suffix}"), getattr(gru, f"bias_hh{suffix}", None)
        state = x.new_zeros(x.shape[0], gru.hidden_size)
        outputs = []
        for t in reversed(range(x.shape[1])) if reverse else range(x.shape[1]):
            input_r, input_z, input_n = inputs[:, t].chunk(3, dim=1)
            hidden_r, hidden_z, hidden_n = F.linear(state, weight_hh, bias_hh).chunk(3, dim=1)
            reset, update = torch.sigmoid(input_r + hidden_r), torch.sigmoid(input_z + hidden_z)
            new = torch.tanh(input_n + reset * hidden_n)
            state = (1 - update) * new + update * state
            outputs.append(state)
        return torch.stack(outputs[::-1] if reverse else outputs, dim=1), state


def with_unrolled_grus(module: nn.Module) -> nn.Module:
    """A shallow copy of `module` (same weights) whose direct `nn.GRU` children are `UnrolledGRU`s."""
    copied = copy.copy(module)
    copied._modules = {name: UnrolledGRU(child) if isinstance(child, nn.GRU) else child
                       for name, child in module._modules.items()}
    return copied


def _openvino_core():
    import openvino as ov

    global _core
    if _core is None:
        _core = ov.Core()
        _core.set_property({"ENABLE_MMAP": False})  # read weights, do not map them: the mapping would stay resident
    return _core


def _load(core, folder: Path) -> OpenVinoModule:
    """The cached model compiled; its folder's time is touched, so that pruning keeps what is used."""
    structure = json.loads((folder / "outputs.json").read_text())["structure"]
    compiled = core.compile_model(core.read_model(folder / "model.xml"), "CPU", _CONFIG)
    try:
        os.utime(folder)
    except OSError:
        pass
    return OpenVinoModule(compiled, structure)


def _convert(module: nn.Module, example: torch.Tensor, dynamic: tuple[int, ...]):
    """Trace with torch.jit (without its slow trace check: the parity check follows) and convert with the PyTorch
    frontend; the decoder must outlive the conversion."""
    import openvino as ov
    from openvino.frontend import FrontEndManager
    from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder
    from openvino.passes import ConstantFolding, Manager

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # what they warn about, the parity check catches
        decoder = TorchScriptPythonDecoder(module.eval(), example_input=(example,), trace_kwargs={"check_trace": False})
    frontend = FrontEndManager().load_by_framework("pytorch")
    model = frontend.load(decoder)
    shape = ov.PartialShape([-1 if i in dynamic else n for i, n in enumerate(example.shape)])
    model.set_partial_shape(model.get_place_by_input_index(0), shape)
    converted = frontend.convert(model)
    passes = Manager()
    passes.register_pass(ConstantFolding())  # weights stored as used (GRU gates reordered): less memory when compiled
    passes.run_passes(converted)
    return converted


def _save(model, structure, folder: Path) -> bool:
    """Write the model (float32 weights) and its output structure to `folder` through a temporary folder renamed
    into place, so a crash or a second process never leaves half a model; False when the cache cannot be written
    (that only costs the next run a conversion)."""
    import openvino as ov

    temporary = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
        ov.save_model(model, temporary / "model.xml", compress_to_fp16=False)
        (temporary / "outputs.json").write_text(json.dumps({"structure": structure}))
        os.replace(temporary, folder)
    except OSError as exc:
        logging.warning("OpenVINO: could not cache the converted model in %s (%s)", folder, exc)
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        return (folder / "model.xml").is_file()  # another process may have cached the same model meanwhile
    logging.info("OpenVINO: converted model cached in %s", folder)
    _prune(folder.parent)
    return True


def _prune(cache: Path) -> None:
    """Remove cached models unused for UNUSED_DAYS (other weights, older versions of the code or of OpenVINO)."""
    oldest = time.time() - UNUSED_DAYS * 86400
    for entry in cache.iterdir():
        try:
            if entry.is_dir() and entry.stat().st_mtime < oldest:
                shutil.rmtree(entry)
                logging.info("OpenVINO: removed %s, unused for %d days", entry, UNUSED_DAYS)
        except OSError:
            pass


def _cache_key(module: nn.Module, example_shape: tuple[int, ...], dynamic: tuple[int, ...]) -> str:
    """Folder name: the class name and a hash of everything the converted graph depends on: every parameter and
    buffer, every submodule's plain settings (iteration counts, kinematic tree, ...), the source files of the
    submodules' classes and of this module, the input shape and the torch and openvino versions."""
    import openvino

    digest = hashlib.sha256(repr((torch.__version__, openvino.__version__, example_shape, dynamic)).encode())
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(memoryview(np.ascontiguousarray(tensor.detach().cpu().numpy())).cast("B"))
    sources = {__file__}  # the conversion itself
    for name, sub in module.named_modules():
        settings = {k: v for k, v in vars(sub).items() if not k.startswith("_") and k != "training"
                    and isinstance(v, int | float | str | bool | list | tuple)}
        digest.update(repr((name, type(sub).__qualname__, sorted(settings.items()))).encode())
        sources.add(inspect.getsourcefile(type(sub)))
    for source in sorted(s for s in sources if s):
        digest.update(Path(source).read_bytes())
    return f"{type(module).__name__}-{digest.hexdigest()[:20]}"


def _largest_difference(expected, actual) -> float:
    """Largest absolute difference between two outputs of the same structure (tensor, tuple or dict)."""
    if isinstance(expected, dict):
        pairs = [(expected[k], actual[k]) for k in expected]
    elif isinstance(expected, tuple):
        pairs = list(zip(expected, actual, strict=True))
    else:
        pairs = [(expected, actual)]
    return max(float((a.float() - b.float()).abs().max()) if a.numel() else 0.0 for a, b in pairs)
