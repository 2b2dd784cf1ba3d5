"""Frames per second of each backend stage and of the whole job, for one video; VIBE/TCMR on torch eager and on
OpenVINO side by side; peak memory.

    .venv/bin/python bench/backend_speed.py VIDEO [--estimator default|vibe|tcmr] [--data-dir D] [--device cpu|cuda]
        [--rounds 3]

Everything is timed in one run on the same frames: decode, detect (every frame), track, crop; then the estimator:
the default one as a whole, VIBE/TCMR split into the ResNet-50 backbone, the temporal encoder and the regressor
(with SMPL), each on torch eager and on OpenVINO (CPU), in alternating rounds (the fastest round counts), with the
largest difference between their outputs. Then the whole job (`backend.pipeline.run`, the built-in detector on every
4th frame) with its stages overlapped, with them in sequence (prefetching off), and for VIBE/TCMR on torch eager too.
Ratios are what to compare across machines. VIBE/TCMR need a data folder: the official one, or the synthetic one the
tests build (same architecture and cost, random weights):
    .venv/bin/python -c "from tests.checkpoints_synthetic import make_data_dir; from tests.test_tcmr import \
write_tcmr_checkpoint; write_tcmr_checkpoint(make_data_dir('out/synthetic') / 'tcmr_demo_model.pth.tar')"
then pass --data-dir out/synthetic/vibe_data.
"""

import argparse
import json
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import pipeline  # noqa: E402
from backend.crops import crop_people  # noqa: E402
from backend.detection import create_detector  # noqa: E402
from backend.estimators import create_estimator, resolve_device  # noqa: E402
from backend.models.resnet import normalize_imagenet  # noqa: E402
from backend.progress import Progress  # noqa: E402
from backend.tracking import SortTracker, collect_tracklets  # noqa: E402
from backend.video import VideoReader  # noqa: E402

NETWORK_PARTS = ("backbone (ResNet-50)", "temporal encoder", "regressor + SMPL")


def timed(label: str, frames: int, fn, results: dict):
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    results[label] = frames / seconds if seconds > 0 else float("inf")
    return value


@contextmanager
def part_timer(module: torch.nn.Module, label: str, seconds: dict[str, float]):
    """Adds the time spent in `module`'s forward calls to seconds[label]."""
    started = []
    pre = module.register_forward_pre_hook(lambda *_: started.append(time.perf_counter()))
    post = module.register_forward_hook(lambda *_: seconds.__setitem__(
        label, seconds.get(label, 0.0) + time.perf_counter() - started.pop()))
    try:
        yield
    finally:
        pre.remove()
        post.remove()


def network_round(model, crops: np.ndarray) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """One pass of VIBE/TCMR over the crops as one sequence: seconds per part, and the outputs."""
    images = normalize_imagenet(crops, model.device)
    seconds: dict[str, float] = {}
    with part_timer(model.backbone, NETWORK_PARTS[0], seconds):
        features = model.extract_features(images)
    with part_timer(model.generator.encoder, NETWORK_PARTS[1], seconds), \
            part_timer(model.generator.regressor, NETWORK_PARTS[2], seconds):
        output = model.regress(features[None])
    return seconds, {"features": features, "theta": output["theta"], "kp_3d": output["kp_3d"]}


def compare_runtimes(models: dict, crops: np.ndarray, rounds: int) -> None:
    """Print frames/s of each network part on each runtime (fastest of `rounds` alternating rounds)."""
    best: dict[str, dict[str, float]] = {runtime: {} for runtime in models}
    outputs = {}
    for _ in range(rounds):
        for runtime, model in models.items():
            seconds, outputs[runtime] = network_round(model, crops)
            seconds["all three"] = sum(seconds.values())
            for part, value in seconds.items():
                best[runtime][part] = min(best[runtime].get(part, np.inf), value)
    names = list(models)
    print(f"  {'network part (frames/s)':<24}" + "".join(f"{name:>12}" for name in names)
          + ("    speed-up" if len(names) == 2 else ""))
    for part in (*NETWORK_PARTS, "all three"):
        row = [len(crops) / best[name][part] for name in names]
        ratio = f"{row[1] / row[0]:11.2f}x" if len(names) == 2 else ""
        print(f"  {part:<24}" + "".join(f"{value:12.1f}" for value in row) + ratio)
    if len(names) == 2:
        worst = {key: float((outputs[names[0]][key] - outputs[names[1]][key]).abs().max()) for key in outputs[names[0]]}
        print("  largest difference      " + ", ".join(f"{key} {value:.1e}" for key, value in worst.items()))


