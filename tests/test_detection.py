import cv2
import numpy as np
import pytest

from backend.detection import (
    BuiltinDetector,
    YoloV3Detector,
    box_iou,
    create_detector,
    darknet_conv_shapes,
    darknet_weight_count,
    decode_yolo_people,
    merge_overlaps,
    yolov3_cfg,
    yolov3_layers,
)
from backend.errors import BackendError
from backend.tracking import collect_tracklets
from backend.video import VideoReader
from tests.videos import background, moving_people, person_photo, write_video

OFFICIAL_YOLOV3_WEIGHTS_BYTES = 248_007_048  # size of the published yolov3.weights


@pytest.fixture(scope="module")
def builtin():
    return BuiltinDetector()


@pytest.fixture
def no_home_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write_darknet_weights(path, layers, seed=0):
    """A weights file with the exact layout of `layers`: header 0.2.0, then per convolution its biases, batch-norm
    scale/mean/variance (1, 0, 1) and He-scaled random kernels."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        np.array([0, 2, 0], "<i4").tofile(fh)
        np.array([0], "<i8").tofile(fh)
        for n_in, n_out, k, bn in darknet_conv_shapes(layers):
            norm = [np.ones(n_out), np.zeros(n_out), np.ones(n_out)] if bn else []
            kernel = rng.standard_normal(n_in * n_out * k * k, dtype=np.float32) / np.sqrt(n_in * k * k)
            np.concatenate([np.zeros(n_out), *norm, kernel]).astype("<f4").tofile(fh)
    return path


def test_generated_yolov3_has_the_published_layout():
    layers = yolov3_layers()
    assert 20 + 4 * darknet_weight_count(layers) == OFFICIAL_YOLOV3_WEIGHTS_BYTES
    net = cv2.dnn.readNetFromDarknet(np.frombuffer(yolov3_cfg().encode(), np.uint8))
    assert net.getUnconnectedOutLayersNames() == ("yolo_82", "yolo_94", "yolo_106")  # the official layer numbers


def test_wrong_weights_file_is_refused_with_a_fix(tmp_path, no_home_weights):
    (tmp_path / "yolov3.weights").write_bytes(np.zeros(1000, np.uint8).tobytes())
    with pytest.raises(BackendError, match="1,000 bytes.*248,007,048 bytes") as err:
        create_detector(tmp_path, "cpu")
    assert "remove it" in err.value.fix


def test_yolov3_runs_from_a_full_size_weights_file(tmp_path, no_home_weights):
    """Writes and loads a 248 MB random weights file: about 5-10 s in all."""
    write_darknet_weights(tmp_path / "yolov3.weights", yolov3_layers())
    detector = create_detector(tmp_path, "cuda")  # no CUDA in this OpenCV: falls back to the CPU
    assert isinstance(detector, YoloV3Detector) and detector.name == "yolov3"
    frame = moving_people(1, 240, 320, [((100, 90), (100, 90))], person_height=150)[0][0]
    dets = detector.detect(frame)
    assert dets.dtype == np.float32 and dets.ndim == 2 and dets.shape[1] == 5
    assert np.all((dets[:, [0, 2]] >= 0) & (dets[:, [0, 2]] <= 320) & (dets[:, [1, 3]] >= 0) & (dets[:, [1, 3]] <= 240))
    rows = np.concatenate([o.reshape(-1, 85) for o in detector.net.forward(detector.outputs)])
    assert len(rows) == 3 * (13**2 + 26**2 + 52**2)
    assert np.all(rows[:, 5:] <= rows[:, 4:5] + 1e-6)  # OpenCV's class columns already include the objectness


def test_yolo_rows_decode_to_people_in_the_original_picture():
    # a 200x100 picture letterboxed into a 200x200 square: 50 rows of padding above
    def row(cx, cy, w, h, objectness, person, other=0.0):
        classes = np.zeros(80)
        classes[0], classes[2] = person, other
        return np.r_[cx, cy, w, h, objectness, classes]

    rows = np.array([
        row(0.5, 0.5, 0.2, 0.4, 0.95, 0.9),  # a person at the picture's centre
        row(0.51, 0.5, 0.2, 0.4, 0.85, 0.6),  # the same person again, weaker: merged in
        row(0.2, 0.4, 0.1, 0.2, 0.75, 0.74),  # objectness below 0.8
        row(0.8, 0.4, 0.1, 0.2, 0.9, 0.65),  # score below 0.7
        row(0.8, 0.6, 0.1, 0.2, 0.99, 0.8, other=0.85),  # more likely a car
    ])
    dets = decode_yolo_people(rows, side=200, offset=(0, 50), size=(200, 100))
    assert dets.shape == (1, 5)
    expected_x = (0.95 * 80 + 0.85 * 82) / (0.95 + 0.85)  # objectness-weighted mean of the two boxes' left edges
    assert np.allclose(dets[0], [expected_x, 10, expected_x + 40, 90, 0.9], atol=1e-4)


def test_box_iou_and_merging():
    a = np.array([[0, 0, 10, 10], [5, 5, 15, 15]])
    b = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [0, 5, 10, 15]])
    assert np.allclose(box_iou(a, b), [[1, 0, 50 / 150], [25 / 175, 0, 50 / 150]])
    dets = np.array([[0, 0, 10, 10, 0.5], [1, 0, 11, 10, 0.9], [50, 50, 60, 60, 0.7]])
    merged = merge_overlaps(dets, 0.4)
    assert np.allclose(merged, [[(0.9 * 1 + 0.5 * 0) / 1.4, 0, (0.9 * 11 + 0.5 * 10) / 1.4, 10, 0.9],
                                [50, 50, 60, 60, 0.7]], atol=1e-6)
    by_weight = merge_overlaps(dets, 0.4, weights=np.array([3.0, 1.0, 1.0]))
    assert np.allclose(by_weight[0], [0.25, 0, 10.25, 10, 0.9], atol=1e-6)


def test_without_weights_or_movenet_the_mediapipe_detector_is_used_with_a_warning(tmp_path, no_home_weights,
                                                                                   monkeypatch, caplog):
    monkeypatch.setattr("backend.detection.find_model", lambda data_dir: None)
    detector = create_detector(tmp_path, "cpu")
    assert isinstance(detector, BuiltinDetector)
    assert "python -m backend.detector_model install" in caplog.text
    home_models = tmp_path / "home" / ".torch" / "models"
    home_models.mkdir(parents=True)
    (home_models / "yolov3.weights").write_bytes(b"not weights")
    with pytest.raises(BackendError, match="yolov3.weights is 11 bytes"):
        create_detector(None, "cpu")  # the official demo's place is looked at too


def test_builtin_detector_finds_a_real_person_and_nobody_in_an_empty_scene(builtin):
    photo = person_photo(400)
    dets = builtin.detect(photo)
    assert len(dets) == 1 and dets.dtype == np.float32
    whole = np.array([[0, 0, photo.shape[1], photo.shape[0]]])
    assert box_iou(dets, whole)[0, 0] > 0.6 and 0 < dets[0, 4] <= 1
    assert len(builtin.detect(background(240, 320, seed=3))) == 0


def test_builtin_detector_finds_several_people(builtin):
    frames, truth = moving_people(1, 240, 320, [((10, 110), (10, 110)), ((200, 100), (200, 100))], person_height=130)
    dets = builtin.detect(frames[0])
    assert len(dets) == 2
    assert np.all(box_iou(truth[0], dets).max(axis=1) > 0.7)


def test_hog_proposals_count_only_when_mediapipe_confirms_them_up_close(builtin, monkeypatch):
    frames, truth = moving_people(1, 540, 960, [((600, 430), (600, 430))], person_height=110)
    proposals = np.array([[*truth[0, 0], 1.0], [100, 100, 180, 300, 1.5]])  # the person, and background texture
    monkeypatch.setattr(builtin, "_people_one_by_one", lambda rgb: [])  # as if missed on the whole frame
    monkeypatch.setattr(builtin, "_hog_proposals", lambda rgb: proposals)
    dets = builtin.detect(frames[0])
    assert len(dets) == 1 and box_iou(dets, truth[0])[0, 0] > 0.8


def test_video_to_tracklets_with_the_builtin_detector(tmp_path, builtin):
    frames, truth = moving_people(30, 240, 320, [((0, 110), (60, 110)), ((200, 100), (160, 100))], person_height=130)
    reader = VideoReader(write_video(tmp_path / "two.mp4", frames))
    tracklets = collect_tracklets(((i, builtin.detect(rgb)) for i, rgb in reader), min_frames=20)
    assert sorted(tracklets) == [1, 2]
    centres = (truth[:, :, :2] + truth[:, :, 2:]) / 2
    followed = set()
    for t in tracklets.values():
        person = np.argmin(np.linalg.norm(centres[t.frame_ids[0]] - t.bboxes[0, :2], axis=-1))
        followed.add(person)
        assert len(t.frame_ids) >= 27 and np.abs(t.bboxes[:, :2] - centres[t.frame_ids, person]).max() < 15
    assert followed == {0, 1}
