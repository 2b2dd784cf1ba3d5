"""Tracking that keeps identities through crossings and short occlusions: ByteTrack's association (Zhang et al. 2022)
with the colour of each person's clothes as a second cue, on SORT's batched Kalman filters (`tracking.SortTracker`).

Per update (one detected frame):
1. Every track's box is predicted; a track unseen for more than a step stops changing its size (a person hidden
   behind another does not shrink away).
2. Confident detections (score >= `high`) are assigned to all tracks, lost ones included, by Hungarian assignment on
   cost = (1 - IoU) + `appearance_weight` x (1 - colour similarity), pairs with IoU < `min_iou` excluded. At a
   crossing the two boxes overlap alike, and the clothes decide.
3. Weak detections (`low` <= score < `high`: a half-hidden person) continue the tracks still unmatched that were seen
   on the previous step, on IoU >= `low_iou` alone, as ByteTrack does: they keep a track alive through an occlusion
   but never start one and never change its colours.
4. Confident detections left over start tentative tracks; a track is confirmed and reported after `min_hits`
   matches. A tentative track that misses a step is dropped; a confirmed one stays lost for up to `max_lost`
   steps before it ends.
A track's colours are a running mean of its confident detections that overlap no other detection (a neighbour's
colours would leak in otherwise). `summaries()` gives each track's span and colours for re-joining (`rejoin.py`).
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

from .appearance import FEATURES, similarity
from .detection import box_iou
from .tracking import SortTracker, states_to_boxes

HIGH, LOW, NEW_TRACK = 0.3, 0.1, 0.35
MIN_IOU, LOW_IOU = 0.1, 0.4
APPEARANCE_WEIGHT = 0.6
MAX_COST = 1.2
CLEAN_IOU = 0.1  # a detection overlapping another by more than this is not used to learn colours
COLOUR_MEMORY = 0.9  # running mean: weight of the colours seen so far


class ByteTracker(SortTracker):
    """`update(dets, colours)` once per detected frame -> (M, 5) x1, y1, x2, y2, id of the tracks matched now."""

    def __init__(self, max_lost: int = 30, min_hits: int = 2, high: float = HIGH, low: float = LOW,
                 new_track: float = NEW_TRACK, appearance_weight: float = APPEARANCE_WEIGHT) -> None:
        super().__init__(max_age=max_lost, min_hits=min_hits, iou_threshold=MIN_IOU)
        self.high, self.low, self.new_track, self.appearance_weight = high, low, new_track, appearance_weight
        self.colours = np.zeros((0, FEATURES))
        self.seen = np.zeros(0)  # how many clean detections made the colours
        self.hits = np.zeros(0, dtype=np.int64)
        self.track_colours: dict[int, np.ndarray] = {}  # every reported track's latest colours, kept after it ends

    def update(self, dets: np.ndarray, colours: np.ndarray | None = None) -> np.ndarray:
        """Detections (K, 5) x1, y1, x2, y2, score and their colours (K, 6) from `appearance.describe` (None: boxes
        alone decide)."""
        dets = np.asarray(dets, dtype=np.float64).reshape(len(dets), -1) if len(dets) else np.zeros((0, 5))
        colours = np.full((len(dets), FEATURES), np.nan) if colours is None else np.asarray(colours, np.float64)
        self.frame_count += 1
        self._predict()
        self.x[self.since_update > 1, 6] = 0.0  # lost: keep the size
        predicted = states_to_boxes(self.x)
        strong = np.flatnonzero(dets[:, 4] >= self.high)
        weak = np.flatnonzero((dets[:, 4] >= self.low) & (dets[:, 4] < self.high))
        d1, t1 = self._match_strong(dets[strong], colours[strong], predicted)
        left = np.setdiff1d(np.arange(len(self.ids)), t1)
        recent = left[self.since_update[left] == 1]
        d2, t2 = self._match_weak(dets[weak], predicted[recent])
        matched_dets = np.concatenate([strong[d1], weak[d2]])
        matched_tracks = np.concatenate([t1, recent[t2]])
        self._correct(matched_tracks, dets[matched_dets, :4])
        self.hits[matched_tracks] += 1
        clean_colours = np.where(_isolated(dets)[:, None], colours, np.nan)
        self._learn_colours(t1, clean_colours[strong[d1]])
        fresh = np.setdiff1d(strong[dets[strong, 4] >= self.new_track], strong[d1])
        self._start(dets[fresh, :4], clean_colours[fresh])
        return self._report()

    def _match_strong(self, dets: np.ndarray, colours: np.ndarray,
                      predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(dets) == 0 or len(predicted) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        iou = box_iou(dets, predicted)
        colour_sim = similarity(colours, self.colours)
        known = np.isfinite(colours).all(axis=1)[:, None] & (self.seen > 0)[None, :]
        cost = (1.0 - iou) + self.appearance_weight * np.where(known, 1.0 - colour_sim, 0.5)
        cost[iou < MIN_IOU] = 1e6
        rows, cols = linear_sum_assignment(cost)
        good = cost[rows, cols] <= MAX_COST
        return rows[good], cols[good]

    def _match_weak(self, dets: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(dets) == 0 or len(predicted) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        iou = box_iou(dets, predicted)
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= LOW_IOU
        return rows[good], cols[good]

    def _learn_colours(self, tracks: np.ndarray, colours: np.ndarray) -> None:
        """Running mean of the tracks' colours with the clean colours of their new detections (NaN rows skipped)."""
        known = np.isfinite(colours).all(axis=1)
        tracks, colours = tracks[known], colours[known]
        count = self.seen[tracks]
        memory = np.where(count == 0, 0.0, np.minimum(COLOUR_MEMORY, count / (count + 1)))[:, None]
        self.colours[tracks] = memory * np.nan_to_num(self.colours[tracks]) + (1 - memory) * colours
        self.seen[tracks] += 1

    def _report(self) -> np.ndarray:
        """Remember the matched confirmed tracks, drop tentative tracks that missed and tracks lost too long."""
        confirmed = (self.hits >= self.min_hits) | (self.frame_count <= self.min_hits)
        now = (self.since_update == 0) & confirmed
        self.track_colours.update(zip(self.ids[now].tolist(), self.colours[now].copy(), strict=True))
        out = np.column_stack([states_to_boxes(self.x[now]), self.ids[now]])
        self._keep((self.since_update <= self.max_age) & (confirmed | (self.since_update == 0)))
        return out

    def _start(self, dets: np.ndarray, colours: np.ndarray | None = None) -> None:
        super()._start(dets)
        colours = np.full((len(dets), FEATURES), np.nan) if colours is None else colours
        self.colours = np.concatenate([self.colours, colours])
        self.seen = np.concatenate([self.seen, np.isfinite(colours).all(axis=1).astype(float)])
        self.hits = np.concatenate([self.hits, np.ones(len(dets), dtype=np.int64)])

    def _keep(self, keep: np.ndarray) -> None:
        super()._keep(keep)
        self.colours, self.seen, self.hits = self.colours[keep], self.seen[keep], self.hits[keep]


def _isolated(dets: np.ndarray) -> np.ndarray:
    """(K,) whether no other detection overlaps each one by more than CLEAN_IOU (its colours are its own)."""
    overlap = box_iou(dets, dets)
    np.fill_diagonal(overlap, 0.0)
    return overlap.max(axis=1, initial=0.0) <= CLEAN_IOU
