"""Multi-person tracking scores (numpy): detection recall and precision, CLEAR-MOT's MOTA and identity switches,
IDF1, and the crossings a clip holds, for `bench/people.py`.

Truth: per frame and person, a tight box (NaN when out of the picture) and whether the person counts (tall enough
and visible enough to be expected). Predictions: per track, its frames and the backend's square boxes (cx, cy, side,
side), as motion.npz stores them. A prediction matches a true person when its centre lies inside the true box and
its side is 0.5-2 times the box's height; among those, the nearest centres win (Hungarian), and a pair matched on the
previous frame is kept while it stays valid (CLEAR-MOT). Predictions matched to a person who does not count (too small,
hidden) are ignored, neither right nor wrong; unmatched predictions are false positives.

IDF1 (Ristani et al. 2016) here assigns each true person at most one track and each track at most one person over the
whole clip, maximising the frames on which the pair was matched; IDF1 = 2 IDTP / (true detections + predictions).
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

INVALID = 1e9


@dataclass
class TrackingScore:
    counted: int  # true person-frames that count
    matched: int  # of those, found
    predicted: int  # predicted person-frames not ignored
    false_positives: int
    id_switches: int
    idtp: int
    matches: list[tuple[int, int, int]] = field(default_factory=list)  # (frame, true index, track id), counted only

    @property
    def recall(self) -> float:
        return self.matched / max(self.counted, 1)

    @property
    def precision(self) -> float:
        return self.matched / max(self.matched + self.false_positives, 1)

    @property
    def mota(self) -> float:
        return 1.0 - (self.counted - self.matched + self.false_positives + self.id_switches) / max(self.counted, 1)

    @property
    def idf1(self) -> float:
        return 2 * self.idtp / max(self.counted + self.predicted, 1)


def match_cost(truth: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """(T, 4) tight x1, y1, x2, y2 and (S, 4) cx, cy, side, side -> (T, S) centre distance over the true height,
    INVALID where the centre is outside the true box or the side is not 0.5-2 times the true height."""
    height = truth[:, 3] - truth[:, 1]
    centre = squares[None, :, :2]
    inside = ((centre >= truth[:, None, :2]) & (centre <= truth[:, None, 2:4])).all(-1)
    ratio = squares[None, :, 2] / np.maximum(height[:, None], 1e-9)
    distance = np.linalg.norm(centre - (truth[:, None, :2] + truth[:, None, 2:4]) / 2, axis=-1) / height[:, None]
    return np.where(inside & (ratio >= 0.5) & (ratio <= 2.0), distance, INVALID)


def score_tracks(truth_boxes: np.ndarray, counts: np.ndarray,
                 tracks: dict[int, tuple[np.ndarray, np.ndarray]]) -> TrackingScore:
    """truth_boxes (N, P, 4), counts (N, P) bool, tracks {id: (frame ids (n,), squares (n, 4))} -> TrackingScore."""
    num_frames, num_people = counts.shape
    per_frame: dict[int, list[tuple[int, np.ndarray]]] = {}
    for tid, (frames, squares) in tracks.items():
        for f, square in zip(np.asarray(frames), np.asarray(squares, dtype=np.float64), strict=True):
            if 0 <= f < num_frames:
                per_frame.setdefault(int(f), []).append((tid, square))
    previous: dict[int, int] = {}  # true index -> track id matched on the last frame it was matched
    last_id: dict[int, int] = {}
    counted, matched, predicted, false_positives, switches = int(counts.sum()), 0, 0, 0, 0
    matches = []
    for f in range(num_frames):
        present = np.flatnonzero(np.isfinite(truth_boxes[f]).all(axis=1))
        preds = per_frame.get(f, [])
        ids = [tid for tid, _ in preds]
        cost = (match_cost(truth_boxes[f, present], np.array([s for _, s in preds])) if preds and len(present)
                else np.full((len(present), len(preds)), INVALID))
        for row, p in enumerate(present):  # CLEAR-MOT: keep last frame's pair while it is still valid
            if previous.get(p) in ids and cost[row, ids.index(previous[p])] < INVALID:
                keep = ids.index(previous[p])
                cost[row, :], cost[:, keep] = INVALID, INVALID
                cost[row, keep] = -1.0
        rows, cols = linear_sum_assignment(cost) if cost.size else (np.zeros(0, int), np.zeros(0, int))
        good = cost[rows, cols] < INVALID
        pairs = {int(present[r]): ids[c] for r, c in zip(rows[good], cols[good], strict=True)}
        ignored = sum(1 for p in pairs if not counts[f, p])
        predicted += len(preds) - ignored
        false_positives += len(preds) - len(pairs)
        for p, tid in pairs.items():
            previous[p] = tid
            if counts[f, p]:
                matched += 1
                switches += int(p in last_id and last_id[p] != tid)
                last_id[p] = tid
                matches.append((f, p, tid))
    return TrackingScore(counted, matched, predicted, false_positives, switches, _idtp(matches, num_people), matches)


def _idtp(matches: list[tuple[int, int, int]], num_people: int) -> int:
    """Frames on which the one-to-one best pairing of true people and tracks agrees."""
    if not matches:
        return 0
    tids = sorted({tid for _, _, tid in matches})
    together = np.zeros((num_people, len(tids)))
    for _, p, tid in matches:
        together[p, tids.index(tid)] += 1
    rows, cols = linear_sum_assignment(-together)
    return int(together[rows, cols].sum())


def count_crossings(truth_boxes: np.ndarray, counts: np.ndarray) -> int:
    """Times two counted people pass each other: the left-right order of their centres flips on a frame where their
    boxes overlap."""
    centre_x = (truth_boxes[..., 0] + truth_boxes[..., 2]) / 2
    crossings = 0
    for i in range(counts.shape[1]):
        for j in range(i + 1, counts.shape[1]):
            both = np.flatnonzero(counts[:, i] & counts[:, j])
            order = np.sign(centre_x[both, i] - centre_x[both, j])
            flips = both[1:][(order[1:] * order[:-1] < 0) & (np.diff(both) == 1)]
            a, b = truth_boxes[flips, i], truth_boxes[flips, j]
            overlap = (np.minimum(a[:, 2], b[:, 2]) > np.maximum(a[:, 0], b[:, 0])) & \
                      (np.minimum(a[:, 3], b[:, 3]) > np.maximum(a[:, 1], b[:, 1]))
            crossings += int(overlap.sum())
    return crossings
