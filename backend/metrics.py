"""Accuracy metrics of 3D human pose, as VIBE and TCMR report them (numpy only; no torch).

Every function takes joint or vertex positions in metres, shaped (N, J, 3) with one row per frame, and returns one
error per frame (or per frame triple, for acceleration) in millimetres; averaging them gives the published figures:
MPJPE, PA-MPJPE (after a per-frame Procrustes similarity alignment), acceleration error (mm/frame^2) and PVE.
The functions do not root-align: call `center_on_hips` (or subtract a root) first, as the official protocol does.

`common_joints` selects the 14 SMPL joints that every estimator output carries, from either the 24 SMPL joints
(default estimator) or VIBE's 49 joints (VIBE, TCMR: 25 OpenPose-order joints then 24 extra ones).
"""

import numpy as np

M_TO_MM = 1000.0

# SMPL joint indices of the evaluation set: pelvis, hips, knees, ankles, neck, shoulders, elbows, wrists.
COMMON_SMPL_JOINTS = (0, 1, 2, 4, 5, 7, 8, 12, 16, 17, 18, 19, 20, 21)
# Where each of those SMPL joints sits among VIBE's 49 joints (the OpenPose-order part: MidHip 8, LHip 12, RHip 9,
# LKnee 13, RKnee 10, LAnkle 14, RAnkle 11, Neck 1, LShoulder 5, RShoulder 2, LElbow 6, RElbow 3, LWrist 7, RWrist 4).
COMMON_VIBE49_JOINTS = (8, 12, 9, 13, 10, 14, 11, 1, 5, 2, 6, 3, 7, 4)
# Positions of the left and right hip inside the common set; their midpoint is the root, as in VIBE's evaluation.
COMMON_HIPS = (1, 2)


def common_joints(joints: np.ndarray) -> np.ndarray:
    """The 14 evaluation joints (N, 14, 3) from 24 SMPL joints or VIBE's 49 joints."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] not in ((24, 3), (49, 3)):
        raise ValueError(
            f"joints must be (N, 24, 3) SMPL joints or (N, 49, 3) VIBE joints, got {joints.shape}; "
            "pass the estimator's `joints3d`"
        )
    return joints[:, COMMON_SMPL_JOINTS if joints.shape[1] == 24 else COMMON_VIBE49_JOINTS]


def center_on_hips(joints: np.ndarray, hips: tuple[int, int] = COMMON_HIPS) -> np.ndarray:
    """Subtract the midpoint of the two hip joints in every frame (VIBE/TCMR's root alignment)."""
    joints = np.asarray(joints, dtype=np.float64)
    return joints - joints[:, list(hips)].mean(axis=1, keepdims=True)


def mpjpe(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Mean per-joint position error (N,) in mm: Euclidean distance averaged over joints."""
    pred, true = _check_pair(pred, true)
    return np.linalg.norm(pred - true, axis=-1).mean(axis=-1) * M_TO_MM


def similarity_align(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """`pred` moved by the per-frame scale, rotation and translation that best fit it to `true` (least squares).

    The closed-form Procrustes/Umeyama solution used by VIBE's `batch_compute_similarity_transform_torch`:
    reflections are excluded, so a mirrored skeleton keeps its error.
    """
    pred, true = _check_pair(pred, true)
    mu_pred, mu_true = pred.mean(axis=1, keepdims=True), true.mean(axis=1, keepdims=True)
    x, y = pred - mu_pred, true - mu_true
    u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", x, y))  # 3x3 cross-covariance per frame
    v, ut = np.swapaxes(vt, 1, 2), np.swapaxes(u, 1, 2)
    d = np.ones_like(s)
    d[:, -1] = np.sign(np.linalg.det(v @ ut))
    rotation = v @ (d[:, :, None] * ut)
    scale = (s * d).sum(axis=1) / (x**2).sum(axis=(1, 2))
    return scale[:, None, None] * x @ np.swapaxes(rotation, 1, 2) + mu_true


def pa_mpjpe(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """MPJPE (N,) in mm after `similarity_align` (Procrustes-aligned MPJPE)."""
    return mpjpe(similarity_align(pred, true), true)


def accel_error(pred: np.ndarray, true: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Acceleration error in mm/frame^2, one value per triple of consecutive frames (N-2,).

    Acceleration is the second finite difference x[t-1] - 2 x[t] + x[t+1]; the error is the norm of the difference
    between predicted and true acceleration, averaged over joints. With `valid` (N,) booleans, triples that touch an
    invalid frame are left out, as in VIBE's `compute_error_accel`.
    """
    pred, true = _check_pair(pred, true)
    if len(pred) < 3:
        raise ValueError(f"acceleration needs at least 3 frames, got {len(pred)}")
    err = np.linalg.norm(_second_difference(pred) - _second_difference(true), axis=-1).mean(axis=-1) * M_TO_MM
    if valid is None:
        return err
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != (len(pred),):
        raise ValueError(f"valid must have one entry per frame ({len(pred)}), got shape {valid.shape}")
    return err[valid[:-2] & valid[1:-1] & valid[2:]]


def pve(pred_vertices: np.ndarray, true_vertices: np.ndarray) -> np.ndarray:
    """Per-vertex error (N,) in mm: Euclidean distance averaged over mesh vertices (same topology in both)."""
    return mpjpe(pred_vertices, true_vertices)


def _second_difference(x: np.ndarray) -> np.ndarray:
    return x[:-2] - 2.0 * x[1:-1] + x[2:]


def _check_pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(
            f"prediction {pred.shape} and truth {true.shape} must both be (N, J, 3) with the same frames and joints"
        )
    return pred, true
