"""Frames per second of each backend stage and end to end, for one video and device, plus peak memory.

    .venv/bin/python bench/backend_speed.py VIDEO [--estimator default|vibe|tcmr] [--data-dir D] [--device cpu|cuda]

Each stage is timed on the same frames in one run: decode, detect (every frame), track, crop, the estimator (for
VIBE/TCMR split into the ResNet-50 backbone and temporal+regressor+SMPL), and the whole `python -m backend` job
(which detects on every 4th frame with the built-in detector); peak resident memory (and peak CUDA memory on a GPU)
is reported. Ratios between stages are what to compare across machines. Timing VIBE/TCMR needs a data folder: the
official one, or the synthetic one the tests build (same architecture, random weights):
    .venv/bin/python -c "from tests.checkpoints_synthetic import make_data_dir; make_data_dir('out/synthetic')"
then pass --data-dir out/synthetic/vibe_data.
"""

import argparse
import os
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
    if hasattr(estimator, "extract_features"):  # VIBE and TCMR: the backbone, then the temporal model and SMPL
        from backend.models.resnet import normalize_imagenet

        features = timed("backbone (ResNet-50)", m,
                         lambda: estimator.extract_features(normalize_imagenet(crops, estimator.device)), fps)
        timed("temporal+regressor+SMPL", m, lambda: estimator.regress(features[None]), fps)
    else:
        timed("estimator", m, lambda: estimator.estimate(crops), fps)
    with open(os.devnull, "w") as quiet:
        timed("end to end", n, lambda: run(RunOptions(video=args.video, out_dir=args.out, data_dir=args.data_dir,
                                                      estimator=args.estimator, device=device, min_frames=1),
                                           Progress(stream=quiet)), fps)
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
