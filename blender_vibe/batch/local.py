"""The batch's videos on this machine: up to `workers` headless commands at a time, each with its share of the CPU
threads. One loop polls them all (nothing blocks on a child), so a crash or a hang ends one video, not the batch."""

import os
import time
from collections import deque
from collections.abc import Callable

from .display import Display, Running
from .video import VideoJob, VideoResult, VideoRun, start_video

POLL_SECONDS = 0.2
THREADS_PER_VIDEO = 4  # the default share: more threads help one video less than another video in parallel does


def available_cpus() -> int:
    """CPUs this process may use (its affinity, e.g. in a container), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cpus: int) -> int:
    return max(1, cpus // THREADS_PER_VIDEO)


def run_local(jobs: list[VideoJob], workers: int, display: Display,
              on_result: Callable[[VideoResult], None]) -> None:
    """Run every job; `on_result` gets each result as its video ends. Ctrl-C (KeyboardInterrupt) cancels the
    running videos, which end their backends and leave no staging folder, and is raised again."""
    threads = max(1, available_cpus() // workers)
    waiting = deque(jobs)
    running: list[VideoRun] = []
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                started = start_video(waiting.popleft(), threads)
                if isinstance(started, VideoResult):
                    on_result(started)
                else:
                    running.append(started)
            for run in list(running):
                result = run.poll()
                if result is not None:
                    running.remove(run)
                    on_result(result)
            display.update([status(run) for run in running], len(waiting))
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        for run in running:
            on_result(run.cancel())
        raise


def status(run: VideoRun) -> Running:
    p = run.progress
    return Running(run.job.name, p.stage, p.done, p.total, p.eta_seconds, run.seconds)
