"""The built-in multi-person detector: tile geometry and merging (numpy), and MoveNet itself on rendered people."""

import numpy as np
import pytest

from backend.detection import box_iou, create_detector
from backend.detector_model import find_model
from backend.movenet import (
    MAX_PEOPLE_PER_CALL,
    NUM_KEYPOINTS,
    PERSON_HEIGHT,
    PERSON_WINDOW,
    STRIDE,
    ZOOM,
    MoveNetDetector,
    People,
    Tile,
    cover_tiles,
    decode_output,
    edge_strips,
    merge_tiles,
    person_windows,
    touches_inner_edge,
    with_keypoint_extent,
)
from tests.crowd import crowd_frame, example_frame

needs_model = pytest.mark.skipif(find_model() is None, reason="the MoveNet model is not installed "
                                 "(scripts/setup.sh installs it: python -m backend.detector_model install)")


@pytest.mark.parametrize("width, height", [(1280, 720), (720, 1280), (640, 480), (1920, 1080), (500, 500)])
def test_tiles_cover_the_picture_with_wide_overlaps(width, height):
    tiles = cover_tiles(width, height)
    side = tiles[0].w
    assert side % STRIDE == 0 and side >= min(width, height) and all(t.w == t.h == side for t in tiles)
    starts = sorted(t.x if width >= height else t.y for t in tiles)
    assert starts[0] == 0 and starts[-1] + side >= max(width, height)
    assert (np.diff(starts) <= 0.75 * side).all(), "neighbours overlap by a quarter at least"
    quarters = tiles[0].quarters()
    assert len(quarters) == 4 and all(q.w % STRIDE == 0 and q.w < side for q in quarters)
    assert min(q.x for q in quarters) == tiles[0].x and max(q.x + q.w for q in quarters) == tiles[0].x + side


def test_output_rows_decode_to_picture_pixels():
    row = np.zeros(56)
    row[0:3] = (0.25, 0.5, 0.9)  # nose at y = 0.25, x = 0.5 of the tile
    row[51:56] = (0.1, 0.2, 0.6, 0.4, 0.8)  # ymin, xmin, ymax, xmax, score
    people = decode_output(np.stack([row] * MAX_PEOPLE_PER_CALL), Tile(64, 32, 320, 320), scale=0.5)
    np.testing.assert_allclose(people.boxes[0], [(64 + 64) / 0.5, (32 + 32) / 0.5, (64 + 128) / 0.5,
                                                 (32 + 192) / 0.5, 0.8], rtol=1e-6)
    np.testing.assert_allclose(people.keypoints[0, 0], [(64 + 160) / 0.5, (32 + 80) / 0.5, 0.9], rtol=1e-6)


def _people(boxes, keypoints=None):
    boxes = np.asarray(boxes, dtype=np.float32)
    if keypoints is None:
        keypoints = np.zeros((len(boxes), NUM_KEYPOINTS, 3), dtype=np.float32)
    return People(boxes, np.asarray(keypoints, dtype=np.float32))


def test_a_person_cut_by_a_tile_edge_gives_way_to_the_whole_one():
    left = _people([[280, 100, 320, 300, 0.9],      # cut by the tile's right edge (x = 320 is inside the picture)
                    [10, 10, 60, 120, 0.6]])        # someone else, at the picture's own edge: not cut
    right = _people([[250, 100, 350, 300, 0.5]])    # the first person, whole, seen by the next tile
    cut = np.concatenate([touches_inner_edge(left.boxes, Tile(0, 0, 320, 320), width=640, height=320, scale=1.0),
                          touches_inner_edge(right.boxes, Tile(200, 0, 320, 320), width=640, height=320, scale=1.0)])
    assert cut.tolist() == [True, False, False]
    merged = merge_tiles(People.concatenate([left, right]), cut)
    np.testing.assert_allclose(np.sort(merged.boxes[:, 4]), [0.5, 0.6], rtol=1e-6)


def test_a_part_of_a_person_seen_whole_is_dropped_but_a_neighbour_is_kept():
    rng = np.random.default_rng(0)
    body = np.column_stack([rng.uniform(100, 200, 17), np.linspace(100, 500, 17), np.full(17, 0.9)])
    legs = body.copy()
    legs[:11, 2] = 0.0  # only the hips, knees and ankles are seen
    neighbour = body + (300, 0, 0)
    merged = merge_tiles(_people([[90, 90, 210, 510, 0.4], [95, 300, 205, 505, 0.7], [390, 90, 510, 510, 0.5]],
                                 [body, legs, neighbour]), np.zeros(3, dtype=bool))
    np.testing.assert_allclose(np.sort(merged.boxes[:, 4]), [0.4, 0.5], rtol=1e-6)  # the legs-only box is gone


def test_boxes_grow_to_the_keypoints_and_a_guessed_ankle():
    keypoints = np.zeros((1, NUM_KEYPOINTS, 3))
    keypoints[0, 0] = (100, 100, 0.9)   # nose
    keypoints[0, 11] = (95, 200, 0.9)   # left hip
    keypoints[0, 13] = (95, 280, 0.9)   # left knee; the ankle is unsure
    box = with_keypoint_extent(_people([[80, 90, 120, 290, 0.7]], keypoints)).boxes[0]
    assert box[3] >= 360 and box[1] < 100 and box[0] <= 80  # a shin below the knee, plus the foot


def _holds(window, box, margin=1 / 8):
    inner = (window.x + window.w * margin, window.y + window.h * margin,
             window.x + window.w * (1 - margin), window.y + window.h * (1 - margin))
    return inner[0] <= box[0] and inner[1] <= box[1] and box[2] <= inner[2] and box[3] <= inner[3]


