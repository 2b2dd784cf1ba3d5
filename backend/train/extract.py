"""`python -m backend.train.extract`: build a training database (the official `*_db.pt` layout) from videos and labels.

Each label file (`LABELS/*.npz`) is one person in one video:
- `video`: the video's file name inside VIDEOS;
- `frame_ids` (N,): the labelled frame numbers, increasing;
- `joints2D` (N, J, 3): image pixels + confidence, J = 49 (VIBE's order), 25 (OpenPose BODY_25, VIBE's first 25)
  or 14 (the common LSP joints);
- optional `bbox` (N, 4) cx, cy, w, h (default: a square around the confident keypoints, times 1.1);
- optional 3D labels, all files or none: `joints3D` (N, 49 or 14, 3) metres, and/or `pose` (N, 72) + `shape` (N, 10).
Every labelled frame is cropped with the backend's crop code (box scaled 1.2, the scale the trainer assumes for the
keypoints) and run through SPIN's ResNet-50 from the data folder. The database is written with joblib, as the
official ones, so both this trainer and the official code read it.
"""

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import torch

from ..arguments import positive_int
from ..checkpoints import resolve_device
from ..crops import crop_people
from ..errors import BackendError
from ..models.resnet import ResNet50Features, normalize_imagenet
from ..vibe import load_spin_backbone
from ..video import VideoReader
from . import atomic_write, run_command
from .data import COMMON_JOINTS, KEYPOINT_BOX_SCALE, SPIN_JOINTS, to_vibe_joints

LABEL_FORMATS = {49: SPIN_JOINTS, 25: SPIN_JOINTS[:25], 14: COMMON_JOINTS}
OPTIONAL_LABELS = ("joints3D", "pose", "shape")
BOX_MARGIN = 1.1  # the official get_bbox_from_kp2d


@dataclass
class TrackLabels:
    name: str
    video: str
    frame_ids: np.ndarray                       # (N,)
    joints2d: np.ndarray                        # (N, 49, 3) VIBE order, pixels
    bbox: np.ndarray                            # (N, 4) cx, cy, w, h
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def read_labels(path: Path) -> TrackLabels:
    """One label file, checked and converted to VIBE's joint order."""
    with np.load(path, allow_pickle=False) as npz:
        content = {k: npz[k] for k in npz.files}
    missing = [k for k in ("video", "frame_ids", "joints2D") if k not in content]
    if missing:
        raise BackendError(f"The label file {path} lacks {', '.join(missing)}.", "See docs/training.md (labels).")
    frame_ids = content["frame_ids"].astype(np.int64).reshape(-1)
    joints = content["joints2D"].astype(np.float32)
    count = len(frame_ids)
    if joints.ndim != 3 or joints.shape[1] not in LABEL_FORMATS or joints.shape[2] != 3 or len(joints) != count:
        raise BackendError(f"{path}: joints2D has shape {joints.shape}; expected ({count}, 49, 3), ({count}, 25, 3) "
                           f"or ({count}, 14, 3) pixels + confidence.", "See docs/training.md (labels).")
    if count == 0 or np.any(np.diff(frame_ids) <= 0) or frame_ids[0] < 0:
        raise BackendError(f"{path}: frame_ids must be non-negative and increasing, one per labelled frame.",
                           "Sort the frames and drop duplicates.")
    joints2d = to_vibe_joints(joints, LABEL_FORMATS[joints.shape[1]])
    bbox = content["bbox"].astype(np.float32) if "bbox" in content else bbox_from_keypoints(joints2d, path)
    extra = {k: content[k].astype(np.float32) for k in OPTIONAL_LABELS if k in content}
    wrong = [f"{k} {v.shape}" for k, v in {"bbox": bbox, **extra}.items() if len(v) != count]
    if wrong:
        raise BackendError(f"{path}: {', '.join(wrong)} must have one row per labelled frame ({count}).",
                           "See docs/training.md (labels).")
    return TrackLabels(path.stem, str(content["video"]), frame_ids, joints2d, bbox, extra)


def bbox_from_keypoints(joints2d: np.ndarray, path: Path) -> np.ndarray:
    """(N, J, 3) keypoints -> (N, 4) square boxes around the confident ones, enlarged 1.1 (official convention)."""
    confident = joints2d[..., 2] > 0
    if not confident.any(axis=1).all():
        raise BackendError(f"{path}: some frames have no confident keypoint, so no box can be derived.",
                           "Add a `bbox` array or drop those frames.")
    xy = np.where(confident[..., None], joints2d[..., :2], np.nan)
    low, high = np.nanmin(xy, axis=1), np.nanmax(xy, axis=1)
    side = np.maximum(high - low, 1.0).max(axis=1) * BOX_MARGIN
    return np.column_stack([(low + high) / 2, side, side]).astype(np.float32)


