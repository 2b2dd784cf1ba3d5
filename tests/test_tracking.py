import numpy as np

from backend.tracking import SortTracker, collect_tracklets, fill_gaps, square_boxes


def walk(start_xy, velocity, size, frames, score=0.9):
    """Boxes (N, 5) x1, y1, x2, y2, score of a person of `size` (w, h) moving at constant velocity."""
    t = np.arange(frames)[:, None]
    top_left = np.asarray(start_xy, float) + t * np.asarray(velocity, float)
    return np.column_stack([top_left, top_left + size, np.full(frames, score)])


def frames_of(*people):
    """Per-frame detection arrays from per-person {frame: box} dicts (frame numbers 0..max)."""
    last = max(max(p) for p in people)
    return [(f, np.array([p[f] for p in people if f in p]).reshape(-1, 5)) for f in range(last + 1)]


def test_kalman_filter_learns_the_velocity_and_follows_the_detection():
    boxes = walk((10, 20), (3.0, -1.0), (40, 80), 40)
    tracker = SortTracker()
    outputs = [tracker.update(b[None]) for b in boxes]
    assert all(len(o) == 1 and o[0, 4] == 1 for o in outputs)
    assert np.allclose(tracker.x[0, 4:6], [3.0, -1.0], atol=0.05)  # velocity of the centre, pixels per frame
    assert np.abs(outputs[-1][0, :4] - boxes[-1, :4]).max() < 0.5


def test_new_tracks_are_confirmed_after_three_hits_and_die_after_a_missed_frame_too_many():
    a = walk((10, 10), (2, 0), (40, 80), 12)
    b = walk((200, 10), (-2, 0), (40, 80), 12)
    tracker = SortTracker()
    reported = []
    for f in range(12):
        dets = [a[f]] + ([b[f]] if f >= 5 else [])
        reported.append(sorted(tracker.update(np.array(dets))[:, 4].astype(int)))
    assert reported[:5] == [[1]] * 5
    assert reported[5:8] == [[1]] * 3  # person 2 starts at frame 5 (after the first 3 frames): 3 hits needed
    assert reported[8:] == [[1, 2]] * 4
    tracker.update(np.array([b[11]]))  # person 1 missed once: kept
    assert 1 in tracker.ids
    tracker.update(np.array([b[11]]))  # missed twice (> max_age = 1): gone
    assert 1 not in tracker.ids and 2 in tracker.ids


def test_crossing_people_keep_their_ids():
    left = walk((0, 50), (6, 0), (50, 110), 60)
    right = walk((360, 40), (-6, 0), (45, 100), 60)
    tracklets = collect_tracklets(frames_of(dict(enumerate(left)), dict(enumerate(right))), min_frames=25)
    assert set(tracklets) == {1, 2}
    for tid, truth in ((1, left), (2, right)):
        t = tracklets[tid]
        assert np.array_equal(t.frame_ids, np.arange(60))
        truth_centres = (truth[:, :2] + truth[:, 2:4]) / 2
        assert np.abs(t.bboxes[:, :2] - truth_centres).max() < 3


def test_short_false_positive_is_dropped_and_ids_stay_dense():
    person = dict(enumerate(walk((20, 20), (1, 0), (50, 100), 60)))
    ghost = {f: box for f, box in zip(range(10, 16), walk((300, 200), (0, 0), (30, 30), 6), strict=True)}
    late = {f: box for f, box in zip(range(20, 60), walk((150, 30), (0, 1), (45, 90), 40), strict=True)}
    tracklets = collect_tracklets(frames_of(person, ghost, late), min_frames=25)
    assert sorted(tracklets) == [1, 2]
    assert np.array_equal(tracklets[1].frame_ids, np.arange(60))
    assert np.array_equal(tracklets[2].frame_ids, np.arange(23, 60))  # appears at 20, reported after 3 hits
    assert tracklets[2].bboxes[0, 1] > 30  # the late person, not the ghost (which sat at y 200..230)


