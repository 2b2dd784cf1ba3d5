"""Multi-person tracking: SORT (Bewley et al. 2016) as the official VIBE demo runs it, and tracklets per person.

Each track is a constant-velocity Kalman filter on [cx, cy, area, aspect ratio] (plus the velocities of the first
three); detections join tracks by Hungarian assignment on IoU. Settings as the official tracker: a track dies after
more than `max_age` = 1 frame without a detection, is reported once it has `min_hits` = 3 consecutive hits (or during
the first 3 frames), and a match needs IoU >= 0.3. Reported boxes are the filter's estimate just corrected by the
detection, as the official tracker reports them.

`collect_tracklets` follows the official demo's loop: a frame with no detection at all does not advance the tracker
(so a lone person missed by the detector for a few frames keeps their id, and their tracklet skips those frames).
SORT has no appearance model: a person who leaves and comes back, or who is lost for more than `max_age` frames
while someone else is detected, gets a new id. Ids count from 1 in order of first appearance, after tracklets
shorter than `min_frames` are dropped.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .detection import box_iou
from .rejoin import rejoin

MAX_AGE, MIN_HITS, IOU_THRESHOLD = 1, 3, 0.3

# Constant velocity: cx, cy and area move by their velocity each frame; the aspect ratio is constant.
_F = np.eye(7)
_F[[0, 1, 2], [4, 5, 6]] = 1.0
_H = np.eye(4, 7)
_Q = np.diag([1.0, 1.0, 1.0, 1.0, 0.01, 0.01, 0.0001])  # process noise, small for velocities (official values)
_R = np.diag([1.0, 1.0, 10.0, 10.0])  # measurement noise: area and ratio are noisier than the centre
_P0 = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])  # unknown initial velocities get a large variance


@dataclass
class Tracklet:
    """One tracked person: video frame numbers (N,) and square boxes (N, 4) cx, cy, w, h with w == h."""

    frame_ids: np.ndarray
    bboxes: np.ndarray


def boxes_to_states(boxes: np.ndarray) -> np.ndarray:
    """x1, y1, x2, y2 (N, >=4) -> Kalman measurement cx, cy, area, w/h (N, 4)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.stack([boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w * h, w / h], axis=-1)


def states_to_boxes(states: np.ndarray) -> np.ndarray:
    """Kalman state (N, >=4) -> x1, y1, x2, y2 (N, 4); NaN where area x ratio went negative."""
    with np.errstate(invalid="ignore"):
        w = np.sqrt(states[:, 2] * states[:, 3])
    h = states[:, 2] / np.where(w > 0, w, np.nan)
    return np.stack([states[:, 0] - w / 2, states[:, 1] - h / 2, states[:, 0] + w / 2, states[:, 1] + h / 2], -1)


