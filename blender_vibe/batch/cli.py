"""`python -m blender_vibe.batch INPUTS... --out DIR [-o {name}.blend ...] [--workers N | --ray [ADDRESS]]`.

Every video goes through the headless command (`python -m blender_vibe`, every option of which applies to each
video) in a child process of its own, into its own folder OUT/NAME/. Finished videos are skipped, so a batch that was
stopped continues where it stopped; a video that fails, crashes or hangs is reported and the others go on. The end
is a summary table and OUT/report.json.
"""

import argparse
import importlib.util
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from backend.arguments import non_negative_float, positive_int

from .display import Display, summary_table
from .inputs import InputError, find_videos
from .local import available_cpus, default_workers, run_local
from .options import OptionsError, VideoOptions, add_video_options, video_options
from .ray_jobs import LOCAL, RayError, run_on_ray
from .report import REPORT_FILE, write_report
from .video import (
    CANCELLED,
    FAILED,
    PreviousResultError,
    VideoJob,
    VideoResult,
    previous_result,
    work_root,
)

WAITING = "waiting"


def _ray_address(text: str) -> str:
    if text in ("auto", LOCAL) or ":" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a Ray address: give auto, HOST:PORT or ray://HOST:PORT. If it is a video, put --ray after "
        "the videos (or write --ray=local).")


def build_parser() -> argparse.ArgumentParser:
    cpus = available_cpus()
    parser = argparse.ArgumentParser(
        prog="python -m blender_vibe.batch",
        description="Turn many videos into animation: each through `python -m blender_vibe`, into OUT/NAME/ "
                    "(NAME: the video's path in its input folder, without extension). Finished videos are skipped, "
                    "so run the same command again to continue a batch that was stopped; failures are reported and "
                    f"retried by the next run. The summary is also written to OUT/{REPORT_FILE}.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="a video, a folder (searched for videos, subfolders too) or a glob pattern")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the batch's output folder")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help=f"videos at a time on this machine, each with its share of the {cpus} CPU threads "
                             f"(default: {default_workers(cpus)}, about 4 threads each)")
    parser.add_argument("--ray", type=_ray_address, nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                        help="run the videos as Ray tasks instead: alone, on a local Ray started for the batch; "
                             "auto, on the running cluster; or the cluster's HOST:PORT. Inputs and outputs must be "
                             "on a path every node sees")
    parser.add_argument("--cpus-per-video", type=positive_int, default=None, metavar="N",
                        help="with --ray: CPUs (threads) of each video's task (default: up to 4)")
    parser.add_argument("--gpus-per-video", type=non_negative_float, default=None, metavar="G",
                        help="with --ray: GPUs of each video's task, may be a fraction (default: 1 when CUDA is used "
                             "(--device cuda, or auto on a cluster with GPUs), else 0)")
    parser.add_argument("--timeout", type=non_negative_float, default=900.0, metavar="SECONDS",
                        help="end a video that shows no progress for this long, as hung (default: 900; 0: never)")
    parser.add_argument("--redo", action="store_true", help="process every video again, also finished ones")
    add_video_options(parser)
    return parser


def make_jobs(videos, options: VideoOptions, out: Path, timeout: float) -> list[VideoJob]:
    jobs = []
    for video in videos:
        work = work_root(out) / video.name / "out"
        jobs.append(VideoJob(video=str(video.path), name=video.name, out=str(out),
                             args=options.command_args(video.name, str(work)), outputs=options.output_files(video.name),
                             options=options.record(), cwd=os.getcwd(), timeout=timeout))
    return jobs


def _lock(out: Path):
    """Hold OUT/.batch/lock for the batch's life, so that two batches never write into one folder; the lock goes
    with the process, however it ends (POSIX; elsewhere there is no lock)."""
    path = out / ".batch" / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # held open for the batch's whole life
    try:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except OSError:
        handle.close()
        raise InputError(f"another batch is writing into {out}. Wait for it to end, or choose another --out.") from None
    return handle


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ray is None and (args.cpus_per_video or args.gpus_per_video is not None):
        parser.error("--cpus-per-video and --gpus-per-video are for --ray; on this machine, use --workers N")
    if args.ray is not None and args.workers:
        parser.error("--workers is for this machine; with --ray, Ray runs as many videos as the cluster's CPUs "
                     "allow (--cpus-per-video each)")
    out = args.out.expanduser().resolve()
    try:
        options = video_options(args)
        jobs = make_jobs(find_videos(args.inputs, skip=out), options, out, args.timeout)
        previous = {job.name: previous_result(job) for job in jobs}  # also refuses folders it must not replace
        if args.redo:
            previous = dict.fromkeys(previous)
        if importlib.util.find_spec("bpy") is None:
            raise InputError(f"this Python ({sys.executable}) has no bpy module, which every video needs. Install "
                             "the project's requirements (requirements-dev.txt).")
        lock = _lock(out)
    except (InputError, OptionsError, PreviousResultError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with lock:
        shutil.rmtree(work_root(out), ignore_errors=True)  # what a batch that was killed left
        try:
            return _run(args, jobs, previous, out, {"command": ["python", "-m", "blender_vibe.batch", *argv],
                                                    "options": options.record()})
        finally:
            shutil.rmtree(work_root(out), ignore_errors=True)


def _run(args, jobs: list[VideoJob], previous: dict, out: Path, batch: dict) -> int:
    """Run what is not finished yet; print the summary, write the report; the exit code."""
    results = {job.name: previous[job.name] or VideoResult(job.name, job.video, WAITING) for job in jobs}
    todo = [job for job in jobs if previous[job.name] is None]
    workers = args.workers or default_workers(available_cpus())
    batch.update(runner=f"ray ({args.ray})" if args.ray else f"local ({workers} workers)",
                 started=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    display = Display(len(jobs), len(jobs) - len(todo))
    display.note(f"{len(jobs)} videos: {len(jobs) - len(todo)} finished earlier, {len(todo)} to do, "
                 f"{batch['runner']}; results in {out}")

    def on_result(result: VideoResult) -> None:
        results[result.name] = result
        write_report(out, list(results.values()), batch)
        display.ended_video(result)

    write_report(out, list(results.values()), batch)
    stops = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    handlers = {signum: signal.signal(signum, _interrupt) for signum in stops}  # a kill ends the batch as Ctrl-C
    interrupted, error = False, None
    try:
        if args.ray and todo:
            run_on_ray(todo, args.ray, video_options(args).device, args.cpus_per_video, args.gpus_per_video,
                       display, on_result)
        elif todo:
            run_local(todo, workers, display, on_result)
    except KeyboardInterrupt:
        interrupted = True
    except RayError as exc:
        error = exc
    finally:
        display.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    why = f"Not started: {error}" if error else "Not started: the batch was stopped."
    final = [VideoResult(r.name, r.video, CANCELLED, error=why) if r.result == WAITING else r for r in results.values()]
    report = write_report(out, final, batch)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary_table(final))
    print(f"report: {report}")
    if interrupted:
        print("stopped: run the same command again to continue", file=sys.stderr)
        return 130
    return 1 if any(result.result == FAILED for result in final) else 0