@torch.inference_mode()
def video_features(video: Path, tracks: list[TrackLabels], backbone: ResNet50Features, device: torch.device,
                   batch_size: int = 64) -> list[np.ndarray]:
    """(N_k, 2048) SPIN features of every labelled frame of each track of one video, decoding the video once."""
    reader = VideoReader(video, start=min(int(t.frame_ids[0]) for t in tracks),
                         end=max(int(t.frame_ids[-1]) for t in tracks) + 1)
    features = [np.zeros((len(t.frame_ids), 2048), dtype=np.float32) for t in tracks]
    pending: list[tuple[np.ndarray, int, int]] = []  # (crop, track, row)
    seen = 0
    for frame_id, rgb in reader:
        rows = [(k, int(np.searchsorted(t.frame_ids, frame_id))) for k, t in enumerate(tracks)]
        rows = [(k, r) for k, r in rows if r < len(tracks[k].frame_ids) and tracks[k].frame_ids[r] == frame_id]
        if rows:
            crops = crop_people(rgb, np.stack([tracks[k].bbox[r] for k, r in rows]), scale=KEYPOINT_BOX_SCALE)
            pending += [(crop, k, r) for crop, (k, r) in zip(crops, rows, strict=True)]
            seen += len(rows)
        for batch in _full_batches(pending, batch_size):
            _run(batch, backbone, device, features)
    _run(pending, backbone, device, features)
    expected = sum(len(t.frame_ids) for t in tracks)
    if seen != expected:
        raise BackendError(f"{video} has only {reader.num_frames} frames from {reader.start}, but the labels refer "
                           f"to later frames ({expected - seen} labelled frames were not found).",
                           "Check the labels' frame_ids against the video.")
    return features


def build_database(videos: Path, labels: Path, data_dir: Path, device: torch.device,
                   batch_size: int = 64) -> dict[str, np.ndarray]:
    """The database of every label file in `labels` (module docstring)."""
    tracks = [read_labels(p) for p in sorted(labels.glob("*.npz"))]
    if not tracks:
        raise BackendError(f"No label files (*.npz) in {labels}.", "See docs/training.md (labels).")
    extra_keys = {k for k in OPTIONAL_LABELS if any(k in t.extra for t in tracks)}
    partial = sorted(k for k in extra_keys if not all(k in t.extra for t in tracks))
    if partial:
        raise BackendError(f"Only some label files have {', '.join(partial)}.",
                           "Give the 3D labels in every file, or in none (build separate databases).")
    backbone = load_spin_backbone(data_dir, device).eval()
    features: dict[int, np.ndarray] = {}
    for video, group in _by_video(tracks):
        path = videos / video
        for index, value in zip(group, video_features(path, [tracks[i] for i in group], backbone, device,
                                                      batch_size), strict=True):
            features[index] = value
    db = {
        "vid_name": np.concatenate([np.full(len(t.frame_ids), f"{Path(t.video).stem}_{t.name}") for t in tracks]),
        "frame_id": np.concatenate([t.frame_ids for t in tracks]),
        "img_name": np.concatenate([np.full(len(t.frame_ids), t.video) for t in tracks]),
        "joints2D": np.concatenate([t.joints2d for t in tracks]),
        "bbox": np.concatenate([t.bbox for t in tracks]),
        "features": np.concatenate([features[i] for i in range(len(tracks))]),
    }
    return db | {k: np.concatenate([t.extra[k] for t in tracks]) for k in sorted(extra_keys)}


def write_database(db: dict[str, np.ndarray], path: Path) -> None:
    """joblib dump (the official databases' format) through a temporary file, so no half-written file remains."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: joblib.dump(db, tmp))


def _by_video(tracks: list[TrackLabels]) -> Iterator[tuple[str, list[int]]]:
    videos: dict[str, list[int]] = {}
    for index, track in enumerate(tracks):
        videos.setdefault(track.video, []).append(index)
    yield from videos.items()


def _full_batches(pending: list, batch_size: int) -> Iterator[list]:
    while len(pending) >= batch_size:
        batch = pending[:batch_size]
        del pending[:batch_size]
        yield batch


def _run(batch: list[tuple[np.ndarray, int, int]], backbone: ResNet50Features, device: torch.device,
         features: list[np.ndarray]) -> None:
    if not batch:
        return
    values = backbone(normalize_imagenet(np.stack([crop for crop, _, _ in batch]), device)).cpu().numpy()
    for value, (_, track, row) in zip(values, batch, strict=True):
        features[track][row] = value
    batch.clear()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend.train.extract", description="Crop the labelled people "
                                     "of videos, compute SPIN features and write a training database.")
    parser.add_argument("--videos", type=Path, required=True, help="folder of the videos named by the labels")
    parser.add_argument("--labels", type=Path, required=True, help="folder of label files (*.npz), one per person")
    parser.add_argument("--data-dir", type=Path, required=True, help="the vibe_data folder (SPIN checkpoint)")
    parser.add_argument("--out", type=Path, required=True, help="database to write, e.g. data/vibe_db/"
                        "mine_train_db.pt (the name before _train_db.pt is its name in the config)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="crops per forward pass")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> None:
        db = build_database(args.videos, args.labels, args.data_dir, resolve_device(args.device), args.batch_size)
        write_database(db, args.out)
        print(f"{args.out}: {len(db['features'])} frames of {len(np.unique(db['vid_name']))} people")

    return run_command(run)


if __name__ == "__main__":
    sys.exit(main())
