"""The built-in multi-person detector: Google's MoveNet MultiPose Lightning on tiles of the full-resolution frame and
on windows around the people it already knows.

One MoveNet call returns at most six people (box, score and 17 keypoints each; any input size in multiples of 32)
and finds people well only near the size it was trained for: it misses people under ~80 px and cuts people over
~400 px into pieces. Its cost grows with the pixels it is shown (about 0.5 s of one core per megapixel here), so the
detector looks at the whole frame only on one call in `FULL_EVERY` (a "full look") and, on the calls in between, only
where people are known to be and where newcomers walk in.

A full look sees the frame three ways. Whole, shrunk to `OVERVIEW` pixels on its long side, for big people. At full
resolution (frames whose short side passes `max_side` are scaled down to it), in square tiles (side = the short side)
that overlap by at least a quarter of a tile, so anyone narrower than the overlap lies whole in some tile; a tile
that comes back full (six people) is split into four overlapping quarters, recursively, so crowds of any size are
found. And magnified `ZOOM` times, for people under `ZOOM_BELOW`: in the windows of the known small people (below),
and in one tile of a magnified grid swept round-robin over the whole frame, which finds small newcomers.

Every call looks at each known person in a window of their own (`person_windows`), scaled so that they stand
`PERSON_HEIGHT` tall in a `PERSON_WINDOW`-pixel input (a crowd of seven at 720p: a fifth of a full look's pixels).
Known people are those found on the last call and, for `REMEMBER` calls, those not found again (hidden behind
someone or something: looked for where they were last seen). The calls between full looks also look at strips along
the picture's sides (`edge_strips`), where people walk in; a newcomer elsewhere is found by the next full look. The
detector therefore keeps state: call it on the frames in order.

Merging: a detection that touches a tile's inner edge is a person cut by that tile; it is dropped when a detection
from another call covers most of it (that call saw them whole). The rest go through a score-ordered non-maximum
suppression that prefers the most complete body and also drops a part of a person seen whole (same keypoints at the
same places). Each detection keeps its 17 keypoints (COCO order, image pixels, score), and its box grows to hold them.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .detection import box_iou
from .overlap import available_cores

MAX_PEOPLE_PER_CALL = 6
NUM_KEYPOINTS = 17
STRIDE = 32  # MoveNet's input side must be a multiple of this
MIN_SCORE = 0.1  # keep weak detections too: the tracker uses them to continue existing tracks (ByteTrack)
FULL_SCORE = 0.2  # a call is 'full' when all six of its people score at least this
NMS_IOU = 0.5
COVERED = 0.6  # a cut detection this much inside another (of its own area) is that person
EDGE_MARGIN = 4.0  # pixels: a box this close to a tile's inner edge touches it
MIN_TILE = 192  # quarters are not split below this side
OVERVIEW = 512  # long side of the whole frame shrunk into one call, for people too big for full-resolution tiles
KEYPOINT_SCORE = 0.2  # a keypoint this sure is 'confident'
ZOOM = 2  # MoveNet misses people under ~90 px; it finds them at twice the size
ZOOM_BELOW = 90.0  # people shorter than this (pixels) are looked at magnified on the next full look
SWEEP_TILES = 1  # magnified tiles per full look that sweep the whole frame in turn, to find small people anywhere
FULL_EVERY = 6  # calls: the whole frame is looked at on one call in this many (once a second at every 4th frame of 25)
REMEMBER = 6  # calls: a known person not found again is still looked for where last seen this long (a second)
EDGE_STRIP = 0.25  # width of the strips along the sides looked at between full looks, of the picture's short side
PERSON_WINDOW = 256  # input side of a window on one known person (MoveNet's own training size) ...
PERSON_HEIGHT = 160  # ... in which they stand this tall (smaller windows miss more half-hidden people)


@dataclass(frozen=True)
class Tile:
    """A region of a picture: top-left corner, width and height (may pass the edges). MoveNet is shown tiles whose
    sides are multiples of STRIDE as they are, and person windows resized to their input size."""

    x: int
    y: int
    w: int
    h: int

    def quarters(self) -> list["Tile"]:
        """Overlapping square tiles covering this one, each side a little more than half its shorter side."""
        return [Tile(self.x + t.x, self.y + t.y, t.w, t.h)
                for t in grid_tiles(self.w, self.h, _round_up(min(self.w, self.h) * 0.6), min_overlap=0.3)]


def _round_up(value: float) -> int:
    return int(math.ceil(value / STRIDE) * STRIDE)


def grid_tiles(width: int, height: int, side: int, min_overlap: float = 0.25) -> list[Tile]:
    """Square tiles of `side` evenly spread over a width x height picture, neighbours overlapping by at least
    `min_overlap` of a tile; one row or column where the picture is no larger than a tile that way."""
    def starts(length: int) -> np.ndarray:
        count = 1 if length <= side else math.ceil((length - side * min_overlap) / (side * (1 - min_overlap)))
        return np.round(np.linspace(0, max(length - side, 0), count)).astype(int)

    return [Tile(int(x), int(y), side, side) for y in starts(height) for x in starts(width)]


def cover_tiles(width: int, height: int, min_overlap: float = 0.25) -> list[Tile]:
    """Square tiles of side round_up(short side) along the long side (one tile when nearly square)."""
    return grid_tiles(width, height, _round_up(min(width, height)), min_overlap)


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
    keypoints = np.stack([yx[..., 1] * tile.w + tile.x, yx[..., 0] * tile.h + tile.y, yx[..., 2]], -1)
    box = rows[:, [52, 51, 54, 53]] * [tile.w, tile.h, tile.w, tile.h] + [tile.x, tile.y, tile.x, tile.y]
    keypoints[..., :2] /= scale
    return People(np.column_stack([box / scale, rows[:, 55]]).astype(np.float32), keypoints.astype(np.float32))


def touches_inner_edge(boxes: np.ndarray, tile: Tile, width: float, height: float, scale: float) -> np.ndarray:
    """(K,) whether each box (original pixels) reaches an edge of `tile` that is not an edge of the picture."""
    x1, y1 = tile.x / scale, tile.y / scale
    x2, y2 = min((tile.x + tile.w) / scale, width), min((tile.y + tile.h) / scale, height)
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


def edge_strips(width: int, height: int) -> list[Tile]:
    """Strips along the left and right edges of a width x height picture, EDGE_STRIP of its short side wide: where
    people walk into the picture between full looks."""
    side = _round_up(min(width, height) * EDGE_STRIP)
    return [Tile(0, 0, side, _round_up(height)), Tile(width - side, 0, side, _round_up(height))]


def person_windows(boxes: np.ndarray) -> list[Tile]:
    """Square windows (original pixels) in which to look again at people found on the last call, boxes (K, >=4)
    x1, y1, x2, y2: one centred on each person, of a side that MoveNet, shown it at PERSON_WINDOW pixels, sees them
    PERSON_HEIGHT tall (at most ZOOM times magnified), so a person moving by up to a third of their height between
    calls stays whole inside. A person whom an earlier window already holds (an eighth of its side from its edges)
    at a similar scale gets none; the tallest go first, their windows being the largest."""
    boxes = np.asarray(boxes, dtype=np.float64)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    zoom = np.minimum(PERSON_HEIGHT / heights, ZOOM)
    windows: list[Tile] = []
    for k in np.argsort(-heights):
        x1, y1, x2, y2 = boxes[k, :4]
        if any(t.x + t.w / 8 <= x1 and t.y + t.h / 8 <= y1 and x2 <= t.x + t.w * 7 / 8 and y2 <= t.y + t.h * 7 / 8
               and 0.7 <= PERSON_WINDOW / t.w / zoom[k] <= 1.4 for t in windows):
            continue
        side = round(PERSON_WINDOW / zoom[k])
        windows.append(Tile(round((x1 + x2 - side) / 2), round((y1 + y2 - side) / 2), side, side))
    return windows


class MoveNetDetector:
    """`.detect(rgb) -> (K, 5)` as every detector; `.detect_people(rgb) -> People` with the keypoints too.

    Call it on the frames in order: it remembers whom it saw on the last call, to look at them again in windows of
    their own (`person_windows`) and to look at the whole frame only every `full_every` calls."""

    name = "movenet-multipose"

    def __init__(self, model_path: str | Path, max_side: int = 736, zoom_below: float = ZOOM_BELOW,
                 sweep_tiles: int = SWEEP_TILES, full_every: int = FULL_EVERY, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.max_side, self.zoom_below, self.sweep_tiles = max_side, zoom_below, sweep_tiles
        self.full_every = full_every
        self.threads = threads or min(available_cores(), 4)  # LiteRT's own default is one thread
        self._interpreters: dict[tuple[int, int], tuple] = {}  # input size -> (interpreter, input, output index)
        self._known = np.zeros((0, 6))  # x1, y1, x2, y2, score, call last seen: the people of the last calls
        self._sweep_next = 0
        self.looks = 0  # detect calls so far
        self.calls = 0  # MoveNet invocations so far (tiles, quarters, windows), for the log and the benchmark

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        return self.detect_people(rgb).boxes

    def detect_people(self, rgb: np.ndarray) -> People:
        """Everyone in the frame, merged from several looks: on a full look (every `full_every` calls, and whenever
        nobody is known) the whole frame shrunk, whole-resolution tiles (split where full), windows on the known small
        people and a tile of the magnified sweep; on the other calls, windows on every known person and strips along
        the picture's sides."""
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_side / min(height, width))
        work = rgb if scale == 1.0 else cv2.resize(rgb, (round(width * scale), round(height * scale)),
                                                   interpolation=cv2.INTER_AREA)
        full = self.looks % self.full_every == 0 or len(self._known) == 0
        found, cut = [], []

        def look(image: np.ndarray, tile: Tile, image_scale: float, size: int | None = None) -> People:
            people = decode_output(self._run(image, tile, size), tile, image_scale)
            people = people.take(people.boxes[:, 4] >= MIN_SCORE)
            found.append(people)
            cut.append(touches_inner_edge(people.boxes, tile, width, height, image_scale))
            return people

        known = self._known
        if full:
            self._look_everywhere(work, scale, look)
            known = known[known[:, 3] - known[:, 1] < self.zoom_below]
        else:
            for tile in edge_strips(work.shape[1], work.shape[0]):
                look(work, tile, scale)
        for window in person_windows(known):
            look(rgb, window, 1.0, PERSON_WINDOW)
        if full and self.zoom_below > 0 and self.sweep_tiles > 0:
            zoomed = cv2.resize(work, (work.shape[1] * ZOOM, work.shape[0] * ZOOM), interpolation=cv2.INTER_LINEAR)
            for tile in self._sweep(zoomed.shape[1], zoomed.shape[0]):
                look(zoomed, tile, scale * ZOOM)
        people = with_keypoint_extent(merge_tiles(People.concatenate(found), np.concatenate(cut)))
        self._remember(people.boxes[people.boxes[:, 4] >= FULL_SCORE])
        self.looks += 1
        return people

    def _remember(self, boxes: np.ndarray) -> None:
        """Known people: those just found, and those of the last REMEMBER calls whom no box found now overlaps
        (hidden for a moment: looked for where they were last seen, as they come out again)."""
        old = self._known
        if len(old) and len(boxes):
            old = old[box_iou(old, boxes).max(axis=1) < 0.3]
        old = old[old[:, 5] > self.looks - REMEMBER]
        self._known = np.concatenate([np.column_stack([boxes[:, :5], np.full(len(boxes), self.looks)]), old])

    def _look_everywhere(self, work: np.ndarray, scale: float, look) -> None:
        """The whole frame: shrunk to OVERVIEW for big people, and in full-resolution tiles, a full one split."""
        shrink = OVERVIEW / max(work.shape[:2])
        if shrink < 1:  # big people, whom MoveNet cuts in pieces when they pass ~400 px, are found here whole
            small = cv2.resize(work, (round(work.shape[1] * shrink), round(work.shape[0] * shrink)),
                               interpolation=cv2.INTER_AREA)
            look(small, Tile(0, 0, _round_up(small.shape[1]), _round_up(small.shape[0])), scale * shrink)
        pending = cover_tiles(work.shape[1], work.shape[0])
        while pending:
            tile = pending.pop()
            people = look(work, tile, scale)
            if (people.boxes[:, 4] >= FULL_SCORE).sum() >= MAX_PEOPLE_PER_CALL and tile.w * 0.6 >= MIN_TILE:
                pending.extend(tile.quarters())

    def _sweep(self, width: int, height: int) -> list[Tile]:
        """The next `sweep_tiles` tiles of the magnified frame's grid, round-robin."""
        grid = grid_tiles(width, height, self.max_side)
        sweep = [grid[(self._sweep_next + k) % len(grid)] for k in range(min(self.sweep_tiles, len(grid)))]
        self._sweep_next = (self._sweep_next + len(sweep)) % len(grid)
        return sweep

    def _run(self, image: np.ndarray, tile: Tile, size: int | None = None) -> np.ndarray:
        """One MoveNet call on the tile (zero-padded where it passes the picture's edges), resized to `size` x `size`
        when given -> (6, 56)."""
        patch = np.zeros((tile.h, tile.w, 3), dtype=np.uint8)
        x1, y1 = max(tile.x, 0), max(tile.y, 0)
        x2, y2 = min(tile.x + tile.w, image.shape[1]), min(tile.y + tile.h, image.shape[0])
        if x2 > x1 and y2 > y1:
            patch[y1 - tile.y:y2 - tile.y, x1 - tile.x:x2 - tile.x] = image[y1:y2, x1:x2]
        if size is not None and patch.shape[:2] != (size, size):
            patch = cv2.resize(patch, (size, size),
                               interpolation=cv2.INTER_AREA if tile.w > size else cv2.INTER_LINEAR)
        interpreter, input_index, output_index = self._interpreter(patch.shape[1], patch.shape[0])
        interpreter.set_tensor(input_index, patch[None])
        interpreter.invoke()
        self.calls += 1
        return interpreter.get_tensor(output_index)[0]

    def _interpreter(self, width: int, height: int) -> tuple:
        """One interpreter per input size, so that alternating sizes never re-allocate."""
        if (width, height) not in self._interpreters:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_path=str(self.model_path), num_threads=self.threads)
            input_index = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(input_index, (1, height, width, 3))
            interpreter.allocate_tensors()
            self._interpreters[width, height] = (interpreter, input_index,
                                                 interpreter.get_output_details()[0]["index"])
        return self._interpreters[width, height]
