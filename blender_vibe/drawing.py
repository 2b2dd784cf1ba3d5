"""Skeletons, labels and contact sheets drawn on video frames with OpenCV (numpy images, no bpy).

Images are BGR uint8 (OpenCV's order). A person's colour follows their track id, so one person keeps one colour in
every tile of a contact sheet and every frame of a preview video.
"""

import cv2
import numpy as np

from smpl_rig.skeleton import JOINT_NAMES, PARENTS

COLOURS = ((0, 200, 255), (80, 255, 80), (255, 120, 60), (255, 80, 220), (240, 240, 40), (60, 60, 255))  # BGR
PELVIS, NECK, HEAD = (JOINT_NAMES.index(name) for name in ("Pelvis", "Neck", "Head"))
FONT = cv2.FONT_HERSHEY_SIMPLEX


def person_colour(track_id: int) -> tuple[int, int, int]:
    return COLOURS[(track_id - 1) % len(COLOURS)]


def line_width(image: np.ndarray) -> int:
    """Bone thickness in pixels for an image of this size: about 1/300 of its longer side, at least 2."""
    return max(2, round(max(image.shape[:2]) / 300))


def draw_person(image: np.ndarray, points: np.ndarray, colour: tuple[int, int, int], label: str) -> None:
    """Draw a skeleton from its (24, 2) joint pixels (SMPL order) and `label` in a box of its colour above the head."""
    width = line_width(image)
    bound = 4 * max(image.shape[:2])  # OpenCV draws with int32 coordinates: keep far-off joints finite
    points = np.round(np.clip(np.nan_to_num(points, nan=-bound), -bound, bound)).astype(int)
    for joint, parent in enumerate(PARENTS):
        if parent >= 0:
            cv2.line(image, tuple(points[parent]), tuple(points[joint]), colour, width, cv2.LINE_AA)
    for point in points:
        cv2.circle(image, tuple(point), width, (255, 255, 255), -1, cv2.LINE_AA)
    above_head = points[HEAD] + 0.45 * (points[NECK] - points[PELVIS])  # the top of the head: half a torso up
    _text_box(image, label, tuple(np.round(above_head).astype(int)), colour, centred=True)


def draw_caption(image: np.ndarray, text: str) -> None:
    """`text` in a dark box at the image's top-left corner (the frame number)."""
    _text_box(image, text, (0, 0), (40, 40, 40), centred=False)


def _text_box(image: np.ndarray, text: str, anchor: tuple[int, int], colour: tuple[int, int, int],
              centred: bool) -> None:
    """`text` on a filled box of `colour`; the box's bottom centre (centred) or top-left corner at `anchor`, kept
    inside the image; black or white text, whichever reads better on the colour."""
    scale = max(0.4, max(image.shape[:2]) / 1000)
    thickness = max(1, round(2 * scale))
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, round(4 * scale))
    box_w, box_h = w + 2 * pad, h + baseline + 2 * pad
    left = anchor[0] - box_w // 2 if centred else anchor[0]
    top = anchor[1] - box_h if centred else anchor[1]
    left = int(np.clip(left, 0, max(image.shape[1] - box_w, 0)))
    top = int(np.clip(top, 0, max(image.shape[0] - box_h, 0)))
    cv2.rectangle(image, (left, top), (left + box_w, top + box_h), colour, -1)
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    cv2.putText(image, text, (left + pad, top + pad + h), FONT, scale, ink, thickness, cv2.LINE_AA)


def tile_scale(width: int, height: int, columns: int, max_width: int = 1920) -> float:
    """How much to shrink each frame so that `columns` of them fit in `max_width` pixels (never enlarged)."""
    return min(1.0, max_width / (columns * width))


def contact_sheet(tiles: list[np.ndarray], columns: int, gap: int = 4) -> np.ndarray:
    """Same-size tiles in rows of `columns`, left to right then top to bottom, on a dark background."""
    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    height, width = tiles[0].shape[:2]
    sheet = np.full((rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap, 3), 24, np.uint8)
    for k, tile in enumerate(tiles):
        top, left = (k // columns) * (height + gap), (k % columns) * (width + gap)
        sheet[top:top + height, left:left + width] = tile
    return sheet
