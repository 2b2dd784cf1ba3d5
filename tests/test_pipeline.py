"""Chunked feeding of tracklets to estimators (bounded memory) gives the same result as one long sequence."""

import numpy as np
import pytest

from backend import pipeline
from backend.errors import NothingFound
from backend.overlap import Workers
from backend.pipeline import ChunkFeeder


class WindowEstimator:
    """Each frame's output is the mean of the crops' values over a window reaching `context` frames around it
    (clipped at the ends of what it is given), like TCMR's per-frame windows."""

    def __init__(self, context):
        self.context = context
        self.calls = []

    def estimate(self, crops):
        self.calls.append(len(crops))
        values = crops[:, 0, 0, 0].astype(float)
        before, after = self.context
        index = np.arange(len(values))
        windows = [values[max(i - before, 0):i + after + 1] for i in index]
        return {"x": np.array([w.mean() for w in windows]), "n": np.array([len(w) for w in windows])}


def feed(estimator, num_rows):
    crops = np.zeros((num_rows, 2, 2, 3), dtype=np.uint8)
    crops[:, 0, 0, 0] = (np.arange(num_rows) * 7) % 251
    feeder = ChunkFeeder(estimator, num_rows)
    for row, crop in enumerate(crops):
        feeder.add(row, crop)
    return feeder, crops


@pytest.mark.parametrize("num_rows", [3, 5, 12, 13, 16])
def test_context_makes_chunk_edges_match_one_long_sequence(monkeypatch, num_rows):
    monkeypatch.setattr(pipeline, "CHUNK", 5)
    estimator = WindowEstimator(context=(2, 1))
    feeder, crops = feed(estimator, num_rows)
    rows = np.concatenate([r for r, _ in feeder.results])
    got = np.concatenate([out["x"] for _, out in feeder.results])
    whole = WindowEstimator(context=(2, 1)).estimate(crops)["x"]
    assert list(rows) == list(range(num_rows)) and np.allclose(got, whole)
    assert max(estimator.calls) <= 5 + 2 + 1  # memory stays bounded by a chunk and its context


def test_without_context_each_chunk_is_its_own_sequence(monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 5)
    estimator = WindowEstimator(context=(0, 0))
    feeder, _ = feed(estimator, 12)
    assert estimator.calls == [5, 5, 2]
    assert [r for r, _ in feeder.results] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]


def test_a_chunk_where_nobody_is_seen_is_dropped(monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 4)

    class Blind(WindowEstimator):
        def estimate(self, crops):
            if len(self.calls) == 1:
                self.calls.append(len(crops))
                raise NothingFound("nobody", "")
            return super().estimate(crops)

    feeder, _ = feed(Blind(context=(0, 0)), 10)
    assert [r for r, _ in feeder.results] == [[0, 1, 2, 3], [8, 9]]


def test_camera_box_scale_converts_the_crop_camera_with_the_box_it_refers_to():
    from backend.tracking import Tracklet
    from smpl_rig.camera import crop_cam_to_orig_cam

    n = 4
    tracklet = Tracklet(frame_ids=np.arange(n), bboxes=np.tile([300.0, 200.0, 150.0, 150.0], (n, 1)))
    out = {"pose": np.zeros((n, 72)), "betas": np.zeros((n, 10)), "cam": np.tile([0.9, 0.1, -0.2], (n, 1)),
           "joints3d": np.zeros((n, 24, 3)), "pelvis": np.zeros((n, 3))}
    plain = pipeline.to_person(tracklet, np.arange(n), out, 640, 480, smooth=0)
    tcmr = pipeline.to_person(tracklet, np.arange(n), out, 640, 480, smooth=0, box_scale=1.2)
    scaled = tracklet.bboxes * [1, 1, 1.2, 1.2]
    assert np.allclose(tcmr.orig_cam, crop_cam_to_orig_cam(out["cam"], scaled, 640, 480), atol=1e-6)
    assert np.allclose(tcmr.trans[:, 2] * 1.2, plain.trans[:, 2], rtol=1e-5)  # a 1.2x larger box: 1.2x closer
    assert np.allclose(plain.bboxes, tracklet.bboxes)  # the motion file keeps the tracked boxes


def test_chunks_of_several_tracklets_estimated_at_once_give_the_same_results(monkeypatch):
    monkeypatch.setattr(pipeline, "CHUNK", 5)
    alone = [feed(WindowEstimator(context=(2, 1)), n)[0].results for n in (7, 12, 3)]
    with Workers(2) as workers:
        feeders = [ChunkFeeder(WindowEstimator(context=(2, 1)), n, workers) for n in (7, 12, 3)]
        for row in range(12):  # rows of the three tracklets interleaved, as frames bring them
            for feeder in feeders:
                if row < feeder.num_rows:
                    feeder.add(row, np.full((2, 2, 3), (row * 7) % 251, dtype=np.uint8))
        together = [feeder.results for feeder in feeders]
    for expected, got in zip(alone, together, strict=True):
        assert [rows for rows, _ in got] == [rows for rows, _ in expected]
        assert all(np.array_equal(a["x"], b["x"]) for (_, a), (_, b) in zip(expected, got, strict=True))
