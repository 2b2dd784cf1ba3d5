"""Every person in multi-person clips: detection recall and precision, identities (MOTA, IDF1, identity switches
against the crossings the clip holds), per-person MPJPE, and the whole job's speed in person-frames per second.

    .venv/bin/python bench/people.py [--clips CLIP.mp4 ...] [--out out/bench_people] [--draw] [-- BACKEND ARGS]

Clips: every video in examples/ whose NAME_truth.npz has per-person boxes (the scene clips of
tools/make_scene_clip.py, read with `tools.truth.load_truth`; see examples/README.md), plus any --clips. Each runs
through the backend command line with the default estimator (`python -m backend CLIP --out DIR --estimator default`,
plus anything after `--`), timed from start to motion.npz.

A true person counts on a frame when they are at least --min-height pixels tall (the box of the whole body, even
where the picture cuts it) and at least --min-visible of their body is in view; scores follow
`bench/tracking_metrics.py`. MPJPE: the 14 joints of `bench/accuracy.py`, centred on the hips, over the frames where
a track matched the person; the median over people is shown. --draw writes every 10th frame with the true boxes
(thin, grey) and the tracks (coloured, with their ids) to OUT/CLIP/frames/ to look at.
"""

import argparse
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.metrics import center_on_hips, common_joints, mpjpe  # noqa: E402
from backend.video import VideoReader  # noqa: E402
from bench.accuracy import run_estimator, truth_path  # noqa: E402
from bench.tracking_metrics import TrackingScore, count_crossings, score_tracks  # noqa: E402
from smpl_rig.motion import Motion, load_motion  # noqa: E402
from tools.truth import Truth, load_truth  # noqa: E402

MIN_HEIGHT, MIN_VISIBLE = 60.0, 0.5


@dataclass
class ClipResult:
    clip: str
    people: int
    score: TrackingScore
    crossings: int
    mpjpe: float  # mm, median over people
    person_frames: int
    seconds: float
    cpu_seconds: float  # the backend's processor time (all its threads): compare machines with it


def person_mpjpe(motion: Motion, joints: np.ndarray, matches: list[tuple[int, int, int]]) -> list[float]:
    """Mean MPJPE (mm) of every true person over the frames a track matched them; joints (N, P, 24, 3)."""
    rows: dict[int, list[tuple[int, int]]] = {}
    for frame, person, tid in matches:
        rows.setdefault(person, []).append((frame, tid))
    errors = []
    for person, pairs in sorted(rows.items()):
        pred, true = [], []
        for frame, tid in pairs:
            track = motion.people.get(tid)
            row = np.flatnonzero(track.frame_ids == frame) if track is not None else []
            if len(row):
                pred.append(track.joints3d[row[0]])
                true.append(joints[frame, person])
        if pred:
            pred = center_on_hips(common_joints(np.array(pred)))
            errors.append(float(mpjpe(pred, center_on_hips(common_joints(np.array(true)))).mean()))
    return errors


def evaluate(motion: Motion, truth: Truth, min_height: float,
             min_visible: float) -> tuple[TrackingScore, int, list[float]]:
    """Tracking scores, crossings and per-person MPJPE of a motion against the clip's truth."""
    counts = np.isfinite(truth.boxes).all(-1) & (truth.height_px >= min_height) & (truth.visible >= min_visible)
    tracks = {tid: (p.frame_ids, p.bboxes) for tid, p in motion.people.items()}
    score = score_tracks(truth.boxes, counts, tracks)
    return score, count_crossings(truth.boxes, counts), person_mpjpe(motion, truth.joints3d, score.matches)


def draw_frames(clip: Path, motion: Motion, truth_boxes: np.ndarray, folder: Path, every: int = 10) -> None:
    """Every `every`-th frame with the true boxes (grey) and the tracks' boxes and ids (one colour per id)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    colours = {tid: tuple(int(c) for c in rng.integers(60, 255, 3)) for tid in motion.people}
    for frame_id, rgb in VideoReader(clip):
        if frame_id % every:
            continue
        picture = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        for box in truth_boxes[frame_id]:
            if np.isfinite(box).all():
                cv2.rectangle(picture, tuple(box[:2].astype(int)), tuple(box[2:].astype(int)), (160, 160, 160), 1)
        for tid, person in motion.people.items():
            row = np.flatnonzero(person.frame_ids == frame_id)
            if len(row):
                cx, cy, w, h = person.bboxes[row[0]]
                top_left, bottom_right = (int(cx - w / 2), int(cy - h / 2)), (int(cx + w / 2), int(cy + h / 2))
                cv2.rectangle(picture, top_left, bottom_right, colours[tid], 2)
                cv2.putText(picture, str(tid), (top_left[0] + 3, top_left[1] + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            colours[tid], 2)
        cv2.imwrite(str(folder / f"{frame_id:05d}.png"), picture)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def format_table(results: list[ClipResult]) -> str:
    lines = ["| clip | people | person-frames (>= 60 px) | recall | precision | MOTA | IDF1 | id switches / crossings "
             "| MPJPE (mm) | whole job (person-frames/s) | processor time per person-frame (ms) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r.clip} | {r.people} | {r.score.counted} | {r.score.recall:.3f} | {r.score.precision:.3f} "
              f"| {r.score.mota:.3f} | {r.score.idf1:.3f} | {r.score.id_switches} / {r.crossings} | {r.mpjpe:.0f} "
              f"| {r.person_frames / r.seconds:.1f} | {1000 * r.cpu_seconds / max(r.person_frames, 1):.0f} |"
              for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    backend_args = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, nargs="*", default=[], help="more clips with NAME_truth.npz beside")
    parser.add_argument("--examples", type=Path, default=REPO / "examples")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench_people")
    parser.add_argument("--min-height", type=float, default=MIN_HEIGHT)
    parser.add_argument("--min-visible", type=float, default=MIN_VISIBLE)
    parser.add_argument("--draw", action="store_true", help="write frames with the tracks drawn, to look at")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the backend")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    clips = sorted(p for p in args.examples.glob("*.mp4") if truth_path(p).is_file()) + args.clips
    truths = {clip: load_truth(truth_path(clip)) for clip in clips}
    clips = [clip for clip in clips if truths[clip].boxes is not None]  # scene clips: per-person boxes
    if not clips:
        raise SystemExit(f"no scene clip (truth with per-person boxes) in {args.examples}")
    results = []
    for clip in clips:
        truth = truths[clip]
        start, cpu_start = time.perf_counter(), _children_cpu()
        out = run_estimator(clip, "default", args.out / clip.stem, args.python, backend_args)
        seconds, cpu_seconds = time.perf_counter() - start, _children_cpu() - cpu_start
        if isinstance(out, str):
            print(f"- {clip.name}: no result: {out}")
            continue
        motion = load_motion(out)
        score, crossings, errors = evaluate(motion, truth, args.min_height, args.min_visible)
        person_frames = sum(len(p.frame_ids) for p in motion.people.values())
        results.append(ClipResult(clip.name, len(truth.person_ids), score, crossings,
                                  float(np.median(errors)) if errors else float("nan"), person_frames, seconds,
                                  cpu_seconds))
        if args.draw:
            draw_frames(clip, motion, truth.boxes, args.out / clip.stem / "frames")
    print(format_table(results))


if __name__ == "__main__":
    main()
