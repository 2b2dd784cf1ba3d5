"""Perspective-correct root orientation: the estimators see a crop as if it were straight ahead of the camera.

An HMR-family estimator (VIBE, TCMR, the default one too) predicts the body's orientation relative to a virtual
camera that looks straight at the crop. The real camera sees that crop along the ray through the box centre, so the
orientation in the camera frame is the estimate turned by the rotation from the optical axis onto that ray (the
correction CLIFF, ECCV 2022, describes). Without it, a person seen off-centre is turned by the angle at which they
are seen. The pinhole is the project's: f = image diagonal in pixels (see `smpl_rig.camera`).
"""

import numpy as np

from .rotations import axis_angle_to_matrix, matrix_to_axis_angle


def pixel_rays(pixels: np.ndarray, width: float, height: float) -> np.ndarray:
    """Unit viewing rays (..., 3) in the camera frame (x right, y down, z forward) through pixels (..., 2)."""
    pixels = np.asarray(pixels, dtype=np.float64)
    focal = np.hypot(width, height)
    rays = np.concatenate([pixels - [width / 2.0, height / 2.0], np.full(pixels.shape[:-1] + (1,), focal)], axis=-1)
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def ray_rotations(pixels: np.ndarray, width: float, height: float) -> np.ndarray:
    """Rotations (..., 3, 3) of least angle taking the optical axis (0, 0, 1) onto the ray through each pixel."""
    rays = pixel_rays(pixels, width, height)
    axis = np.stack([-rays[..., 1], rays[..., 0], np.zeros(rays.shape[:-1])], axis=-1)  # z cross ray
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin, rays[..., 2:3])
    return axis_angle_to_matrix(axis / np.maximum(sin, 1e-12) * angle)


def correct_root_orientation(pose: np.ndarray, bboxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """`pose` (N, 72) with the root orientation (first 3) turned from the crop's view to the camera's.

    bboxes: (N, 4) cx, cy, w, h in pixels, the boxes the crops were cut around.
    """
    pose = np.array(pose, dtype=np.float64)
    turn = ray_rotations(np.asarray(bboxes, dtype=np.float64)[:, :2], width, height)
    pose[:, :3] = matrix_to_axis_angle(turn @ axis_angle_to_matrix(pose[:, :3]))
    return pose


def official_image_size(cam: np.ndarray, orig_cam: np.ndarray, bboxes: np.ndarray) -> tuple[int, int]:
    """The image (width, height) a VIBE/TCMR demo output was made from, which the files do not record.

    The demo converts the crop camera with sx = s h / W and sy = s h / H (`smpl_rig.camera.crop_cam_to_orig_cam`),
    so W = s h / sx; bboxes are the boxes the conversion used. (0, 0) when the rows do not tell.
    """
    scale = np.asarray(cam, dtype=np.float64)[:, 0] * np.asarray(bboxes, dtype=np.float64)[:, 3]
    orig_cam = np.asarray(orig_cam, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sizes = scale[:, None] / orig_cam[:, :2]
    sizes = sizes[np.all(np.isfinite(sizes) & (sizes > 0), axis=1)]
    if not len(sizes):
        return 0, 0
    width, height = np.median(sizes, axis=0)
    return int(round(width)), int(round(height))
