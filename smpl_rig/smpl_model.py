"""Read an official SMPL model file (`SMPL_NEUTRAL.pkl` layout) into plain numpy arrays, safely."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .safe_pickle import load_untrusted_pickle
from .skeleton import NUM_JOINTS, PARENTS

SMPL_SOURCE_HINT = (
    "Register at https://smpl.is.tue.mpg.de and download the SMPL model (the neutral model ships with VIBE's "
    "vibe_data folder as SMPL_NEUTRAL.pkl)."
)


class SmplModelError(ValueError):
    """The SMPL model file is missing or not laid out as the official files are."""


@dataclass(frozen=True)
class SmplModel:
    v_template: np.ndarray   # (V, 3)
    shapedirs: np.ndarray    # (V, 3, B)
    posedirs: np.ndarray     # (V, 3, 207)
    j_regressor: np.ndarray  # (24, V), dense
    weights: np.ndarray      # (V, 24) skinning weights
    parents: np.ndarray      # (24,), root = -1
    faces: np.ndarray        # (F, 3)

    def shaped_vertices(self, betas: np.ndarray) -> np.ndarray:
        """Template deformed by the first len(betas) shape directions: (V, 3)."""
        betas = np.asarray(betas, dtype=np.float64)
        return self.v_template + self.shapedirs[:, :, : len(betas)] @ betas

    def rest_joints(self, betas: np.ndarray | None = None) -> np.ndarray:
        """Joint locations (24, 3) of the shaped body in SMPL's canonical frame (J_regressor on shaped template)."""
        verts = self.v_template if betas is None else self.shaped_vertices(betas)
        return self.j_regressor @ verts


_EXPECTED = {
    "v_template": "(6890, 3)", "shapedirs": "(6890, 3, >=10)", "posedirs": "(6890, 3, 207)",
    "J_regressor": "(24, 6890)", "weights": "(6890, 24)", "kintree_table": "(2, 24)", "f": "(13776, 3)",
}


def load_smpl_model(path: str | Path) -> SmplModel:
    """Load and validate an SMPL .pkl (chumpy objects and scipy sparse matrices allowed, nothing else)."""
    path = Path(path)
    if not path.is_file():
        raise SmplModelError(f"SMPL model file not found: {path}. {SMPL_SOURCE_HINT}")
    try:
        raw = load_untrusted_pickle(path)
    except ValueError as exc:
        raise SmplModelError(f"{path} is not a usable SMPL model file: {exc}. {SMPL_SOURCE_HINT}") from exc
    if not isinstance(raw, dict) or any(k not in raw for k in _EXPECTED):
        missing = sorted(k for k in _EXPECTED if not isinstance(raw, dict) or k not in raw)
        raise SmplModelError(f"{path} is not an SMPL model file: missing {', '.join(missing)}. {SMPL_SOURCE_HINT}")
    arrays = {k: np.asarray(raw[k]) for k in _EXPECTED}
    num_verts = arrays["v_template"].shape[0] if arrays["v_template"].ndim else -1
    checks = {
        "v_template": arrays["v_template"].shape == (num_verts, 3),
        "shapedirs": arrays["shapedirs"].ndim == 3 and arrays["shapedirs"].shape[:2] == (num_verts, 3)
        and arrays["shapedirs"].shape[2] >= 10,
        "posedirs": arrays["posedirs"].shape == (num_verts, 3, 207),
        "J_regressor": arrays["J_regressor"].shape == (NUM_JOINTS, num_verts),
        "weights": arrays["weights"].shape == (num_verts, NUM_JOINTS),
        "kintree_table": arrays["kintree_table"].shape == (2, NUM_JOINTS),
        "f": arrays["f"].ndim == 2 and arrays["f"].shape[1] == 3,
    }
    bad = [f"{k} has shape {arrays[k].shape}, expected {_EXPECTED[k]}" for k, ok in checks.items() if not ok]
    if bad:
        raise SmplModelError(f"{path} does not have the SMPL layout: {'; '.join(bad)}. {SMPL_SOURCE_HINT}")
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # stored as 4294967295 in the official files
    if not np.array_equal(parents, PARENTS):  # the rig, FK and bone names all assume SMPL's tree
        raise SmplModelError(f"{path} has another kinematic tree than SMPL's (kintree_table). {SMPL_SOURCE_HINT}")
    return SmplModel(
        v_template=arrays["v_template"].astype(np.float64),
        shapedirs=arrays["shapedirs"].astype(np.float64),
        posedirs=arrays["posedirs"].astype(np.float64),
        j_regressor=arrays["J_regressor"].astype(np.float64),
        weights=arrays["weights"].astype(np.float64),
        parents=parents,
        faces=arrays["f"].astype(np.int64),
    )
