"""Frames per second of each backend stage and end to end, for one video and device, plus peak memory.

    .venv/bin/python bench/backend_speed.py VIDEO [--estimator default|vibe|tcmr] [--data-dir D] [--device cpu|cuda]

Each stage is timed on the same frames in one run: decode, detect, track, crop, estimator (for VIBE/TCMR split into
backbone and temporal+regressor+SMPL), and the whole `python -m backend` job; peak resident memory (and peak CUDA
memory on a GPU) is reported. Ratios between stages are what to compare across machines.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.crops import crop_people  # noqa: E402
from backend.detection import create_detector  # noqa: E402
from backend.estimators import create_estimator, resolve_device  # noqa: E402
from backend.pipeline import RunOptions, run  # noqa: E402
from backend.progress import Progress  # noqa: E402
from backend.tracking import SortTracker, collect_tracklets  # noqa: E402
from backend.video import VideoReader  # noqa: E402


def timed(label: str, frames: int, fn, results: dict):
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    results[label] = frames / seconds if seconds > 0 else float("inf")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("--estimator", default="default")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("out/bench_backend"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    reader = VideoReader(args.video)
    n = reader.num_frames
    fps: dict[str, float] = {}
    frames = timed("decode", n, lambda: [rgb for _, rgb in reader], fps)
    detector = create_detector(args.data_dir, device)
    detections = timed("detect", n, lambda: [detector.detect(rgb) for rgb in frames], fps)
    tracklets = timed("track", n, lambda: collect_tracklets(zip(range(n), detections, strict=True), min_frames=1,
                                                            tracker=SortTracker()), fps)
    if not tracklets:
        sys.exit("no person tracked in this video")
    tid, tracklet = max(tracklets.items(), key=lambda kv: len(kv[1].frame_ids))
    estimator, _ = create_estimator(args.estimator, args.data_dir, device)
    size = getattr(estimator, "crop_size", 224)
    m = len(tracklet.frame_ids)
    crops = timed("crop", m, lambda: np.concatenate([crop_people(frames[f], tracklet.bboxes[i:i + 1], size=size)
                                                     for i, f in enumerate(tracklet.frame_ids)]), fps)
    for stage, fn in getattr(estimator, "benchmark_stages", lambda c: {"estimator": lambda: estimator.estimate(c)})(
            crops).items():
        timed(stage, m, fn, fps)
    timed("end to end", n, lambda: run(RunOptions(video=args.video, out_dir=args.out, data_dir=args.data_dir,
                                                  estimator=args.estimator, device=device, min_frames=1),
                                       Progress(stream=open("/dev/null", "w"))), fps)
    print(f"video {args.video.name}: {n} frames {reader.width}x{reader.height}, estimator {estimator.name}, "
          f"device {device}")
    for stage, value in fps.items():
        print(f"  {stage:<24} {value:9.1f} frames/s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident memory     {peak_mb:9.0f} MB")
    if device == "cuda":
        import torch

        print(f"  peak CUDA memory         {torch.cuda.max_memory_allocated() / 2**20:9.0f} MB")


if __name__ == "__main__":
    main()
