"""Person detection: `create_detector(data_dir, device)` -> `.detect(rgb) -> (K, 5) [x1, y1, x2, y2, score]` float32.

With `yolov3.weights` (the official demo's detector; in the data folder or `~/.torch/models/`), the Darknet YOLOv3
runs through OpenCV's DNN module on a config generated here (the published COCO architecture), with the official
demo's settings: 416x416 letterboxed input, objectness >= 0.8, person class only, overlaps above IoU 0.4 merged
(objectness-weighted mean box, as its NMS does), then score (objectness x class probability) > 0.7.

Without it, MoveNet MultiPose on tiles of the full frame (`movenet.py`; its model is installed into the backend's
environment by `detector_model.py`). Without that model too, `BuiltinDetector` needs no file at all: MediaPipe's
pose detector (bundled in the wheel) finds the most prominent person, that person is painted out and the search
repeats, so several people are found one by one; its segmentation mask gives a tight box around the whole visible
body. OpenCV's HOG people detector then proposes full-body people MediaPipe missed (small ones, mostly); each
proposal is kept only if MediaPipe confirms a pose in a close-up crop of it, which also replaces HOG's loose box with
a tight one. HOG alone misses anyone not seen whole (a portrait, a person cut by the frame) and fires on background
texture, so it never reports a box unconfirmed.
"""

import logging
import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .detector_model import find_model, installed_model_path
from .errors import BackendError

log = logging.getLogger(__name__)

YOLO_INPUT = 416
YOLO_OBJECTNESS, YOLO_SCORE, YOLO_NMS = 0.8, 0.7, 0.4
YOLO_ANCHORS = "10,13, 16,30, 33,23, 30,61, 62,45, 59,119, 116,90, 156,198, 373,326"
COCO_CLASSES = 80
WEIGHTS_NAME = "yolov3.weights"
MERGE_IOU = 0.4  # built-in detector: boxes overlapping more than this are one person
SAME_PERSON_OVERLAP = 0.6  # a find this much inside an earlier one (of its area) is a piece of that person
FRAGMENT_ROUNDS = 2  # extra MediaPipe rounds allowed for such pieces


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> np.ndarray: ...


def create_detector(data_dir: str | Path | None, device: str = "cpu") -> Detector:
    """YOLOv3 when its weights are found (data folder first, then the official demo's ~/.torch/models/); else MoveNet
    MultiPose when its model is installed (`detector_model.find_model`); else MediaPipe pose + HOG."""
    candidates = ([Path(data_dir) / WEIGHTS_NAME] if data_dir else []) + [Path.home() / ".torch/models" / WEIGHTS_NAME]
    weights = next((p for p in candidates if p.is_file()), None)
    if weights is not None:
        return YoloV3Detector(weights, device)
    model = find_model(data_dir)
    if model is not None:
        log.info("No %s found (looked in %s); detecting people with MoveNet MultiPose (%s).", WEIGHTS_NAME,
                 ", ".join(str(p.parent) for p in candidates), model)
        from .movenet import MoveNetDetector

        return MoveNetDetector(model)
    log.warning("Neither %s nor the MoveNet model (%s) was found; using MediaPipe pose + HOG, which finds few people "
                "in wide shots. Run 'python -m backend.detector_model install' in the backend's environment.",
                WEIGHTS_NAME, installed_model_path())
    return BuiltinDetector()


# ---------------------------------------------------------------------------------------------------------------
# Boxes


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N, >=4) with every box in b (M, >=4), boxes as x1, y1, x2, y2 -> (N, M)."""
    a, b = np.asarray(a, dtype=np.float64)[:, None, :4], np.asarray(b, dtype=np.float64)[None, :, :4]
    wh = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def merge_overlaps(dets: np.ndarray, iou_threshold: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Non-maximum suppression that merges, as YOLOv3-PyTorch's (the official demo's detector): the best-scoring box
    absorbs every box overlapping it by more than the threshold and becomes their mean weighted by `weights`
    (default: the scores). Returns (K, 5) float32 sorted by score."""
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
    weights = dets[:, 4] if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(-dets[:, 4], kind="stable")
    dets, weights = dets[order], weights[order]
    kept = []
    while len(dets):
        group = box_iou(dets[:1], dets)[0] > iou_threshold
        group[0] = True
        w = weights[group, None]
        kept.append(np.append((w * dets[group, :4]).sum(0) / w.sum(), dets[0, 4]))
        dets, weights = dets[~group], weights[~group]
    return np.array(kept, dtype=np.float32).reshape(-1, 5)


