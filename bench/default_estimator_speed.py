"""Frames per second of the default estimator on 640x480 video frames, against the target of 15 fps.

    .venv/bin/python bench/default_estimator_speed.py [--frames 150] [--crop-size 256]

The frames show a real person (the portrait in tests/videos.py) moving across a textured background. Timed per
frame, as the pipeline runs it once the person is tracked: the crop of the tracked box, then the estimator on the
tracklet (BlazePose in tracking mode, gap filling, skeleton measurement, rotation solve, crop camera). MediaPipe alone
is timed again separately to show its share. Detection and tracking are the pipeline's (bench/backend_speed.py).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.crops import crop_people  # noqa: E402
from backend.default_estimator import DefaultEstimator  # noqa: E402
from backend.default_estimator.landmarks import detect_landmarks  # noqa: E402
from tests.videos import moving_people  # noqa: E402

TARGET_FPS = 15.0
WIDTH, HEIGHT = 640, 480


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--crop-size", type=int, default=256)
    args = parser.parse_args()
    frames, corners = moving_people(args.frames, HEIGHT, WIDTH, [((40, 60), (260, 20))], person_height=400)
    corners = corners[:, 0].astype(np.float64)
    side = np.maximum(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])
    boxes = np.stack([(corners[:, 0] + corners[:, 2]) / 2, (corners[:, 1] + corners[:, 3]) / 2, side, side], axis=1)
    estimator = DefaultEstimator(crop_size=args.crop_size)

    start = time.perf_counter()
    crops = np.stack([crop_people(f, b[None], size=args.crop_size)[0] for f, b in zip(frames, boxes, strict=True)])
    cropped = time.perf_counter()
    estimator.estimate(crops)
    done = time.perf_counter()
    detect_landmarks(crops)
    mediapipe_only = time.perf_counter() - done

    n = args.frames
    total = done - start
    print(f"default estimator, {n} frames of {WIDTH}x{HEIGHT}, crops of {args.crop_size}:")
    print(f"  crop                 {n / (cropped - start):8.1f} fps")
    print(f"  estimate             {n / (done - cropped):8.1f} fps (MediaPipe alone {n / mediapipe_only:.1f} fps)")
    print(f"  frame -> pose        {n / total:8.1f} fps, target {TARGET_FPS:.0f} fps: {n / total / TARGET_FPS:.2f}x")


if __name__ == "__main__":
    main()
