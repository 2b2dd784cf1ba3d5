"""Load untrusted pickles (SMPL model files, VIBE/TCMR joblib outputs) without executing arbitrary code.

Only numpy arrays, plain containers, and stand-ins for chumpy `Ch` objects, scipy sparse matrices and joblib's
array wrapper are allowed; every other class is refused with `UnsafePickleError`. Works without chumpy, scipy
or joblib installed (Blender's Python has none of them).
"""

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np


class UnsafePickleError(ValueError):
    """The file references a class outside the allow-list: it could run code when loaded."""


class _Captured:
    """Stand-in for an allowed foreign class: keeps the pickled state, converted to numpy afterwards."""

    kind = ""

    def __init__(self, *args: Any) -> None:
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ChumpyArray(_Captured):
    kind = "chumpy"


class _SparseMatrix(_Captured):
    kind = "sparse"


class _JoblibArrayWrapper(_Captured):
    kind = "joblib"


_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS = {"set": set, "frozenset": frozenset, "slice": slice, "complex": complex, "object": object}


def _find_allowed(module: str, name: str) -> Any:
    if (module, name) in _NUMPY_GLOBALS:
        return getattr(__import__(module, fromlist=[name]), name)
    if module.startswith("numpy") and name.endswith("DType"):
        return np.dtype  # numpy 2 pickles dtypes by class name, e.g. numpy.dtypes.Float64DType
    if module in ("__builtin__", "builtins") and name in _BUILTINS:
        return _BUILTINS[name]
    if (module, name) == ("_codecs", "encode"):
        import codecs
        return codecs.encode
    if (module, name) in (("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor")):
        import copyreg
        return copyreg._reconstructor
    if module.startswith("chumpy"):
        return _ChumpyArray
    if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix", "coo_matrix"):
        return type(name, (_SparseMatrix,), {"kind": "sparse", "format": name[:3]})
    if (module, name) == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
        return _JoblibArrayWrapper
    raise UnsafePickleError(f"refused to load class {module}.{name}: only numpy arrays and plain data are allowed")


class _RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler lets BUILD be intercepted for joblib
    def find_class(self, module: str, name: str) -> Any:
        return _find_allowed(module, name)

    def load_build(self) -> None:
        super().load_build()
        top = self.stack[-1]
        if isinstance(top, _JoblibArrayWrapper):
            self.stack[-1] = self._read_joblib_array(top.state)

    def _read_joblib_array(self, state: dict) -> np.ndarray:
        dtype = np.dtype(state["dtype"])
        if dtype.hasobject:
            raise UnsafePickleError("refused a joblib array of Python objects")
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = int.from_bytes(self.read(1), "little")
            self.read(padding)
        shape = tuple(state["shape"])
        count = int(np.prod(shape))
        data = np.frombuffer(self.read(count * dtype.itemsize), dtype=dtype, count=count)
        if state.get("order", "C") == "F":
            return data.reshape(shape[::-1]).transpose().copy()
        return data.reshape(shape).copy()

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build


def _to_plain(obj: Any) -> Any:
    """Replace captured stand-ins by numpy arrays, recursively through dicts, lists and tuples."""
    if isinstance(obj, _ChumpyArray):
        state = obj.state if isinstance(obj.state, dict) else {}
        if "x" not in state:
            raise UnsafePickleError("a chumpy object without array data ('x') cannot be read")
        return np.asarray(_to_plain(state["x"]))
    if isinstance(obj, _SparseMatrix):
        return _dense_from_sparse(obj)
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_plain(v) for v in obj)
    return obj


def _dense_from_sparse(obj: _SparseMatrix) -> np.ndarray:
    state = obj.state
    shape = tuple(state.get("_shape") or state.get("shape"))
    dense = np.zeros(shape, dtype=np.asarray(state["data"]).dtype)
    if obj.format == "coo":
        np.add.at(dense, (np.asarray(state["row"]), np.asarray(state["col"])), state["data"])
        return dense
    indptr, indices, data = (np.asarray(state[k]) for k in ("indptr", "indices", "data"))
    outer = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    if obj.format == "csc":
        np.add.at(dense, (indices, outer), data)
    else:
        np.add.at(dense, (outer, indices), data)
    return dense


def load_untrusted_pickle(source: str | Path | bytes) -> Any:
    """Unpickle a file path or bytes with the allow-list; Python-2 pickles are read with latin1 strings."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        return _to_plain(_RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load())
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated, not a pickle at all, or stand-in state without the expected arrays
        raise ValueError(f"not a readable pickle file ({type(exc).__name__}: {exc})") from exc
