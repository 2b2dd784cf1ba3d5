"""Camera conventions: VIBE's camera frame, weak-perspective cameras, and Blender's z-up world.

VIBE's camera frame: x right, y down, z forward (into the scene). Blender: z up; the scene camera sits at the origin
looking along +Y, so the footage maps to Blender by a +90 degree rotation about x: (x, y, z)_cam -> (x, z, -y).

Root translation assumption (documented in the README): a pinhole camera whose focal length in pixels is the image
diagonal, f = sqrt(W^2 + H^2) (about a 53 degree diagonal field of view, typical of phones and webcams). The
weak-perspective camera orig_cam = (sx, sy, tx, ty) then gives depth tz = 2 f / (W sx) and translation (tx, ty, tz).
"""

import numpy as np

CAMERA_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def crop_cam_to_orig_cam(cam: np.ndarray, bboxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Official demo conversion: crop camera (s, tx, ty) and boxes (cx, cy, w, h) -> full-image (sx, sy, tx, ty)."""
    cam = np.asarray(cam, dtype=np.float64)
    cx, cy, h = bboxes[:, 0], bboxes[:, 1], bboxes[:, 3]
    hw, hh = width / 2.0, height / 2.0
    sx = cam[:, 0] * h / width
    sy = cam[:, 0] * h / height
    tx = (cx - hw) / hw / sx + cam[:, 1]
    ty = (cy - hh) / hh / sy + cam[:, 2]
    return np.stack([sx, sy, tx, ty], axis=-1)


def orig_cam_to_translation(orig_cam: np.ndarray) -> np.ndarray:
    """Weak-perspective full-image camera (N, 4) -> SMPL `transl` (N, 3) in metres, camera frame.

    With f = sqrt(W^2 + H^2), tz = 2 f / (W sx) = 2 sqrt(1 + (H/W)^2) / sx, and H/W = sx/sy because
    sx * W = sy * H: the image size itself is not needed (so `vibe_output.pkl` files convert too).
    """
    orig_cam = np.asarray(orig_cam, dtype=np.float64)
    sx, sy, tx, ty = orig_cam.T
    tz = 2.0 * np.sqrt(1.0 + (sx / sy) ** 2) / sx
    return np.stack([tx, ty, tz], axis=-1)


def camera_to_blender(
    root_rotation: np.ndarray, trans: np.ndarray, rest_pelvis: np.ndarray, to_blender: np.ndarray = CAMERA_TO_BLENDER
) -> tuple[np.ndarray, np.ndarray]:
    """Express an SMPL root rotation (N, 3, 3) and `transl` (N, 3) of the camera frame in Blender's frame.

    Returns (root rotation, transl) such that SMPL forward kinematics with them and the same rest joints gives
    `to_blender` applied to the input frame's result: the pelvis rest offset is accounted for. `to_blender` is the
    rotation from the motion's frame to Blender's: CAMERA_TO_BLENDER for the camera frame, the identity for the
    world frame (`smpl_rig.world`: z up, as Blender).
    """
    rest_pelvis = np.asarray(rest_pelvis, dtype=np.float64)
    root = to_blender @ np.asarray(root_rotation, dtype=np.float64)
    transl = (np.asarray(trans, dtype=np.float64) + rest_pelvis) @ to_blender.T - rest_pelvis
    return root, transl