def test_person_who_leaves_and_comes_back_gets_a_new_id():
    stays = dict(enumerate(walk((20, 20), (0, 0), (50, 100), 100)))
    away_and_back = {f: box for f, box in enumerate(walk((200, 20), (0, 0), (50, 100), 100)) if not 40 <= f < 60}
    tracklets = collect_tracklets(frames_of(stays, away_and_back), min_frames=25)
    assert sorted(tracklets) == [1, 2, 3]
    assert np.array_equal(tracklets[2].frame_ids, np.arange(40))
    assert np.array_equal(tracklets[3].frame_ids, np.arange(63, 100))  # back at 60, confirmed after 3 hits
    assert np.allclose(tracklets[3].bboxes[:, 0], 225, atol=1)


def test_lone_person_keeps_the_id_through_frames_without_any_detection():
    boxes = walk((20, 20), (1, 0), (50, 100), 60)
    frames = [(f, boxes[f:f + 1] if not 30 <= f < 35 else np.zeros((0, 5))) for f in range(60)]
    tracklets = collect_tracklets(frames, min_frames=25)
    assert list(tracklets) == [1]
    assert np.array_equal(tracklets[1].frame_ids, np.r_[0:30, 35:60])
    # elsewhere after the gap: no overlap with where they were, so a new id
    shift = np.array([300.0, 0, 300, 0, 0])
    moved = [(f, frame[1] + shift * (f >= 35)) for f, frame in enumerate(frames)]
    parts = collect_tracklets(moved, min_frames=20)
    assert sorted(parts) == [1, 2] and np.array_equal(parts[2].frame_ids, np.arange(38, 60))


def test_tracklet_boxes_are_squares_on_the_tracked_box_centre():
    boxes = walk((100, 50), (2, 1), (40, 100), 30)
    tracklet = collect_tracklets([(f, boxes[f:f + 1]) for f in range(30)], min_frames=25)[1]
    assert np.array_equal(tracklet.bboxes[:, 2], tracklet.bboxes[:, 3])
    assert np.allclose(tracklet.bboxes[:, 2], 100, atol=1)
    assert np.allclose(tracklet.bboxes[:, :2], (boxes[:, :2] + boxes[:, 2:4]) / 2, atol=1)
    wide = square_boxes(np.array([[0.0, 0.0, 120.0, 30.0]]))
    assert np.array_equal(wide, [[60.0, 15.0, 120.0, 120.0]])


def test_strided_detections_are_interpolated_into_dense_tracklets():
    truth = np.array([[10.0 + 3 * f, 20.0, 60.0 + 3 * f, 120.0, 0.9] for f in range(41)])
    strided = ((f, truth[f:f + 1]) for f in range(0, 41, 4))
    tracklets = collect_tracklets(strided, min_frames=30, max_gap=4)
    (tracklet,) = tracklets.values()
    assert list(tracklet.frame_ids) == list(range(tracklet.frame_ids[0], 41))
    expected = square_boxes(truth[tracklet.frame_ids])
    assert np.abs(tracklet.bboxes - expected).max() < 2.0  # the Kalman-corrected boxes, linearly in between
    assert collect_tracklets(((f, truth[f:f + 1]) for f in range(0, 41, 4)), min_frames=30, max_gap=1) == {}


def test_fill_gaps_leaves_long_gaps():
    frames, boxes = fill_gaps(np.array([0, 2, 10]), np.array([[0.0], [2.0], [10.0]]), max_gap=3)
    assert list(frames) == [0, 1, 2, 10] and np.allclose(boxes[:, 0], [0, 1, 2, 10])


def test_boxes_without_area_are_not_tracked():
    person = walk((100, 50), (2, 1), (40, 100), 30)
    flat = np.array([[300.0, 40.0, 300.0, 90.0, 0.9]])  # zero width (e.g. a box clipped at the picture's edge)
    tracklets = collect_tracklets([(f, np.vstack([person[f:f + 1], flat])) for f in range(30)] + [(30, flat)],
                                  min_frames=1)
    assert list(tracklets) == [1] and np.isfinite(tracklets[1].bboxes).all()
    assert list(tracklets[1].frame_ids) == list(range(30))
