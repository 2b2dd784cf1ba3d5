"""Accuracy of every available estimator on the example clips: MPJPE and PA-MPJPE (mm) and acceleration error
(mm/frame^2), the figures VIBE and TCMR publish; and on clips whose truth has the world (the scene clips), how well
the people stand in it: root error, walking distance, foot skate, ankle height, camera height, pitch and pan yaw
(`bench/world_metrics.py`), with a top view of the paths and the feet's heights drawn for each clip.

    .venv/bin/python bench/accuracy.py [--clips CLIP.mp4 ...] [--estimators default vibe tcmr]
                                       [--data-dir vibe_data] [--out out/bench_accuracy] [--figures docs/figures]

Each clip is a video with NAME_truth.npz beside it (see examples/README.md); every clip in examples/ is
used, plus any --clips. Each estimator runs through the backend command line (`python -m backend CLIP --out DIR
--estimator NAME`); one that is not available (no model files, no GPU, an error) is skipped with a note saying why.

Protocol (VIBE/TCMR's, on the joints every estimator outputs): the 14 SMPL joints pelvis, hips, knees, ankles, neck,
shoulders, elbows and wrists (`backend.metrics.common_joints`: SMPL joints for the default estimator, their copies
among VIBE's 49 joints for VIBE and TCMR), each skeleton centred on the midpoint of its hips in every frame; MPJPE and
PA-MPJPE are averaged over the frames the estimator returned, acceleration error over the triples of consecutive
returned frames. The person with the most frames is scored (on clips with several people, every track matched to a
true person, weighted by frames); `found` is the share of frames with an estimate.
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
from bench.world_figures import draw_foot_heights, draw_top_view  # noqa: E402
from bench.world_metrics import CameraScore, PersonScore, match_tracks, score_camera, score_person  # noqa: E402
from smpl_rig.motion import Motion, MotionFileError, Person, load_motion  # noqa: E402
from tools.truth import Truth, load_truth  # noqa: E402

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
    """Every video in `examples` with a truth file beside it, then `extra`, which must have one too."""
    clips = sorted(p for p in examples.glob("*.mp4") if truth_path(p).is_file())
    for clip in extra:
        if not truth_path(clip).is_file():
            raise SystemExit(f"{clip} has no ground truth: expected {truth_path(clip)} (see examples/README.md)")
        clips.append(clip)
    return clips




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
    return score_person_joints(max(motion.people.values(), key=lambda p: len(p.frame_ids)), truth)


def score_matched(motion: Motion, truth: np.ndarray, matches: dict[int, int]) -> Score:
    """The hip-centred scores of every matched track against its true person's joints (N, P, 24, 3), averaged
    weighted by frames."""
    if not matches:
        raise ValueError("no track of the motion file is where a true person is")
    scores = [score_person_joints(motion.people[track], truth[:, p]) for track, p in matches.items()]
    weights = np.array([s.found for s in scores])
    average = {name: float(np.average([getattr(s, name) for s in scores], weights=weights))
               for name in ("mpjpe", "pa_mpjpe", "accel")}
    return Score(found=float(weights.mean()), **average)


def score_person_joints(person: Person, truth: np.ndarray) -> Score:
    """Compare one person with the true SMPL joints (N, 24, 3)."""
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


def format_world_table(rows: list[tuple[str, str, str, list[PersonScore], CameraScore]]) -> str:
    """A Markdown table of the world scores, one row per clip and estimator (people averaged, weighted by frames)."""
    lines = ["| clip | estimator | world | root error (m) | walking distance error | foot skate (mm/frame) "
             "| without world | ankle height error (cm) | camera height error (m) | pitch error (deg) "
             "| pan yaw error (deg) |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for clip, name, world, people, camera in rows:
        mean = {field: _weighted_mean(people, field) for field in
                ("root_error", "distance_error", "skate", "skate_camera", "ankle_height_error")}
        lines.append(f"| {clip} | {name} | {world} | {_number(mean['root_error'], '.2f')} "
                     f"| {_number(mean['distance_error'], '.0%')} | {_number(mean['skate'], '.1f')} "
                     f"| {_number(mean['skate_camera'], '.1f')} | {_number(mean['ankle_height_error'] * 100, '.1f')} "
                     f"| {_number(camera.height_error, '.2f')} | {_number(camera.pitch_error, '.1f')} "
                     f"| {_number(camera.yaw_error, '.1f')} |")
    return "\n".join(lines)


def _weighted_mean(people: list[PersonScore], field: str) -> float:
    """The people's `field` averaged weighted by their frames, over those who have it (NaN when nobody does)."""
    values = np.array([getattr(p, field) for p in people], dtype=np.float64)
    weights = np.array([p.frames for p in people], dtype=np.float64)
    ok = np.isfinite(values) & (weights > 0)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")


def _number(value: float, spec: str) -> str:
    return format(value, spec) if np.isfinite(value) else "-"


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
    parser.add_argument("--figures", type=Path, default=REPO / "docs" / "figures",
                        help="where the top views and foot heights of the scene clips go")
    args = parser.parse_args(argv)
    backend_args = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    clips = find_clips(args.examples, args.clips)
    if not clips:
        raise SystemExit(f"no clip with ground truth in {args.examples}; make one with tools/make_example_clip.py")
    rows, world_rows, notes = [], [], []
    for clip in clips:
        truth = load_truth(truth_path(clip))
        for estimator in args.estimators:
            start = time.perf_counter()
            result = run_estimator(clip, estimator, args.out / clip.stem / estimator, args.python, backend_args)
            seconds = time.perf_counter() - start
            try:
                if isinstance(result, str):
                    raise ValueError(result)
                motion = load_motion(result)
                if not truth.has_world:
                    score = score_motion(motion, truth.person_joints3d())
                else:
                    matches = match_tracks(motion, truth)
                    score = score_matched(motion, truth.joints3d, matches)
                    world_rows.append(score_world(clip, estimator, motion, truth, matches, args.figures))
            except (ValueError, MotionFileError) as exc:
                notes.append(f"- {estimator} on {clip.name}: skipped: {exc}")
                continue
            score.seconds = seconds
            rows.append((clip.name, estimator, score))
    print(format_table(rows))
    if world_rows:
        print("\n" + format_world_table(world_rows))
    if notes:
        print("\n" + "\n".join(notes))


def score_world(clip: Path, estimator: str, motion: Motion, truth: Truth, matches: dict[int, int],
                figures: Path) -> tuple[str, str, str, list[PersonScore], CameraScore]:
    """One row of the world table; with a world, the top view and foot heights are drawn into `figures`."""
    people = [score_person(motion.people[track], track, p, truth, motion) for track, p in matches.items()]
    if motion.world is not None and matches:
        title = f"{clip.stem}, {estimator} estimator"
        draw_top_view(motion, truth, matches, title, figures / f"{clip.stem}_{estimator}_top.png")
        draw_foot_heights(motion, truth, matches, title, figures / f"{clip.stem}_{estimator}_feet.png")
    return clip.name, estimator, "floor" if motion.world is not None else "camera", people, score_camera(motion, truth)


if __name__ == "__main__":
    main()