# ---------------------------------------------------------------------------------------------------------------
# YOLOv3 (Darknet weights through OpenCV DNN)


def yolov3_layers(size: int = YOLO_INPUT) -> list[tuple[str, dict]]:
    """The published YOLOv3 (Darknet-53 backbone, three detection scales, 80 COCO classes) as cfg sections."""
    layers: list[tuple[str, dict]] = []

    def conv(filters: int, kernel: int = 1, stride: int = 1, linear: bool = False) -> None:
        options = {"filters": filters, "size": kernel, "stride": stride, "pad": 1,
                   "activation": "linear" if linear else "leaky"}
        layers.append(("convolutional", options if linear else {"batch_normalize": 1, **options}))

    conv(32, 3)
    skips = {}
    for filters, blocks in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        conv(filters, 3, 2)
        for _ in range(blocks):
            conv(filters // 2, 1)
            conv(filters, 3)
            layers.append(("shortcut", {"from": -3, "activation": "linear"}))
        skips[filters] = len(layers) - 1
    heads = ((512, "6,7,8", None), (256, "3,4,5", skips[512]), (128, "0,1,2", skips[256]))
    for filters, mask, skip in heads:
        if skip is not None:  # branch off the previous head before its last two convolutions, upsample, join
            layers.append(("route", {"layers": -4}))
            conv(filters, 1)
            layers.append(("upsample", {"stride": 2}))
            layers.append(("route", {"layers": f"-1, {skip}"}))
        for _ in range(3):
            conv(filters, 1)
            conv(filters * 2, 3)
        conv(3 * (COCO_CLASSES + 5), 1, linear=True)
        layers.append(("yolo", {"mask": mask, "anchors": YOLO_ANCHORS, "classes": COCO_CLASSES, "num": 9}))
    return [("net", {"batch": 1, "subdivisions": 1, "width": size, "height": size, "channels": 3})] + layers


def yolov3_cfg(size: int = YOLO_INPUT) -> str:
    """Darknet cfg text for `yolov3_layers`."""
    return "\n".join(f"[{kind}]\n" + "".join(f"{k}={v}\n" for k, v in options.items())
                     for kind, options in yolov3_layers(size))


def darknet_conv_shapes(layers: list[tuple[str, dict]]) -> list[tuple[int, int, int, bool]]:
    """(in channels, filters, kernel, batch-normalised) of each convolution, in the weights file's order."""
    channels: list[int] = []
    shapes = []
    current = 3
    for kind, options in layers[1:]:
        if kind == "convolutional":
            shapes.append((current, options["filters"], options["size"], "batch_normalize" in options))
            current = options["filters"]
        elif kind == "route":
            refs = [int(r) for r in str(options["layers"]).split(",")]
            current = sum(channels[r] if r >= 0 else channels[len(channels) + r] for r in refs)
        channels.append(current)
    return shapes


def darknet_weight_count(layers: list[tuple[str, dict]]) -> int:
    """Number of float32 values a .weights file holds for `layers` (biases, BN scale/mean/var, kernels)."""
    return sum(n_in * n_out * k * k + n_out * (4 if bn else 1) for n_in, n_out, k, bn in darknet_conv_shapes(layers))


def check_darknet_weights(path: Path, layers: list[tuple[str, dict]]) -> None:
    """Refuse a file whose size does not match the architecture (another model, a truncated download, HTML...)."""
    with open(path, "rb") as fh:
        major, minor = np.frombuffer(fh.read(8).ljust(8, b"\0"), dtype="<i4").tolist()
    count = darknet_weight_count(layers)
    header_bytes = 20 if major * 10 + minor >= 2 and major < 1000 and minor < 1000 else 16  # 64-bit 'seen' counter
    actual = path.stat().st_size
    if actual != header_bytes + 4 * count:
        raise BackendError(
            f"{path} is {actual:,} bytes, but Darknet YOLOv3 weights (COCO, 80 classes) are {20 + 4 * count:,} bytes: "
            "it is another model (e.g. yolov3-tiny or yolov4), a partial download or not a weights file at all.",
            "Replace it with the official yolov3.weights (https://pjreddie.com/media/files/yolov3.weights), or remove "
            "it to use the built-in detector.")


class YoloV3Detector:
    """The official demo's person detector: Darknet YOLOv3 on a letterboxed 416x416 RGB input."""

    name = "yolov3"

    def __init__(self, weights: str | Path, device: str = "cpu") -> None:
        weights = Path(weights)
        layers = yolov3_layers(YOLO_INPUT)
        check_darknet_weights(weights, layers)
        cfg = np.frombuffer(yolov3_cfg(YOLO_INPUT).encode(), dtype=np.uint8)
        try:
            self.net = cv2.dnn.readNetFromDarknet(cfg, np.fromfile(weights, dtype=np.uint8))
        except cv2.error as exc:
            raise BackendError(f"OpenCV could not load {weights} as YOLOv3: {exc}",
                               "Replace it with the official yolov3.weights, or remove it to use the built-in "
                               "detector.") from exc
        if device.startswith("cuda") and cv2.cuda.getCudaEnabledDeviceCount() > 0:
            self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
        elif device.startswith("cuda"):
            log.info("This OpenCV build has no CUDA; YOLOv3 runs on the CPU.")
        self.outputs = self.net.getUnconnectedOutLayersNames()

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        side = max(height, width)
        top, left = (side - height) // 2, (side - width) // 2
        square = cv2.copyMakeBorder(rgb, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT)
        self.net.setInput(cv2.dnn.blobFromImage(square, 1 / 255.0, (YOLO_INPUT, YOLO_INPUT), swapRB=False))
        rows = np.concatenate([out.reshape(-1, out.shape[-1]) for out in self.net.forward(self.outputs)])
        return decode_yolo_people(rows, side, (left, top), (width, height))


def decode_yolo_people(rows: np.ndarray, side: int, offset: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """OpenCV YOLO rows (cx, cy, w, h relative to the square input, objectness, objectness x class probability
    per class) -> person boxes in the original picture, in the official demo's order: keep objectness >= 0.8 with
    'person' as the likeliest class, merge overlaps (weighted by objectness), then keep scores above 0.7."""
    candidates = (rows[:, 4] >= YOLO_OBJECTNESS) & (rows[:, 5:].argmax(axis=1) == 0)
    rows = rows[candidates].astype(np.float64)
    centre = rows[:, :2] * side - np.asarray(offset)
    half = rows[:, 2:4] * side / 2
    boxes = np.clip(np.concatenate([centre - half, centre + half], axis=1), 0, np.tile(size, 2))
    merged = merge_overlaps(np.column_stack([boxes, rows[:, 5]]), YOLO_NMS, weights=rows[:, 4])
    return merged[merged[:, 4] > YOLO_SCORE]


# ---------------------------------------------------------------------------------------------------------------
# Built-in detector (no download): MediaPipe pose, repeated, with HOG proposals


class BuiltinDetector:
    """MediaPipe pose detection repeated with found people painted out, plus HOG proposals it confirms."""

    name = "mediapipe-pose+hog"

    def __init__(self, max_people: int = 6, hog_height: int = 480) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging out of the backend log
        import mediapipe as mp

        self.max_people, self.hog_height = max_people, hog_height
        self.pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True)
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(rgb)
        found = self._people_one_by_one(rgb)
        for proposal in self._hog_proposals(rgb):
            if len(found) < self.max_people and not _centre_inside(proposal, found):
                confirmed = self._confirm(rgb, proposal)
                if confirmed is not None:
                    found.append(confirmed)
        return merge_overlaps(np.array(found).reshape(-1, 5), MERGE_IOU)

    def _pose_box(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The most prominent person: (x1, y1, x2, y2, score) and their body mask, or None."""
        result = self.pose.process(rgb)
        if result.pose_landmarks is None:
            return None
        height, width = rgb.shape[:2]
        visibility = np.mean([m.visibility for m in result.pose_landmarks.landmark])
        segmented = result.segmentation_mask is not None
        mask = result.segmentation_mask > 0.5 if segmented else np.zeros((height, width), dtype=bool)
        ys, xs = np.nonzero(mask)
        if len(xs):
            return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, visibility], dtype=np.float64), mask
        marks = np.array([(m.x * width, m.y * height) for m in result.pose_landmarks.landmark])
        x1, y1 = np.clip(np.floor(marks.min(0)), 0, None).astype(int)  # no mask: the landmarks in the picture
        x2, y2 = np.minimum(np.ceil(marks.max(0)), (width, height)).astype(int)
        if x2 <= x1 or y2 <= y1:
            return None
        mask[y1:y2, x1:x2] = True
        return np.array([x1, y1, x2, y2, visibility], dtype=np.float64), mask

    def _people_one_by_one(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Find the most prominent person, paint them out, repeat. A find lying mostly inside an earlier one is a
        piece of that person (their mask came in parts): the two boxes are joined."""
        found: list[np.ndarray] = []
        work = rgb
        for _ in range(self.max_people + FRAGMENT_ROUNDS):
            hit = self._pose_box(work)
            if hit is None:
                break
            box, mask = hit
            same = [k for k, other in enumerate(found) if _overlap_of_smaller(box, other) > SAME_PERSON_OVERLAP]
            if same:
                other = found[same[0]]
                found[same[0]] = np.r_[np.minimum(box[:2], other[:2]), np.maximum(box[2:4], other[2:4]),
                                       max(box[4], other[4])]
            elif len(found) < self.max_people:
                found.append(box)
            mask = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
            work = work.copy()
            work[mask] = np.array(cv2.mean(rgb, mask=(~mask).astype(np.uint8))[:3])  # the picture's mean colour
        return found

    def _hog_proposals(self, rgb: np.ndarray) -> np.ndarray:
        """HOG full-body windows at a working height of `hog_height` rows (HOG needs people >= 128 px tall)."""
        scale = self.hog_height / rgb.shape[0]
        small = cv2.resize(rgb, (max(64, round(rgb.shape[1] * scale)), self.hog_height), interpolation=cv2.INTER_AREA)
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(rects) == 0:
            return np.empty((0, 5))
        rects = np.asarray(rects, dtype=np.float64) / scale
        boxes = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:], np.ravel(weights)])
        return boxes[np.argsort(-boxes[:, 4])]

    def _confirm(self, rgb: np.ndarray, proposal: np.ndarray) -> np.ndarray | None:
        """Run MediaPipe on a close-up around a HOG box; keep its person if they are the one HOG saw."""
        height, width = rgb.shape[:2]
        centre, half = (proposal[:2] + proposal[2:4]) / 2, 0.75 * (proposal[2:4] - proposal[:2]).max()
        x1, y1 = np.clip(np.floor(centre - half), 0, None).astype(int)
        x2, y2 = np.minimum(np.ceil(centre + half), (width, height)).astype(int)
        hit = self._pose_box(np.ascontiguousarray(rgb[y1:y2, x1:x2]))
        if hit is None:
            return None
        box = hit[0] + (x1, y1, x1, y1, 0)
        return box if _centre_inside(box, [proposal]) else None


def _overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two boxes over the smaller one's area (1 when one lies inside the other)."""
    wh = np.clip(np.minimum(a[2:4], b[2:4]) - np.maximum(a[:2], b[:2]), 0.0, None)
    smaller = min(np.prod(a[2:4] - a[:2]), np.prod(b[2:4] - b[:2]))
    return float(wh[0] * wh[1] / max(smaller, 1e-9))


def _centre_inside(box: np.ndarray, others: list[np.ndarray]) -> bool:
    """Whether the centre of `box` lies inside any of `others` (the same person, for a HOG proposal)."""
    centre = (box[:2] + box[2:4]) / 2
    return any(b[0] <= centre[0] <= b[2] and b[1] <= centre[1] <= b[3] for b in others)
