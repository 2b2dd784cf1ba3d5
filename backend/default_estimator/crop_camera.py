"""The weak-perspective crop camera (s, tx, ty) of the official convention, fitted to 2D landmarks.

The official demo converts the crop camera to the full image with the tracked box height h
(`smpl_rig.camera.crop_cam_to_orig_cam`): a point X of the camera frame lands at pixel u = cx + (h / 2) s (X + t).
The crop itself covers `crop_scale` * h, so in crop coordinates c in [-1, 1], u = cx + c * crop_scale * h / 2, and
the camera to fit is s (X + t) = crop_scale * c.
"""

import numpy as np


def fit_crop_camera(points3d: np.ndarray, points2d: np.ndarray, weights: np.ndarray, crop_scale: float) -> np.ndarray:
    """Weighted least squares of s (X_xy + t) = crop_scale * c per frame.

    points3d (N, K, 3) camera frame, relative to the skeleton's origin; points2d (N, K, 2) crop coordinates in
    [-1, 1]; weights (N, K) >= 0. Returns (N, 3) cameras (s, tx, ty).
    """
    w = np.asarray(weights, dtype=np.float64)[..., None]
    xy = np.asarray(points3d, dtype=np.float64)[..., :2]
    target = crop_scale * np.asarray(points2d, dtype=np.float64)
    total = w.sum(axis=1)
    xy_mean = (w * xy).sum(axis=1) / total
    target_mean = (w * target).sum(axis=1) / total
    xy_c = xy - xy_mean[:, None]
    s = (w * xy_c * (target - target_mean[:, None])).sum(axis=(1, 2)) / (w * xy_c**2).sum(axis=(1, 2))
    t = target_mean / s[:, None] - xy_mean
    return np.concatenate([s[:, None], t], axis=-1)
