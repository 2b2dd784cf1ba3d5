"""The built-in multi-person detector: Google's MoveNet MultiPose Lightning on tiles of the full-resolution frame.

One MoveNet call returns at most six people (box, score and 17 keypoints each) and finds small people only when it
sees them near their own pixel size, so the frame is not shrunk to one small input: it is cut into square tiles
(side = the frame's short side, at most `max_side` pixels; the frame is scaled down only beyond that) that overlap by
at least a quarter of a tile, so anyone narrower than the overlap lies whole in some tile. A tile that comes back
full (six people) is split into four overlapping quarters, recursively, so crowds of any size are found.

Merging: a detection that touches a tile's inner edge is a person cut by that tile; it is dropped when a detection
from another call covers most of it (that call saw them whole). The rest go through a score-ordered non-maximum
suppression. Each detection keeps its 17 keypoints (COCO order, image pixels, score).
"""

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .detection import box_iou

log = logging.getLogger(__name__)

MAX_PEOPLE_PER_CALL = 6
NUM_KEYPOINTS = 17
STRIDE = 32  # MoveNet's input side must be a multiple of this
MIN_SCORE = 0.1  # keep weak detections too: the tracker uses them to continue existing tracks (ByteTrack)
FULL_SCORE = 0.2  # a call is 'full' when all six of its people score at least this
NMS_IOU = 0.5
COVERED = 0.6  # a cut detection this much inside another (of its own area) is that person
EDGE_MARGIN = 4.0  # pixels: a box this close to a tile's inner edge touches it
MIN_TILE = 192  # quarters are not split below this side
KEYPOINT_SCORE = 0.2  # a keypoint this sure is 'confident'


@dataclass(frozen=True)
class Tile:
    """A square region of the working image: top-left corner and side (a multiple of STRIDE, may pass the edge)."""

    x: int
    y: int
    side: int

    def quarters(self) -> list["Tile"]:
        """Four overlapping tiles covering this one, each a little more than half its side."""
        side = _round_up(self.side * 0.6)
        offset = self.side - side
        return [Tile(self.x + dx, self.y + dy, side) for dy in (0, offset) for dx in (0, offset)]


def _round_up(value: float) -> int:
    return int(math.ceil(value / STRIDE) * STRIDE)


def cover_tiles(width: int, height: int, min_overlap: float = 0.25) -> list[Tile]:
    """Square tiles of side round_up(short side) along the long side, evenly spread, overlapping by at least
    `min_overlap` of a tile (one tile when the picture is nearly square)."""
    side = _round_up(min(width, height))
    length = max(width, height)
    count = 1 if length <= side else math.ceil((length - side * min_overlap) / (side * (1 - min_overlap)))
    starts = np.round(np.linspace(0, max(length - side, 0), count)).astype(int)
    return [Tile(int(s), 0, side) if width >= height else Tile(0, int(s), side) for s in starts]