class SortTracker:
    """SORT over all tracks at once (the Kalman filters are batched). Call `update` once per frame."""

    def __init__(self, max_age: int = MAX_AGE, min_hits: int = MIN_HITS, iou_threshold: float = IOU_THRESHOLD) -> None:
        self.max_age, self.min_hits, self.iou_threshold = max_age, min_hits, iou_threshold
        self.x = np.zeros((0, 7))  # states
        self.P = np.zeros((0, 7, 7))  # covariances
        self.ids = np.zeros(0, dtype=np.int64)
        self.since_update = np.zeros(0, dtype=np.int64)
        self.hit_streak = np.zeros(0, dtype=np.int64)
        self.frame_count = 0
        self.next_id = 1

    def update(self, dets: np.ndarray) -> np.ndarray:
        """Detections (K, 4 or 5) x1, y1, x2, y2[, score] of one frame -> confirmed tracks (M, 5) x1, y1, x2, y2, id."""
        dets = np.asarray(dets, dtype=np.float64).reshape(len(dets), -1)[:, :4]
        self.frame_count += 1
        self._predict()
        matched_dets, matched_tracks = self._associate(dets, states_to_boxes(self.x))
        self._correct(matched_tracks, dets[matched_dets])
        self._start(np.delete(dets, matched_dets, axis=0))
        report = (self.since_update == 0) & ((self.hit_streak >= self.min_hits) | (self.frame_count <= self.min_hits))
        out = np.column_stack([states_to_boxes(self.x[report]), self.ids[report]])
        self._keep(self.since_update <= self.max_age)
        return out

    def _predict(self) -> None:
        self.x[self.x[:, 6] + self.x[:, 2] <= 0, 6] = 0.0  # the area may shrink to zero, not below
        self.x = self.x @ _F.T
        self.P = _F @ self.P @ _F.T + _Q
        self.hit_streak[self.since_update > 0] = 0
        self.since_update += 1
        self._keep(np.isfinite(states_to_boxes(self.x)).all(axis=1))

    def _associate(self, dets: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hungarian assignment maximising IoU; pairs below the IoU threshold stay unmatched."""
        if len(dets) == 0 or len(predicted) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        iou = box_iou(dets, predicted)
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= self.iou_threshold
        return rows[good], cols[good]

    def _correct(self, tracks: np.ndarray, dets: np.ndarray) -> None:
        """Kalman update of the matched tracks (Joseph form, as filterpy)."""
        x, P = self.x[tracks], self.P[tracks]
        S = P[:, :4, :4] + _R
        K = P[:, :, :4] @ np.linalg.inv(S)
        self.x[tracks] = x + (K @ (boxes_to_states(dets) - x[:, :4])[..., None])[..., 0]
        A = np.eye(7) - K @ _H
        self.P[tracks] = A @ P @ A.transpose(0, 2, 1) + K @ _R @ K.transpose(0, 2, 1)
        self.since_update[tracks] = 0
        self.hit_streak[tracks] += 1

    def _start(self, dets: np.ndarray) -> None:
        n = len(dets)
        self.x = np.concatenate([self.x, np.column_stack([boxes_to_states(dets), np.zeros((n, 3))])])
        self.P = np.concatenate([self.P, np.repeat(_P0[None], n, axis=0)])
        self.ids = np.concatenate([self.ids, np.arange(self.next_id, self.next_id + n)])
        self.since_update = np.concatenate([self.since_update, np.zeros(n, dtype=np.int64)])
        self.hit_streak = np.concatenate([self.hit_streak, np.zeros(n, dtype=np.int64)])
        self.next_id += n

    def _keep(self, keep: np.ndarray) -> None:
        self.x, self.P, self.ids = self.x[keep], self.P[keep], self.ids[keep]
        self.since_update, self.hit_streak = self.since_update[keep], self.hit_streak[keep]


def square_boxes(boxes: np.ndarray) -> np.ndarray:
    """x1, y1, x2, y2 (N, >=4) -> cx, cy, w, h (N, 4) with w = h = max(w, h), same centre (the official demo's)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    return np.stack([boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, side, side], axis=-1)


def fill_gaps(frame_ids: np.ndarray, boxes: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate boxes over runs of at most `max_gap - 1` missing frames (e.g. between strided
    detections); longer gaps stay gaps."""
    steps = np.diff(frame_ids)
    fill = (steps > 1) & (steps <= max_gap)
    if not fill.any():
        return frame_ids, boxes
    dense = np.concatenate([frame_ids[:1]] + [np.arange(a + 1, b + 1) if f else np.array([b])
                                              for a, b, f in zip(frame_ids[:-1], frame_ids[1:], fill, strict=True)])
    return dense, np.stack([np.interp(dense, frame_ids, boxes[:, k]) for k in range(boxes.shape[1])], axis=-1)


def _has_area(dets: np.ndarray) -> np.ndarray:
    """(K,) whether each detection's box has a positive width and height (SORT's state of an empty box is NaN)."""
    dets = np.asarray(dets, dtype=np.float64).reshape(len(dets), -1) if len(dets) else np.zeros((0, 4))
    return (dets[:, 2] > dets[:, 0]) & (dets[:, 3] > dets[:, 1])


def collect_tracklets(frames: Iterable[tuple], min_frames: int = 25, tracker: SortTracker | None = None,
                      max_gap: int = 1, rejoin_gap: int = 0) -> dict[int, Tracklet]:
    """Track `(frame_id, detections (K, 5)[, colours (K, 6)])` in frame order -> {id: Tracklet}, ids 1.. in order
    of appearance. Colours (`appearance.describe`) go to trackers that use them (`bytetrack.ByteTracker`).

    With `max_gap` > 1 (detections on every k-th frame only), boxes of the frames in between are interpolated.
    With `rejoin_gap` > 0 and a tracker that keeps `track_colours`, a track that starts at most that many frames
    after another ended continues it when it is clearly the same person (`rejoin.rejoin`); the frames between stay
    a gap.
    """
    tracker = tracker or SortTracker()
    rows: dict[int, list[tuple[int, np.ndarray]]] = {}
    for frame_id, dets, *colours in frames:
        keep = _has_area(dets)
        if not keep.any():
            continue  # the official demo leaves the tracker untouched on frames without detections
        for track in tracker.update(np.asarray(dets)[keep], *(np.asarray(c)[keep] for c in colours)):
            rows.setdefault(int(track[4]), []).append((int(frame_id), track[:4]))
    if rejoin_gap > 0 and hasattr(tracker, "track_colours") and rows:
        root = rejoin({raw_id: (r[0][0], r[-1][0]) for raw_id, r in rows.items()}, tracker.track_colours, rejoin_gap)
        joined: dict[int, list[tuple[int, np.ndarray]]] = {}
        for raw_id in sorted(rows, key=lambda k: rows[k][0][0]):
            joined.setdefault(root[raw_id], []).extend(rows[raw_id])
        rows = joined
    dense = {raw_id: fill_gaps(np.array([f for f, _ in r], dtype=np.int64), np.array([b for _, b in r]), max_gap)
             for raw_id, r in rows.items()}
    kept = sorted((ids[0], raw_id) for raw_id, (ids, _) in dense.items() if len(ids) >= min_frames)
    return {
        new_id: Tracklet(frame_ids=dense[raw_id][0], bboxes=square_boxes(dense[raw_id][1]))
        for new_id, (_, raw_id) in enumerate(kept, start=1)
    }
