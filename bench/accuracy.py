"""Accuracy of every available estimator on the example clips: MPJPE and PA-MPJPE (mm) and acceleration error
(mm/frame^2), the figures VIBE and TCMR publish.

    .venv/bin/python bench/accuracy.py [--clips CLIP.mp4 ...] [--estimators default vibe tcmr]
                                       [--data-dir vibe_data] [--out out/bench_accuracy]

Each clip is a video with NAME_truth.npz beside it (see examples/README.md); every one-person clip in examples/ is
used, plus any --clips. Each estimator runs through the backend command line (`python -m backend CLIP --out DIR
--estimator NAME`); one that is not available (no model files, no GPU, an error) is skipped with a note saying why.

Protocol (VIBE/TCMR's, on the joints every estimator outputs): the 14 SMPL joints pelvis, hips, knees, ankles, neck,
shoulders, elbows and wrists (`backend.metrics.common_joints`: SMPL joints for the default estimator, their copies
among VIBE's 49 joints for VIBE and TCMR), each skeleton centred on the midpoint of its hips in every frame; MPJPE and
PA-MPJPE are averaged over the frames the estimator returned, acceleration error over the triples of consecutive
returned frames. The person with the most frames is scored; `found` is the share of frames with an estimate.
"""

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.metrics import accel_error, center_on_hips, common_joints, mpjpe, pa_mpjpe  # noqa: E402
from smpl_rig.motion import Motion, MotionFileError, load_motion  # noqa: E402
from tools.truth import load_truth  # noqa: E402

ESTIMATORS = ("default", "vibe", "tcmr")


@dataclass
class Score:
    found: float  # share of the clip's frames with an estimate
    mpjpe: float  # mm
    pa_mpjpe: float  # mm
    accel: float  # mm/frame^2
    seconds: float = float("nan")  # wall time of the backend run


def truth_path(clip: Path) -> Path:
    return clip.with_name(f"{clip.stem}_truth.npz")


def find_clips(examples: Path, extra: list[Path]) -> list[Path]:
    """Every one-person video in `examples` with a truth file beside it, then `extra`, which must have one too."""
    clips = sorted(p for p in examples.glob("*.mp4")
                   if truth_path(p).is_file() and len(load_truth(truth_path(p)).person_ids) == 1)
    for clip in extra:
        if not truth_path(clip).is_file():
            raise SystemExit(f"{clip} has no ground truth: expected {truth_path(clip)} (see examples/README.md)")
        clips.append(clip)
    return clips


def load_truth_joints(clip: Path) -> np.ndarray:
    """The clip's true SMPL joints (N, 24, 3), camera frame, metres, one row per video frame (one-person clips)."""
    return load_truth(truth_path(clip)).person_joints3d()


def run_estimator(clip: Path, estimator: str, out_dir: Path, python: str, backend_args: list[str]) -> Path | str:
    """Run the backend on `clip`; returns the motion file, or a note saying why there is none."""
    command = [python, "-m", "backend", str(clip), "--out", str(out_dir), "--estimator", estimator, *backend_args]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    for line in reversed(proc.stdout.splitlines()):
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict) and message.get("result") == "ok":
            return Path(message["motion"])
        if isinstance(message, dict) and "error" in message:
            return f"{message['error']} {message.get('fix', '')}".strip()
    lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}").splitlines()
    return f"the backend gave no result (exit code {proc.returncode}): {lines[-1]}"


def score_motion(motion: Motion, truth: np.ndarray) -> Score:
    """Compare the person with the most frames in `motion` with the true SMPL joints (N, 24, 3)."""
    if not motion.people:
        raise ValueError("the motion file holds no person")
    person = max(motion.people.values(), key=lambda p: len(p.frame_ids))
    if person.joints3d.ndim != 3 or person.joints3d.shape[1] == 0:
        raise ValueError("the motion file has no 3D joints (joints3d) to score")
    keep = (person.frame_ids >= 0) & (person.frame_ids < len(truth))
    if not keep.any():
        raise ValueError("the estimate covers none of the clip's frames")
    valid = np.zeros(len(truth), dtype=bool)
    valid[person.frame_ids[keep]] = True
    true = center_on_hips(common_joints(truth))
    pred = np.zeros_like(true)
    pred[person.frame_ids[keep]] = center_on_hips(common_joints(person.joints3d[keep]))
    accel = accel_error(pred, true, valid) if len(truth) >= 3 else np.empty(0)
    return Score(found=float(valid.mean()), mpjpe=float(mpjpe(pred[valid], true[valid]).mean()),
                 pa_mpjpe=float(pa_mpjpe(pred[valid], true[valid]).mean()),
                 accel=float(accel.mean()) if len(accel) else float("nan"))


def format_table(rows: list[tuple[str, str, Score]]) -> str:
    """A Markdown table, one row per clip and estimator."""
    lines = ["| clip | estimator | found | MPJPE (mm) | PA-MPJPE (mm) | accel error (mm/frame^2) | run (s) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {clip} | {name} | {s.found:.0%} | {s.mpjpe:.1f} | {s.pa_mpjpe:.1f} | {s.accel:.1f} "
              f"| {s.seconds:.0f} |" for clip, name, s in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, nargs="*", default=[], help="more clips with NAME_truth.npz beside")
    parser.add_argument("--examples", type=Path, default=REPO / "examples")
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--data-dir", type=Path, help="folder with the official VIBE/TCMR files, passed on")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench_accuracy")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the backend")
    args = parser.parse_args(argv)
    backend_args = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    clips = find_clips(args.examples, args.clips)
    if not clips:
        raise SystemExit(f"no clip with ground truth in {args.examples}; make one with tools/make_example_clip.py")
    rows, notes = [], []
    for clip in clips:
        truth = load_truth_joints(clip)
        for estimator in args.estimators:
            start = time.perf_counter()
            result = run_estimator(clip, estimator, args.out / clip.stem / estimator, args.python, backend_args)
            seconds = time.perf_counter() - start
            try:
                if isinstance(result, str):
                    raise ValueError(result)
                score = score_motion(load_motion(result), truth)
            except (ValueError, MotionFileError) as exc:
                notes.append(f"- {estimator} on {clip.name}: skipped: {exc}")
                continue
            score.seconds = seconds
            rows.append((clip.name, estimator, score))
    print(format_table(rows))
    if notes:
        print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