def test_each_known_person_gets_a_window_showing_them_at_the_height_movenet_sees_best():
    boxes = np.array([[100, 100, 140, 180, 0.9],      # 80 px: magnified twice
                      [400, 50, 480, 290, 0.9],       # 240 px: shrunk
                      [900, 300, 915, 340, 0.9]])     # 40 px: magnified no more than ZOOM times
    windows = person_windows(boxes)
    assert len(windows) == 3 and all(w.w == w.h for w in windows)
    for box in boxes:
        window = next(w for w in windows if _holds(w, box))
        height = (box[3] - box[1]) * PERSON_WINDOW / window.w
        assert height == pytest.approx(min(PERSON_HEIGHT, (box[3] - box[1]) * ZOOM), rel=0.02)
        centre = (window.x + window.w / 2, window.y + window.h / 2)
        assert abs(centre[0] - (box[0] + box[2]) / 2) <= 1 and abs(centre[1] - (box[1] + box[3]) / 2) <= 1


def test_people_crossing_share_a_window_but_a_small_one_behind_them_gets_their_own():
    tall = PERSON_HEIGHT
    boxes = np.array([[500, 200, 545, 200 + tall, 0.9],         # two people, one half in front of the other
                      [515, 203, 560, 203 + tall - 1, 0.8],
                      [530, 250, 545, 290, 0.7]])               # far behind, 40 px: another scale
    windows = person_windows(boxes)
    assert len(windows) == 2
    assert _holds(windows[0], boxes[0]) and _holds(windows[0], boxes[1]) and windows[0].w == PERSON_WINDOW
    assert windows[1].w == PERSON_WINDOW // ZOOM


def test_edge_strips_run_along_both_sides():
    strips = edge_strips(1280, 720)
    assert [(t.x, t.x + t.w) for t in strips] == [(0, strips[0].w), (1280 - strips[1].w, 1280)]
    assert all(t.w % STRIDE == 0 and t.h % STRIDE == 0 and t.y == 0 and t.h >= 720 for t in strips)


@pytest.fixture
def movenet():
    return MoveNetDetector(find_model())  # a fresh one: it remembers whom it saw on its last call


def _one_detection_per_person(boxes, patches):
    centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
    inside = ((centres[:, None] >= patches[None, :, :2]) & (centres[:, None] <= patches[None, :, 2:4])).all(-1)
    return inside.sum(axis=0).tolist(), inside.any(axis=1).all()


@needs_model
def test_people_from_60_to_300_pixels_tall_are_all_found(movenet):
    frame, patches = crowd_frame([300, 60, 200, 80, 150, 100], seed=1)
    found = movenet.detect(frame)
    per_person, no_stray = _one_detection_per_person(found, patches)
    assert per_person == [1] * 6 and no_stray, (found.round(), patches)
    assert found.dtype == np.float32 and found.shape[1] == 5


@needs_model
def test_more_than_six_people_are_found_by_splitting_full_tiles(movenet):
    frame, patches = crowd_frame([110, 70, 100, 80, 120, 90, 75, 105, 85, 95], seed=2)
    calls = movenet.calls
    found = movenet.detect(frame)
    per_person, no_stray = _one_detection_per_person(found, patches)
    assert per_person == [1] * 10 and no_stray, (found.round(), patches)
    assert movenet.calls - calls > 2, "a full tile was split"


@needs_model
def test_a_tall_person_in_a_portrait_frame_is_one_detection_head_to_feet(movenet):
    people = movenet.detect_people(example_frame(30))  # 480x640, the person ~430 px tall, arms up
    assert len(people) == 1
    x1, y1, x2, y2, _ = people.boxes[0]
    assert y1 < 200 and y2 > 595 and x1 < 150 and x2 > 360  # the raised hands and the feet are inside


@needs_model
def test_the_detector_is_movenet_without_yolo_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    detector = create_detector(tmp_path, "cpu")
    assert detector.name == "movenet-multipose"
    frame, patches = crowd_frame([200], width=320, height=240)
    assert box_iou(detector.detect(frame), patches).max() > 0.5


@needs_model
def test_between_full_looks_the_known_people_are_found_in_their_windows(movenet):
    frame, patches = crowd_frame([300, 60, 200, 80, 150, 100], seed=1)
    pixels, run = [], movenet._run
    movenet._run = lambda image, tile, size=None: pixels.append((size or tile.w) * (size or tile.h)) or run(
        image, tile, size)
    looked = []
    for _ in range(movenet.full_every):  # a full look, then looks at the known people
        found = movenet.detect(frame)
        per_person, no_stray = _one_detection_per_person(found, patches)
        assert per_person == [1] * 6 and no_stray, (found.round(), patches)
        looked.append(sum(pixels) - sum(looked))
    assert max(looked[1:]) < 0.5 * looked[0], looked
    assert movenet.calls == len(pixels)


@needs_model
def test_a_newcomer_is_found_by_the_next_full_look_at_the_latest(movenet):
    frame, patches = crowd_frame([200, 150, 180], seed=3)
    empty, _ = crowd_frame([], seed=3)
    alone = empty.copy()
    x1, y1, x2, y2 = patches[0].astype(int)
    alone[y1:y2, x1:x2] = frame[y1:y2, x1:x2]
    movenet.detect(alone)  # knows the first person only
    found = [movenet.detect(frame) for _ in range(movenet.full_every)]
    per_person, no_stray = _one_detection_per_person(found[-1], patches)
    assert per_person == [1, 1, 1] and no_stray, (found[-1].round(), patches)
