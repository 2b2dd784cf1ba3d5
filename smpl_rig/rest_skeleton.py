"""Which rest skeleton a person gets: the one the importer builds the armature from and the foot lock is solved for.

Both must agree, or a locked foot slides on the imported armature: the backend and the add-on call this one function.
"""

from pathlib import Path

import numpy as np

from .default_skeleton import default_rest_joints
from .motion import Person
from .rig_pose import fit_bone_lengths
from .skeleton import NUM_JOINTS
from .smpl_model import SmplModel, load_smpl_model

SMPL_MODEL_FILE = "SMPL_NEUTRAL.pkl"


def smpl_model_in(data_dir: str | Path | None) -> SmplModel | None:
    """The SMPL model of a data folder laid out like VIBE's `vibe_data`, or None when it has none (or no folder)."""
    if not data_dir:
        return None
    path = Path(data_dir) / SMPL_MODEL_FILE
    return load_smpl_model(path) if path.is_file() else None


def person_rest_joints(person: Person, model: SmplModel | None) -> np.ndarray:
    """Canonical rest joints (24, 3): SMPL's for the person's mean betas when the model is known, else the default
    skeleton with the bone lengths measured in the estimator's 24 joints (or as it is, when there are none)."""
    if model is not None:
        return model.rest_joints(np.asarray(person.betas, dtype=np.float64).mean(axis=0))
    if person.joints3d.shape[1:] == (NUM_JOINTS, 3):
        return fit_bone_lengths(default_rest_joints(), person.joints3d)
    return default_rest_joints()
