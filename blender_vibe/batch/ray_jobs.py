"""The batch's videos as Ray tasks, on a running cluster or on a local Ray started for the batch.

Each task runs the same `VideoRun` as a local worker does, on whichever node Ray picks, with `cpus` CPUs (its thread
count) and `gpus` GPUs (Ray sets CUDA_VISIBLE_DEVICES; with none, the backend's `--device auto` takes the CPU). Inputs,
outputs and the project must be on a path every node sees at the same place (NFS, a cluster file system): before the
batch starts, one probe task per node checks that it sees the output folder, the working folder and every video, and
that its Python has `bpy`. A task publishes its progress in its staging folder, where the driver reads it. Ray is
optional: only `--ray` imports it.
"""

import importlib.util
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .display import Display, Running
from .video import CANCELLED, VideoJob, VideoResult, failed_result, python_path, read_progress, start_video

POLL_SECONDS = 0.25
CANCEL_WAIT_SECONDS = 20.0  # for cancelled tasks to end their commands
LOCAL = "local"
RAY_VERSION = "2.60.0"  # the version the tests run (requirements-dev.txt)


class RayError(RuntimeError):
    """Ray cannot run the batch: what is wrong and how to fix it."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayError(f"--ray needs Ray, which this Python ({sys.executable}) does not have. Install it with "
                       f"{sys.executable} -m pip install 'ray=={RAY_VERSION}', or leave out --ray to run the videos "
                       "on this machine (--workers N).") from None
    return ray


def connect(ray, address: str) -> bool:
    """Connect to the cluster at `address` ('auto': the running one), or start a local one ('local'); returns
    whether this call did (and so must shut it down). A process already connected keeps its connection."""
    if ray.is_initialized():
        return False
    options = dict(address=address, log_to_driver=False, logging_level=logging.WARNING,
                   runtime_env={"env_vars": {"PYTHONPATH": python_path()}})
    if address == LOCAL:
        options.update(include_dashboard=False, object_store_memory=128 * 2**20)  # tasks pass only small records
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None))
                if signum is not None}
    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise RayError(f"No Ray cluster at {address}: {str(exc).rstrip('.')}. Start one (ray start --head), give "
                       "its address (--ray HOST:6379 or ray://HOST:10001), or write --ray alone to start a local "
                       "one.") from None
    for signum, handler in handlers.items():  # Ray's own would end the batch without cancelling its videos
        if handler is not None:
            signal.signal(signum, handler)
    return True


def resources(ray, device: str, cpus: int | None, gpus: float | None) -> tuple[int, float, list[dict]]:
    """CPUs and GPUs per task (defaults: up to 4 CPUs, a GPU when CUDA is used) and the nodes that can run one;
    RayError when none can."""
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    most_cpus = max((node["Resources"].get("CPU", 0) for node in nodes), default=0)
    most_gpus = max((node["Resources"].get("GPU", 0) for node in nodes), default=0)
    cpus = cpus or int(max(1, min(4, most_cpus)))
    if gpus is None:
        gpus = 1.0 if device == "cuda" or (device == "auto" and most_gpus > 0) else 0.0
    if cpus > most_cpus:
        raise RayError(f"No node of the Ray cluster has {cpus} CPUs (the largest has {most_cpus:g}). Give a smaller "
                       "--cpus-per-video.")
    if gpus > most_gpus:
        raise RayError(f"Each video asks for {gpus:g} GPU, but the Ray cluster's nodes have at most {most_gpus:g}. Use "
                       "--device cpu, a smaller --gpus-per-video, or a cluster with GPUs.")
    able = [node for node in nodes if node["Resources"].get("CPU", 0) >= cpus
            and node["Resources"].get("GPU", 0) >= gpus]
    return cpus, gpus, able


def probe(out: str, marker: str, cwd: str, videos: list[str]) -> list[str]:
    """What this node cannot see or run: the batch's files must be on a shared path, and bpy installed."""
    problems = []
    if not os.path.isfile(os.path.join(out, ".batch", marker)):
        problems.append(f"the output folder {out}")
    if not os.path.isdir(cwd):
        problems.append(f"the working folder {cwd}")
    missing = [video for video in videos if not os.path.isfile(video)]
    if missing:
        problems.append(f"{len(missing)} of the videos, such as {missing[0]}")
    if importlib.util.find_spec("bpy") is None:
        problems.append(f"the bpy module (its Python, {sys.executable}, lacks it)")
    return problems


