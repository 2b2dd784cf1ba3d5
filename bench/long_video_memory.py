"""Memory of the whole backend job on a long 1080p video: it must stay flat with the video's length (target: a
10-minute 1080p clip peaks below 2 GB).

    .venv/bin/python bench/long_video_memory.py [--minutes 10] [--estimator default|vibe|tcmr] [--data-dir D]
        [--detect-every 30] [--clip out/bench_long/squat_march_1080p_10min.mp4]

The clip is written once with OpenCV (no ffmpeg): the example clip's person, looped back and forth and drifting
across a 1920x1080 frame at 30 frames/s (mp4v). Then `python -m backend` runs on all of it as a child process, whose
resident memory is read at every progress line (Linux /proc) and printed at each tenth of each stage, with the
child's peak. What grows with the length is only per-frame results (boxes, poses: about 2 kB a frame); decoded frames,
crops and network inputs are bounded by the streaming passes. The detector runs on every 30th frame by default
(`--detect-every`; boxes are interpolated in between): what it keeps is boxes either way, so the memory figure holds
for any setting while the run takes minutes instead of an hour on two cores.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "examples" / "squat_march.mp4"
SIZE = (1920, 1080)
FPS = 30


def write_clip(path: Path, minutes: float) -> None:
    """The example clip's frames, 1.5 times larger, looped back and forth and drifting left and right."""
    capture = cv2.VideoCapture(str(SOURCE))
    source = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        source.append(cv2.resize(frame, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR))
    capture.release()
    height, width = source[0].shape[:2]
    if height > SIZE[1] or width > SIZE[0]:
        sys.exit(f"{SOURCE.name} is too large for {SIZE[0]}x{SIZE[1]} at 1.5x")
    count = round(minutes * 60 * FPS)
    period = 2 * (len(source) - 1)
    partial = path.with_name(".partial-" + path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        sys.exit("This OpenCV cannot write mp4v video.")
    canvas = np.full((SIZE[1], SIZE[0], 3), (112, 104, 96), dtype=np.uint8)
    top, drift = (SIZE[1] - height) // 2, (SIZE[0] - width) // 2
    for i in range(count):
        step = i % period
        frame = source[step if step < len(source) else period - step]
        left = drift + round(0.8 * drift * math.sin(2 * math.pi * i / (20 * FPS)))
        canvas[:] = (112, 104, 96)
        canvas[top:top + height, left:left + width] = frame
        writer.write(canvas)
    writer.release()
    os.replace(partial, path)


def resident_mb(pid: int) -> float | None:
    """The process's resident memory in MB (Linux), None elsewhere."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--estimator", default="default")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--detect-every", type=int, default=30)
    parser.add_argument("--clip", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_long")
    args = parser.parse_args()
    clip = args.clip or args.out / f"{SOURCE.stem}_1080p_{args.minutes:g}min.mp4"
    if not clip.is_file():
        start = time.perf_counter()
        write_clip(clip, args.minutes)
        print(f"wrote {clip} ({clip.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - start:.0f} s")
    command = [sys.executable, "-m", "backend", str(clip), "--out", str(args.out / args.estimator),
               "--estimator", args.estimator, "--detect-every", str(args.detect_every)]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    samples: dict[str, list[tuple[float, float]]] = {}  # stage -> [(fraction done, MB)]
    last = None
    for line in child.stdout:
        message = json.loads(line)
        if "stage" in message:
            memory = resident_mb(child.pid)
            if memory is not None and message["total"]:
                samples.setdefault(message["stage"], []).append((message["done"] / message["total"], memory))
        last = message
    child.wait()
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit(f"the backend failed: {last}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    frames = round(args.minutes * 60 * FPS)
    print(f"{clip.name}: {frames} frames {SIZE[0]}x{SIZE[1]}, estimator {args.estimator}, detector on every "
          f"{args.detect_every}th frame; whole job {seconds:.0f} s ({frames / seconds:.1f} frames/s)")
    for stage, points in samples.items():
        marks = [min(points, key=lambda p, t=t: abs(p[0] - t)) for t in np.linspace(0.1, 1.0, 10)]
        print(f"  {stage:<9} resident MB at 10%..100%: " + " ".join(f"{mb:5.0f}" for _, mb in marks))
    print(f"  peak resident memory of the job: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
