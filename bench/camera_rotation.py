"""The camera's rotation from the background (`backend.camera_motion`) against the rendered clips' truth: pan (yaw)
error and whole-rotation error per frame, in degrees, after aligning the unknown start (the estimate is relative to
the first frame, so the first frame's true pose is taken as known), and its cost per frame beside the detection pass
it runs in (decoding, and the detector on every 4th frame as the pipeline runs the built-in one).

    .venv/bin/python bench/camera_rotation.py [--clips CLIP.mp4 ...] [--detect-every 4]

Clips: every examples/*.mp4 with NAME_truth.npz beside it, plus any --clips. The truth's `camera_rotation` (F, 3, 3)
(`tools.truth.load_truth`) is world-from-camera (VIBE's camera axes, world z up); a truth without it (the first
example clip) is a still, level camera looking along +y. Other benchmarks can call `rotation_errors` on
`Motion.camera_rotations`.
"""

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.camera_motion import CameraRotationTracker  # noqa: E402
from backend.detection import create_detector  # noqa: E402
from backend.video import VideoReader  # noqa: E402
from smpl_rig.camera import CAMERA_TO_BLENDER  # noqa: E402
from tools.truth import load_truth  # noqa: E402

STILL = CAMERA_TO_BLENDER  # the first example clip's camera: level, looking along +y


@dataclass
class RotationErrors:
    yaw: np.ndarray    # (F,) degrees: the pan, about the world's vertical
    angle: np.ndarray  # (F,) degrees: the whole rotation between estimate and truth


def camera_yaw(world_from_camera: np.ndarray) -> np.ndarray:
    """Where cameras (F, 3, 3) look, degrees counter-clockwise about +z from +y (as the clips' truth states it)."""
    forward = world_from_camera[:, :, 2]
    return np.degrees(np.arctan2(-forward[:, 0], forward[:, 1]))


def rotation_errors(estimated: np.ndarray, truth: np.ndarray) -> RotationErrors:
    """Errors of estimated rotations (F, 3, 3), camera of frame t -> camera of the first frame (as
    `Motion.camera_rotations`), against true world-from-camera rotations (F, 3, 3) of the same frames; the first
    frame's true pose aligns the estimate to the world."""
    truth = np.asarray(truth, dtype=np.float64)
    placed = truth[:1] @ np.asarray(estimated, dtype=np.float64)
    yaw = (camera_yaw(placed) - camera_yaw(truth) + 180.0) % 360.0 - 180.0
    angle = np.degrees(Rotation.from_matrix(np.swapaxes(truth, 1, 2) @ placed).magnitude())
    return RotationErrors(yaw=np.abs(yaw), angle=angle)


def true_rotations(clip: Path, num_frames: int) -> np.ndarray:
    """The clip's world-from-camera rotations (F, 3, 3); a truth without them is the still, level camera."""
    rotations = load_truth(clip.with_name(f"{clip.stem}_truth.npz")).camera_rotation
    return np.repeat(STILL[None], num_frames, axis=0) if rotations is None else rotations[:num_frames]


@dataclass
class Run:
    errors: RotationErrors
    measured: float  # share of frames measured (not interpolated)
    moving: float    # share of frames reported as a moving (not only turning) camera
    camera_ms: float  # per frame
    decode_ms: float  # per frame
    detect_ms: float  # per frame, the detector's time spread over all frames


def run_clip(clip: Path, detect_every: int) -> Run:
    """The detection pass as the pipeline runs it, timing decoding, detector and camera tracker side by side."""
    reader = VideoReader(clip)
    detector = create_detector(None)
    camera = CameraRotationTracker(reader.width, reader.height)
    spent = {"decode": 0.0, "detect": 0.0, "camera": 0.0}
    frames = iter(reader)
    for i in range(reader.num_frames):
        start = time.perf_counter()
        frame_id, rgb = next(frames)
        decoded = time.perf_counter()
        boxes = detector.detect(rgb) if i % detect_every == 0 else None
        detected = time.perf_counter()
        camera.add(frame_id, rgb, boxes)
        spent["decode"] += decoded - start
        spent["detect"] += detected - decoded
        spent["camera"] += time.perf_counter() - detected
    out = camera.result()
    per_frame = {k: 1000.0 * v / len(out.frame_ids) for k, v in spent.items()}
    return Run(rotation_errors(out.rotations, true_rotations(clip, len(out.frame_ids))), out.measured.mean(),
               out.moving.mean(), per_frame["camera"], per_frame["decode"], per_frame["detect"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, nargs="*", default=[])
    parser.add_argument("--detect-every", type=int, default=4)
    args = parser.parse_args(argv)
    clips = sorted(p for p in (REPO / "examples").glob("*.mp4") if p.with_name(f"{p.stem}_truth.npz").is_file())
    print("| clip | frames measured | pan yaw error max / mean (deg) | rotation error max / mean (deg) | moving | "
          f"camera (ms/frame) | decode | detector (every {args.detect_every}) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for clip in clips + args.clips:
        r = run_clip(clip, args.detect_every)
        print(f"| {clip.name} | {100 * r.measured:.0f} % | {r.errors.yaw.max():.2f} / {r.errors.yaw.mean():.2f} | "
              f"{r.errors.angle.max():.2f} / {r.errors.angle.mean():.2f} | {100 * r.moving:.0f} % | "
              f"{r.camera_ms:.1f} | {r.decode_ms:.1f} | {r.detect_ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
