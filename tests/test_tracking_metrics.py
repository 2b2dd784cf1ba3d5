"""The people benchmark's scores on hand-made tracks whose right answers are known."""

import numpy as np

from bench.tracking_metrics import count_crossings, score_tracks


def crossing_pair(frames=20):
    """Two people (tight boxes 40x100) walking past each other along the same row; (N, 2, 4)."""
    x = np.linspace(0, 200, frames)
    a = np.stack([x, np.full(frames, 50), x + 40, np.full(frames, 150)], -1)
    b = np.stack([200 - x, np.full(frames, 55), 240 - x, np.full(frames, 155)], -1)
    return np.stack([a, b], axis=1)


def squares(boxes):
    """Tight boxes -> the backend's square boxes (cx, cy, side, side)."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2, side, side], -1)


def test_perfect_tracks_score_one():
    truth = crossing_pair()
    frames = np.arange(20)
    score = score_tracks(truth, np.ones((20, 2), bool), {7: (frames, squares(truth[:, 0])),
                                                          9: (frames, squares(truth[:, 1]))})
    assert (score.recall, score.precision, score.mota, score.idf1, score.id_switches) == (1, 1, 1, 1, 0)
    assert count_crossings(truth, np.ones((20, 2), bool)) == 1


def test_swapped_identities_count_two_switches_and_lower_idf1():
    truth = crossing_pair()
    frames = np.arange(20)
    first = np.where(frames[:, None] < 3, squares(truth[:, 0]), squares(truth[:, 1]))  # swapped on frame 3
    second = np.where(frames[:, None] < 3, squares(truth[:, 1]), squares(truth[:, 0]))
    score = score_tracks(truth, np.ones((20, 2), bool), {1: (frames, first), 2: (frames, second)})
    assert score.recall == 1 and score.id_switches == 2 and score.idf1 == 2 * 17 / 40  # the longer pairing counts
    assert np.isclose(score.mota, 1 - 2 / 40)


def test_misses_false_boxes_and_ignored_people():
    truth = crossing_pair()
    counts = np.ones((20, 2), bool)
    counts[:, 1] = False  # person 1 is too small to count: a track on them is neither right nor wrong
    frames = np.arange(20)
    stray = np.tile([500.0, 500.0, 100.0, 100.0], (5, 1))
    tracks = {1: (frames[:10], squares(truth[:10, 0])), 2: (frames, squares(truth[:, 1])), 3: (frames[:5], stray)}
    score = score_tracks(truth, counts, tracks)
    assert score.counted == 20 and score.matched == 10 and score.false_positives == 5
    assert score.recall == 0.5 and np.isclose(score.precision, 10 / 15) and score.predicted == 15


def test_no_crossing_when_people_pass_far_apart():
    truth = crossing_pair()
    truth[:, 1, [1, 3]] += 300  # the second walks on a row below: their boxes never overlap
    assert count_crossings(truth, np.ones((20, 2), bool)) == 0
