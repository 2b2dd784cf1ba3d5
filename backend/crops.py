"""Person crops as the official demo cuts them (`get_single_image_crop_demo`): the tracker's square box, scaled by 1.1,
warped to size x size RGB with one affine warp per box; whatever falls outside the picture is black.

The box centre lands on pixel coordinate size / 2 (the official convention), and the box's width and height (times
`scale`) span the crop. `crop_to_image` maps crop pixel coordinates back, e.g. to draw 2D keypoints on the video.
ImageNet normalisation for the network is `backend.models.resnet.normalize_imagenet`.
"""

import cv2
import numpy as np


def crop_transforms(bboxes: np.ndarray, scale: float = 1.1, size: int = 224) -> np.ndarray:
    """Boxes (K, 4) cx, cy, w, h -> affine matrices (K, 2, 3) from image to crop pixel coordinates."""
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    if np.any(bboxes[:, 2:] <= 0) or not np.isfinite(bboxes).all():
        raise ValueError(f"crop boxes need a finite centre and a positive width and height, got {bboxes.tolist()}")
    zoom = size / (scale * bboxes[:, 2:])  # (K, 2): crop pixels per image pixel along x and y
    transforms = np.zeros((len(bboxes), 2, 3))
    transforms[:, 0, 0], transforms[:, 1, 1] = zoom[:, 0], zoom[:, 1]
    transforms[:, :, 2] = size / 2 - zoom * bboxes[:, :2]
    return transforms


def crop_people(rgb: np.ndarray, bboxes: np.ndarray, scale: float = 1.1, size: int = 224) -> np.ndarray:
    """Crops (K, size, size, 3) uint8 of an RGB frame around boxes (K, 4) cx, cy, w, h, zero-padded at the borders."""
    transforms = crop_transforms(bboxes, scale, size)
    crops = np.empty((len(transforms), size, size, 3), dtype=np.uint8)
    for crop, transform in zip(crops, transforms, strict=True):
        cv2.warpAffine(rgb, transform, (size, size), dst=crop, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crops


def crop_to_image(points: np.ndarray, bboxes: np.ndarray, scale: float = 1.1, size: int = 224) -> np.ndarray:
    """Crop pixel coordinates (K, ..., 2), one set per box, -> image pixel coordinates (inverse of the warp)."""
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    points = np.asarray(points, dtype=np.float64)
    shape = (len(bboxes),) + (1,) * (points.ndim - 2) + (2,)
    zoom = (size / (scale * bboxes[:, 2:])).reshape(shape)
    return (points - size / 2) / zoom + bboxes[:, :2].reshape(shape)
