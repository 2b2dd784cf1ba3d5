"""Synthetic footage of a camera that turns (or moves) in a textured scene, with a person photo walking across.

Every view is an exact warp of a wide picture: a camera that only turns sees its first view's plane through the
homography K R K^-1, so the true rotation of every frame is known. Pinhole as the backend assumes: f = image diagonal,
principal point at the centre. Rotations take directions in frame t's camera to the first frame's (x right, y down,
z forward).
"""

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from tests.videos import person_photo


def intrinsics(width: int, height: int) -> np.ndarray:
    """Pinhole with f = image diagonal and the principal point at the centre (pixel centres at integers)."""
    f = float(np.hypot(width, height))
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def wide_texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A picture with the structure of a real scene: shaded patches with edges and corners of every size over
    fine-grained texture. RGB uint8."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(60, 190, (height, width, 3)).astype(np.uint8), (0, 0), 2)
    for _ in range(height * width // 500):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(4, 40))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + size, y + int(rng.integers(4, 40))), colour, -1)
        else:
            cv2.circle(image, (x, y), size // 2, colour, -1)
    return image


def yaw_pitch_roll(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(F, 3, 3) camera -> first camera for a pan `yaw` (about the camera's y, down), then a tilt `pitch` (about
    x), then a roll (about z), in degrees."""
    return Rotation.from_euler("YXZ", np.c_[yaw, pitch, roll], degrees=True).as_matrix()


def plane_view(picture: np.ndarray, rotation: np.ndarray, width: int, height: int, position=(0.0, 0.0, 0.0),
               depth: float = 1.0) -> np.ndarray:
    """What a camera turned by `rotation` at `position` (first camera's frame, metres) sees of `picture` laid on
    the plane z = `depth` in front of the first camera, the picture's centre on its axis at the same f."""
    K = intrinsics(width, height)
    picture_K = K.copy()
    picture_K[:2, 2] = (picture.shape[1] - 1) / 2, (picture.shape[0] - 1) / 2
    c, n = np.asarray(position, dtype=np.float64), np.array([0.0, 0.0, 1.0])
    # a ray d from the camera meets the plane at c + s R d; that point seen from the first camera, homogeneous
    to_plane = (np.outer(c, n) + (depth - n @ c) * np.eye(3)) @ rotation
    pixels_to_picture = picture_K @ to_plane @ np.linalg.inv(K)
    return cv2.warpPerspective(picture, pixels_to_picture, (width, height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


def walker(frames: np.ndarray, person_height: int, start: float = 0.1, end: float = 0.7) -> np.ndarray:
    """Paste a person photo walking across the frames (in place), standing on the bottom edge, from `start` to `end`
    of the width; returns its boxes (F, 5) x1, y1, x2, y2, score."""
    photo = person_photo(person_height)
    ph, pw = photo.shape[:2]
    num, height, width = frames.shape[:3]
    boxes = np.zeros((num, 5))
    for i, x in enumerate(np.round(np.linspace(start, end, num) * width).astype(int)):
        x2 = min(x + pw, width)
        frames[i, height - ph:, x:x2] = photo[:, :x2 - x]
        boxes[i] = x, height - ph, x2, height, 1.0
    return boxes


def turning_camera(rotations: np.ndarray, width: int = 320, height: int = 240, seed: int = 0,
                   person_height: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Frames (F, H, W, 3) of a camera turning by `rotations` in a textured scene far away, and, with a
    `person_height`, a walker pasted over them and its boxes (F, 5)."""
    picture = wide_texture(3 * height, 3 * width, seed)
    frames = np.stack([plane_view(picture, r, width, height) for r in rotations])
    return frames, (walker(frames, person_height) if person_height else None)


def moving_camera(positions: np.ndarray, width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """Frames of a camera that does not turn but moves through `positions` (F, 3) metres: a textured wall 20 m
    away behind posts 2 m away, so near and far move differently (parallax)."""
    far, near = wide_texture(3 * height, 3 * width, seed), wide_texture(3 * height, 3 * width, seed + 1)
    posts = np.zeros(near.shape[:2], dtype=np.uint8)
    for x in range(0, posts.shape[1], posts.shape[1] // 12):
        posts[:, x:x + posts.shape[1] // 30] = 255
    frames = []
    for c in positions:
        back = plane_view(far, np.eye(3), width, height, c, 20.0)
        front = plane_view(near, np.eye(3), width, height, c, 2.0)
        seen = plane_view(posts, np.eye(3), width, height, c, 2.0)[..., None] > 127
        frames.append(np.where(seen, front, back))
    return np.stack(frames)