class StageClock:
    """A progress stream that notes when each stage's first line came (and the last line)."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.last = 0.0

    def write(self, text: str) -> None:
        self.last = time.perf_counter()
        for line in text.splitlines():
            stage = json.loads(line).get("stage")
            if stage is not None:
                self.first.setdefault(stage, self.last)

    def flush(self) -> None:
        pass


def whole_job(args, device: str, runtime: str, overlapped: bool = True) -> str:
    """`backend.pipeline.run` on the whole video: seconds of setup (loading the models), then frames/s of the first
    pass (decode, detect, track), of the second (decode, crop, estimate, write) and of both; `overlapped=False` turns
    prefetching off."""
    prefetch = pipeline.prefetch
    if not overlapped:
        pipeline.prefetch = lambda items, depth: iter(items)
    try:
        options = pipeline.RunOptions(video=args.video, out_dir=args.out, data_dir=args.data_dir,
                                      estimator=args.estimator, device=device, min_frames=1, runtime=runtime)
        clock = StageClock()
        start = time.perf_counter()
        pipeline.run(options, Progress(stream=clock))
    finally:
        pipeline.prefetch = prefetch
    n = VideoReader(args.video).num_frames
    setup, detect, estimate = clock.first["setup"], clock.first["detect"], clock.first["estimate"]
    return (f"setup {setup - start:5.1f} s, then {n / (clock.last - setup):6.1f} frames/s "
            f"(detect pass {n / (estimate - detect):6.1f}, estimate pass {n / (clock.last - estimate):6.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("--estimator", default="default")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the network timings")
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
    runtimes = ["torch", "auto"] if args.estimator in ("vibe", "tcmr") and device == "cpu" else ["auto"]
    models = {}
    for runtime in runtimes:
        model, _ = create_estimator(args.estimator, args.data_dir, device, runtime=runtime)
        models[getattr(model, "runtime", "default")] = model
    estimator = next(iter(models.values()))
    size, scale = getattr(estimator, "crop_size", 224), getattr(estimator, "crop_scale", 1.1)
    m = len(tracklet.frame_ids)
    crops = timed("crop", m, lambda: np.concatenate([crop_people(frames[f], tracklet.bboxes[i:i + 1], scale, size)
                                                     for i, f in enumerate(tracklet.frame_ids)]), fps)
    frames.clear()  # the whole-job runs below measure their own memory needs, not these
    print(f"video {args.video.name}: {n} frames {reader.width}x{reader.height}, estimator {estimator.name}, "
          f"device {device}, {m} crops of track {tid}")
    for stage, value in fps.items():
        print(f"  {stage:<24} {value:9.1f} frames/s")
    if hasattr(estimator, "extract_features"):
        compare_runtimes(models, crops, args.rounds)
    else:
        start = time.perf_counter()
        estimator.estimate(crops)
        print(f"  {'estimator':<24} {m / (time.perf_counter() - start):9.1f} frames/s")
    models.clear()
    runtime = runtimes[-1]
    print(f"  whole job, stages overlapped:  {whole_job(args, device, runtime)}")
    print(f"  whole job, stages in sequence: {whole_job(args, device, runtime, overlapped=False)}")
    if len(runtimes) == 2:
        print(f"  whole job on torch eager:      {whole_job(args, device, 'torch')}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident memory     {peak_mb:9.0f} MB (this process, which holds all decoded frames for a while)")
    if device == "cuda":
        print(f"  peak CUDA memory         {torch.cuda.max_memory_allocated() / 2**20:9.0f} MB")


if __name__ == "__main__":
    main()