def check_nodes(ray, nodes: list[dict], jobs: list[VideoJob], out: Path) -> None:
    """Run `probe` once on every node that can take a video; RayError naming each node's problems."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    marker = f"probe-{uuid.uuid4().hex}"
    (out / ".batch" / marker).write_text("")
    try:
        task = ray.remote(probe)
        refs = [task.options(num_cpus=0, max_retries=0,
                             scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False))
                .remote(str(out), marker, jobs[0].cwd, [job.video for job in jobs]) for node in nodes]
        problems = []
        for node, ref in zip(nodes, refs, strict=True):
            try:
                missing = ray.get(ref, timeout=120)
            except Exception as exc:  # noqa: BLE001 - any failure of the probe is the node's problem to report
                missing = [f"blender-vibe itself ({type(exc).__name__}: {str(exc).splitlines()[0]})"]
            if missing:
                problems.append(f"node {node['NodeManagerAddress']} lacks {', '.join(missing)}")
    finally:
        (out / ".batch" / marker).unlink()
    if problems:
        project = python_path().split(os.pathsep)[0]
        raise RayError("; ".join(problems) + ". Every Ray node must see the videos, the output folder and the "
                       f"project ({project}) at the same paths (a shared file system), and have blender-vibe's "
                       "Python packages.")


def run_task(job: VideoJob) -> VideoResult:
    """One video inside a Ray task, with as many threads as the task has CPUs. Cancelling the task interrupts it
    here and ends the command."""
    import ray

    signal.signal(signal.SIGINT, signal.default_int_handler)  # how Ray cancels; a nohup'd batch's workers ignore it
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    run = start_video(job, threads=max(1, round(cpus)), publish_progress=True)
    if isinstance(run, VideoResult):
        return run
    try:
        while (result := run.poll()) is None:
            time.sleep(POLL_SECONDS)
        return result
    finally:
        run.cancel()  # nothing once it ended


def run_on_ray(jobs: list[VideoJob], address: str, device: str, cpus: int | None, gpus: float | None,
               display: Display, on_result: Callable[[VideoResult], None]) -> None:
    """Run every job as a Ray task; as `local.run_local`."""
    ray = import_ray()
    started = connect(ray, address)
    try:
        cpus, gpus, nodes = resources(ray, device, cpus, gpus)
        check_nodes(ray, nodes, jobs, Path(jobs[0].out))
        display.note(f"Ray: {len(nodes)} node(s) can take videos, each video with {cpus} CPU(s) and {gpus:g} GPU(s); "
                     "every node sees the videos and the output folder.")
        task = ray.remote(run_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=1)
        pending = {task.remote(job): job for job in jobs}
        try:
            _collect(ray, pending, display, on_result)
        except KeyboardInterrupt:
            _cancel(ray, pending)
            for job in pending.values():
                on_result(VideoResult(name=job.name, video=job.video, result=CANCELLED,
                                      error="Cancelled with the batch."))
            raise
    finally:
        if started:
            ray.shutdown()


def _cancel(ray, pending: dict) -> None:
    """Interrupt the tasks, and wait for those that run to end their commands: a cancelled task's reference is
    ready at once, but Ray would kill its worker mid-cleanup (on shutdown), leaving the backend running."""
    for ref in pending:
        ray.cancel(ref)
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while any(job.work.exists() for job in pending.values()) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)


def _collect(ray, pending: dict, display: Display, on_result: Callable[[VideoResult], None]) -> None:
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_SECONDS)
        for ref in ready:
            job = pending.pop(ref)
            try:
                on_result(ray.get(ref))
            except ray.exceptions.RayError as exc:  # the task's worker or node died
                on_result(failed_result(job, f"The Ray task failed: {str(exc).splitlines()[0]}"))
        running = [(job, read_progress(job)) for job in pending.values()]
        display.update([Running(job.name, p["stage"], p["done"], p["total"], p["eta_seconds"], p["seconds"])
                        for job, p in running if p is not None], sum(p is None for _, p in running))