@dataclass
class People:
    """Detections of one frame: boxes (K, 5) x1, y1, x2, y2, score and keypoints (K, 17, 3) x, y, score (pixels)."""

    boxes: np.ndarray
    keypoints: np.ndarray

    @staticmethod
    def empty() -> "People":
        return People(np.zeros((0, 5), np.float32), np.zeros((0, NUM_KEYPOINTS, 3), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)

    def take(self, index) -> "People":
        return People(self.boxes[index], self.keypoints[index])

    @staticmethod
    def concatenate(parts: list["People"]) -> "People":
        parts = [p for p in parts if len(p)] or [People.empty()]
        return People(np.concatenate([p.boxes for p in parts]), np.concatenate([p.keypoints for p in parts]))


def decode_output(rows: np.ndarray, tile: Tile, scale: float) -> People:
    """MoveNet's (6, 56) output for one tile -> People in original-image pixels. Each row: 17 x (y, x, score)
    relative to the input, then the box ymin, xmin, ymax, xmax (relative) and the person score."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 56)
    yx = rows[:, :51].reshape(-1, NUM_KEYPOINTS, 3)
    keypoints = np.stack([yx[..., 1] * tile.side + tile.x, yx[..., 0] * tile.side + tile.y, yx[..., 2]], -1)
    box = rows[:, [52, 51, 54, 53]] * tile.side + [tile.x, tile.y, tile.x, tile.y]
    keypoints[..., :2] /= scale
    return People(np.column_stack([box / scale, rows[:, 55]]).astype(np.float32), keypoints.astype(np.float32))


def touches_inner_edge(boxes: np.ndarray, tile: Tile, width: float, height: float, scale: float) -> np.ndarray:
    """(K,) whether each box (original pixels) reaches an edge of `tile` that is not an edge of the picture."""
    x1, y1 = tile.x / scale, tile.y / scale
    x2, y2 = min((tile.x + tile.side) / scale, width), min((tile.y + tile.side) / scale, height)
    near = EDGE_MARGIN / scale
    return (((boxes[:, 0] <= x1 + near) & (x1 > 0)) | ((boxes[:, 1] <= y1 + near) & (y1 > 0))
            | ((boxes[:, 2] >= x2 - near) & (x2 < width)) | ((boxes[:, 3] >= y2 - near) & (y2 < height)))


def merge_tiles(people: People, cut: np.ndarray, iou_threshold: float = NMS_IOU) -> People:
    """Drop cut detections that another, uncut detection covers; then suppress duplicates (IoU above the threshold,
    or the same body parts at the same places: a part of a person seen whole elsewhere), the most complete body
    (most confident keypoints, then score) kept."""
    boxes = people.boxes
    if len(boxes) == 0:
        return people
    inter_over_own = _intersection(boxes, boxes) / np.maximum(_area(boxes), 1e-9)[:, None]
    np.fill_diagonal(inter_over_own, 0.0)
    covered = cut & (inter_over_own[:, ~cut] > COVERED).any(axis=1) if (~cut).any() else np.zeros_like(cut)
    people = people.take(~covered)
    confident = (people.keypoints[..., 2] >= KEYPOINT_SCORE).sum(axis=1)
    people = people.take(np.lexsort((-people.boxes[:, 4], -confident)))
    duplicate = (box_iou(people.boxes, people.boxes) > iou_threshold) | same_body(people)
    keep = np.ones(len(people), dtype=bool)
    for i in range(len(people)):
        if keep[i]:
            keep[i + 1:] &= ~duplicate[i, i + 1:]
    return people.take(keep)


def same_body(people: People) -> np.ndarray:
    """(K, K) whether two detections put at least 60 % of the (3 or more) keypoints both are confident about at the
    same places (within a tenth of the taller box's height): one person seen twice, e.g. whole and in part."""
    kp = people.keypoints.astype(np.float64)
    confident = kp[..., 2] >= KEYPOINT_SCORE
    both = confident[:, None, :] & confident[None, :, :]
    distance = np.linalg.norm(kp[:, None, :, :2] - kp[None, :, :, :2], axis=-1)
    height = people.boxes[:, 3] - people.boxes[:, 1]
    near = distance < 0.1 * np.maximum(height[:, None], height[None, :])[..., None]
    shared = both.sum(-1)
    same = (shared >= 3) & ((near & both).sum(-1) >= 0.6 * shared)
    np.fill_diagonal(same, False)
    return same


def with_keypoint_extent(people: People) -> People:
    """Grow each box to hold its confident keypoints, plus 5 % of their height at the sides and bottom (feet below the
    ankles) and 10 % at the top (the crown above the eyes): MoveNet's own boxes often stop at the shins, where its
    ankles are unsure too (then taken a thigh's length below the knee)."""
    kp = people.keypoints.astype(np.float64)
    confident = kp[..., 2] >= KEYPOINT_SCORE
    for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):  # an unsure ankle: a shin as long as the thigh
        guess = confident[:, hip] & confident[:, knee] & ~confident[:, ankle]
        kp[guess, ankle, :2] = 2 * kp[guess, knee, :2] - kp[guess, hip, :2]
        confident[guess, ankle] = True
    enough = confident.sum(axis=1) >= 3
    if not enough.any():
        return people
    x = np.where(confident, kp[..., 0], np.nan)[enough]
    y = np.where(confident, kp[..., 1], np.nan)[enough]
    pad = (np.nanmax(y, 1) - np.nanmin(y, 1)) * 0.05
    extent = np.stack([np.nanmin(x, 1) - pad, np.nanmin(y, 1) - 2 * pad, np.nanmax(x, 1) + pad,
                       np.nanmax(y, 1) + pad], -1)
    boxes = people.boxes.copy()
    boxes[enough, :2] = np.minimum(boxes[enough, :2], extent[:, :2])
    boxes[enough, 2:4] = np.maximum(boxes[enough, 2:4], extent[:, 2:])
    return People(boxes, people.keypoints)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    wh = np.clip(np.minimum(a[:, None, 2:4], b[None, :, 2:4]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    return wh[..., 0] * wh[..., 1]


class MoveNetDetector:
    """`.detect(rgb) -> (K, 5)` as every detector; `.detect_people(rgb) -> People` with the keypoints too."""

    name = "movenet-multipose"

    def __init__(self, model_path: str | Path, max_side: int = 736, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model_path = Path(model_path)
        self.max_side = max_side
        self.interpreter = Interpreter(model_path=str(self.model_path), num_threads=threads)
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self._side = 0
        self.calls = 0  # MoveNet invocations so far (tiles and quarters), for the log and the benchmark

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        return self.detect_people(rgb).boxes

    def detect_people(self, rgb: np.ndarray) -> People:
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_side / min(height, width))
        work = rgb if scale == 1.0 else cv2.resize(rgb, (round(width * scale), round(height * scale)),
                                                   interpolation=cv2.INTER_AREA)
        found, cut = [], []
        pending = cover_tiles(work.shape[1], work.shape[0])
        if work.shape[0] > pending[0].side:  # portrait: a standing person may be taller than a tile; see all at once
            found.append(self._overview(work, scale, pending[0].side))
            cut.append(np.zeros(len(found[0]), dtype=bool))
        while pending:
            tile = pending.pop()
            people = decode_output(self._run(work, tile), tile, scale)
            people = people.take(people.boxes[:, 4] >= MIN_SCORE)
            if (people.boxes[:, 4] >= FULL_SCORE).sum() >= MAX_PEOPLE_PER_CALL and tile.side * 0.6 >= MIN_TILE:
                pending.extend(tile.quarters())
            found.append(people)
            cut.append(touches_inner_edge(people.boxes, tile, width, height, scale))
        return with_keypoint_extent(merge_tiles(People.concatenate(found), np.concatenate(cut)))

    def _overview(self, work: np.ndarray, scale: float, side: int) -> People:
        """The whole picture shrunk into one tile of `side` (padded on the right)."""
        shrink = side / max(work.shape[:2])
        small = cv2.resize(work, (round(work.shape[1] * shrink), round(work.shape[0] * shrink)),
                           interpolation=cv2.INTER_AREA)
        people = decode_output(self._run(small, Tile(0, 0, side)), Tile(0, 0, side), scale * shrink)
        return people.take(people.boxes[:, 4] >= MIN_SCORE)

    def _run(self, work: np.ndarray, tile: Tile) -> np.ndarray:
        """One MoveNet call on the tile (zero-padded where it passes the picture's edge) -> (6, 56)."""
        patch = np.zeros((tile.side, tile.side, 3), dtype=np.uint8)
        region = work[tile.y:tile.y + tile.side, tile.x:tile.x + tile.side]
        patch[:region.shape[0], :region.shape[1]] = region
        if tile.side != self._side:
            self.interpreter.resize_tensor_input(self._input, (1, tile.side, tile.side, 3))
            self.interpreter.allocate_tensors()
            self._side = tile.side
        self.interpreter.set_tensor(self._input, patch[None])
        self.interpreter.invoke()
        self.calls += 1
        return self.interpreter.get_tensor(self._output)[0]
