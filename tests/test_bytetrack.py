"""Identity-keeping tracking: clothes' colours, ByteTrack-style association, re-joining a person who comes back."""

import numpy as np

from backend.appearance import describe, similarity
from backend.bytetrack import ByteTracker
from backend.rejoin import rejoin
from backend.tracking import SortTracker, collect_tracklets

RED_BLUE = np.array([50, 60, 40, 30, 10, -40], dtype=float)  # Lab: red shirt, dark blue trousers
GREEN_GREY = np.array([60, -50, 40, 50, 0, 0], dtype=float)


def dressed_person(height: int, shirt: tuple, trousers: tuple) -> np.ndarray:
    """A box-shaped 'person' (RGB) with a skin-coloured head, a shirt and trousers, on a grey margin."""
    width = height // 3
    person = np.full((height, width, 3), 128, dtype=np.uint8)
    person[: height // 6, width // 3: 2 * width // 3] = (224, 172, 140)
    person[height // 6: height // 2, width // 8: -width // 8] = shirt
    person[height // 2:, width // 5: -width // 5] = trousers
    return person


def test_colours_match_the_same_clothes_at_any_size_and_tell_others_apart():
    frame = np.full((400, 600, 3), 90, dtype=np.uint8)
    people = [(dressed_person(240, (200, 30, 30), (30, 40, 120)), (20, 100)),
              (dressed_person(60, (200, 30, 30), (30, 40, 120)), (200, 300)),
              (dressed_person(240, (40, 160, 60), (110, 110, 110)), (300, 100))]
    boxes = []
    for person, (x, y) in people:
        frame[y:y + len(person), x:x + person.shape[1]] = person
        boxes.append((x, y, x + person.shape[1], y + len(person)))
    colours = describe(frame, np.array(boxes + [(-50, -50, -10, -10)], dtype=float))
    assert np.isnan(colours[3]).all(), "a box outside the picture has no colours"
    sim = similarity(colours[:3], colours[:3])
    assert sim[0, 1] > 0.9 and sim[0, 2] < 0.1 and sim[1, 2] < 0.1
    assert similarity(colours[3:], colours[:1])[0, 0] == 0.0
    assert describe(frame, np.zeros((0, 5))).shape == (0, 6)


def walk(start, end, frames, size=(40, 120)):
    """Boxes (frames, 4) of a person walking from `start` to `end` (top-left corners)."""
    t = np.linspace(0, 1, frames)[:, None]
    corner = np.asarray(start, float) + t * (np.asarray(end, float) - np.asarray(start, float))
    return np.hstack([corner, corner + size])


def run(tracker, boxes_a, boxes_b, colours=(RED_BLUE, GREEN_GREY), scores=None):
    """Feed two people's boxes frame by frame -> {frame: {person index: track id}} for the tracks reported."""
    ids = {}
    for f in range(len(boxes_a)):
        dets = np.vstack([boxes_a[f], boxes_b[f]])
        dets = np.column_stack([dets, scores[f] if scores is not None else [0.8, 0.8]])
        seen = dets[:, 4] > 0  # score 0: not detected
        args = (dets[seen], np.vstack(colours)[seen]) if isinstance(tracker, ByteTracker) else (dets[seen],)
        out = tracker.update(*args)
        ids[f] = {int(np.argmin([np.abs(o[:4] - b).sum() for b in (boxes_a[f], boxes_b[f])])): int(o[4])
                  for o in out}
    return ids


def test_two_people_who_meet_and_turn_back_keep_their_ids_by_their_clothes():
    there = walk((100, 100), (230, 100), 20)
    a = np.vstack([there, there[::-1]])  # walks right, meets the other, walks back
    b = np.vstack([walk((360, 100), (240, 100), 20), walk((240, 100), (360, 100), 20)])
    ids = run(ByteTracker(), a, b)
    assert {f.get(0) for f in ids.values()} == {ids[5][0]} and {f.get(1) for f in ids.values()} == {ids[5][1]}
    # boxes alone follow the motion through the meeting point: the identities swap
    blind = run(ByteTracker(), a, b, colours=(np.full(6, np.nan), np.full(6, np.nan)))
    assert blind[39].get(0) != blind[5][0]


def test_a_person_hidden_behind_another_for_a_moment_keeps_their_id():
    a = walk((100, 100), (400, 100), 40)
    b = walk((400, 105), (100, 105), 40)
    scores = np.full((40, 2), 0.8)
    behind = np.abs(a[:, 0] - b[:, 0]) < 30  # b is hidden: weak detection first, then none
    scores[behind, 1] = 0.15
    scores[np.abs(a[:, 0] - b[:, 0]) < 12, 1] = 0.0
    ids = run(ByteTracker(), a, b, scores=scores)
    seen_b = {f[1] for f in ids.values() if 1 in f}
    assert len(seen_b) == 1 and {f[0] for f in ids.values() if 0 in f} != seen_b
    going = np.flatnonzero(behind & (scores[:, 1] > 0.1) & (np.arange(40) < np.argmin(scores[:, 1])))
    assert len(going) and all(1 in ids[f] for f in going), "weak detections continue b until b is gone"
    sort = run(SortTracker(), a, b, scores=np.where(scores < 0.1, 0.0, 0.8))  # given the same boxes
    assert len({f[1] for f in sort.values() if 1 in f}) > 1, "SORT loses b (the official tracker's limit)"


def test_weak_detections_never_start_a_track():
    tracker = ByteTracker()
    for _ in range(5):
        assert len(tracker.update(np.array([[10, 10, 50, 130, 0.2]]), RED_BLUE[None])) == 0


def clip(pieces):
    """Frames for collect_tracklets: pieces of (first frame, last frame, x, colours) of one person each."""
    for f in range(100):
        rows = [(x + f, 100, x + f + 40, 220, 0.9, *colours) for first, last, x, colours in pieces
                if first <= f <= last]
        rows = np.array(rows, dtype=float).reshape(-1, 11)
        yield f, rows[:, :5], rows[:, 5:]


def test_a_person_who_comes_back_within_the_rejoin_time_keeps_their_id():
    back = [(0, 29, 100, RED_BLUE), (70, 99, 150, RED_BLUE)]
    joined = collect_tracklets(clip(back), min_frames=10, tracker=ByteTracker(), rejoin_gap=50)
    frames = joined[1].frame_ids
    assert list(joined) == [1] and frames[0] == 0 and frames[-1] == 99 and not ((frames >= 30) & (frames < 70)).any()
    assert len(collect_tracklets(clip(back), min_frames=10, tracker=ByteTracker(), rejoin_gap=30)) == 2, "too late"
    other = [(0, 29, 100, RED_BLUE), (70, 99, 150, GREEN_GREY)]
    assert len(collect_tracklets(clip(other), min_frames=10, tracker=ByteTracker(), rejoin_gap=50)) == 2


def test_rejoin_needs_a_clear_winner():
    spans = {1: (0, 29), 2: (0, 29), 3: (70, 99)}
    twins = {1: RED_BLUE, 2: RED_BLUE + 1.0, 3: RED_BLUE}
    assert rejoin(spans, twins, max_gap=50) == {1: 1, 2: 2, 3: 3}, "two alike people left: whose return is it?"
    clear = {1: RED_BLUE, 2: GREEN_GREY, 3: RED_BLUE + 2.0}
    assert rejoin(spans, clear, max_gap=50) == {1: 1, 2: 2, 3: 1}
    chain = rejoin({1: (0, 9), 2: (20, 29), 3: (40, 49)}, {k: RED_BLUE for k in (1, 2, 3)}, max_gap=15)
    assert chain == {1: 1, 2: 1, 3: 1}
