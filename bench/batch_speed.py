"""Videos per minute of the batch command with 1 and 2 local workers and through a local Ray runtime, side by side.

    .venv/bin/python bench/batch_speed.py [--videos 6] [--frames 0:60] [--clip examples/squat_march.mp4]

Copies the clip `--videos` times, then runs `python -m blender_vibe.batch COPIES -o {name}.blend --frames ...` three
ways, one after another, each into a fresh output folder: `--workers 1`, `--workers 2`, and `--ray --cpus-per-video N`
(N: half this machine's CPUs, so that Ray runs two videos at a time as `--workers 2` does). Prints the wall time,
videos per minute, the mean seconds of one video (from report.json), and the speed-up over one worker. The Ray
figure includes starting and stopping the local Ray runtime, which is also timed on its own. Each video pays a fixed
start (Python, bpy, the backend's torch and MediaPipe): short clips show the batch's overhead, long ones the estimator.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blender_vibe.batch.local import available_cpus  # noqa: E402


def run_batch(videos: list[Path], out: Path, how: list[str], frames: str, env: dict) -> dict:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "blender_vibe.batch", *map(str, videos), "--out", str(out),
                             "-o", "{name}.blend", "--frames", frames, "--min-frames", "5", *how],
                            env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"batch {' '.join(how)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    report = json.loads((out / "report.json").read_text())["videos"]
    return {"wall": wall, "video_seconds": sum(v["seconds"] for v in report) / len(report),
            "frames": sum(v["frames"] for v in report)}


def ray_start_seconds(env: dict) -> float:
    code = ("import logging, ray; ray.init(address='local', include_dashboard=False, log_to_driver=False, "
            "logging_level=logging.WARNING, object_store_memory=128 * 2**20); ray.shutdown()")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", default="0:60", help="video frames of each copy to process")
    parser.add_argument("--clip", type=Path, default=ROOT / "examples" / "squat_march.mp4")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bv-bench-", dir="/tmp") as scratch:
        scratch = Path(scratch)
        videos = [Path(shutil.copy(args.clip, scratch / f"clip{i:02d}{args.clip.suffix}")) for i in range(args.videos)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BLENDER_USER_RESOURCES": str(scratch / "blender_user"),
               "RAY_TMPDIR": str(scratch)}
        cpus = available_cpus()
        ways = {"1 local worker": ["--workers", "1"], "2 local workers": ["--workers", "2"],
                f"local Ray, {max(1, cpus // 2)} CPUs per video": ["--ray", "--cpus-per-video", str(max(1, cpus // 2))]}
        figures = {name: run_batch(videos, scratch / f"out{i}", how, args.frames, env)
                   for i, (name, how) in enumerate(ways.items())}
        ray_start = ray_start_seconds(env)
    print(f"{args.videos} copies of {args.clip.name}, frames {args.frames}, {cpus} CPUs")
    base = figures["1 local worker"]["wall"]
    print(f"{'how':<28} {'wall s':>7} {'videos/min':>10} {'frames/s':>8} {'s/video':>8} {'speed-up':>8}")
    for name, f in figures.items():
        print(f"{name:<28} {f['wall']:7.1f} {args.videos / f['wall'] * 60:10.2f} {f['frames'] / f['wall']:8.1f} "
              f"{f['video_seconds']:8.1f} {base / f['wall']:7.2f}x")
    print(f"starting and stopping a local Ray runtime alone: {ray_start:.1f} s")


if __name__ == "__main__":
    main()
