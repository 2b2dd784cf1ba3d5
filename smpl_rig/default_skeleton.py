"""A default SMPL-topology skeleton from anthropometric proportions, for users without the SMPL model file.

The numbers are round adult proportions (a 1.70 m person, pelvis at the origin) chosen for this project, not derived
from SMPL. Frame: SMPL's canonical one (y up, facing +z, +x is the person's left).
"""

import numpy as np

_JOINTS_170 = np.array([
    [0.00, 0.00, 0.00],    # Pelvis
    [0.07, -0.09, 0.00],   # L_Hip
    [-0.07, -0.09, 0.00],  # R_Hip
    [0.00, 0.11, -0.01],   # Spine1
    [0.09, -0.48, 0.01],   # L_Knee
    [-0.09, -0.48, 0.01],  # R_Knee
    [0.00, 0.24, 0.00],    # Spine2
    [0.09, -0.88, -0.03],  # L_Ankle
    [-0.09, -0.88, -0.03], # R_Ankle
    [0.00, 0.30, 0.01],    # Spine3
    [0.11, -0.94, 0.09],   # L_Foot
    [-0.11, -0.94, 0.09],  # R_Foot
    [0.00, 0.50, -0.01],   # Neck
    [0.07, 0.41, 0.00],    # L_Collar
    [-0.07, 0.41, 0.00],   # R_Collar
    [0.00, 0.58, 0.04],    # Head
    [0.17, 0.43, -0.01],   # L_Shoulder
    [-0.17, 0.43, -0.01],  # R_Shoulder
    [0.43, 0.42, -0.03],   # L_Elbow
    [-0.43, 0.42, -0.03],  # R_Elbow
    [0.68, 0.42, -0.02],   # L_Wrist
    [-0.68, 0.42, -0.02],  # R_Wrist
    [0.76, 0.41, -0.02],   # L_Hand
    [-0.76, 0.41, -0.02],  # R_Hand
])


def default_rest_joints(height: float = 1.70) -> np.ndarray:
    """Rest joint locations (24, 3) in a T-pose for a person of `height` metres."""
    return _JOINTS_170 * (height / 1.70)
