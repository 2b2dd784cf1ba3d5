"""One video of a batch: the headless command in a child process, its outputs made atomic, its result recorded.

Layout of the batch's output folder OUT:

    OUT/NAME/               a finished video: its outputs, `result.json`, `console.log` (only ever complete: it is
                            the staging folder's `out/`, renamed when everything in it was written)
    OUT/.batch/work/NAME/   staging while the video runs: `out/` (the outputs), `tmp/` (the command's TMPDIR: the
                            backend's run folder), `console.log`, `progress.json` (Ray tasks)
    OUT/.batch/failed/NAME/ the console log and backend run folder of the last failed attempt
    OUT/report.json         the batch's report (report.py)

A video is finished when OUT/NAME/result.json records the same video file (path, size, modification time) and the
same options, and every output it lists is there; anything else is (re)done. The staging folder of a batch that was
killed is removed when the next batch starts.
"""

import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..runner import EtaClock, LineProcess, StageProgress
from .child import PARENT_VARIABLE

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "OPENCV_FOR_THREADS_NUM")  # torch, numpy, OpenCV
RESULT_FILE = "result.json"
CONSOLE_LOG = "console.log"
PROGRESS_FILE = "progress.json"
INTERRUPT_GRACE_SECONDS = 10.0  # for the headless command to end its backend after Ctrl-C
PROGRESS_EVERY_SECONDS = 1.0
OK, FAILED, SKIPPED, CANCELLED = "ok", "failed", "skipped", "cancelled"


def work_root(out: Path) -> Path:
    return out / ".batch" / "work"


def failed_root(out: Path) -> Path:
    return out / ".batch" / "failed"


@dataclass
class VideoJob:
    """What one video needs, also on another machine (Ray): every path absolute or relative to `cwd`."""

    video: str
    name: str
    out: str  # the batch's output folder
    args: list[str]  # the headless command's options, outputs inside the staging folder's out/
    outputs: list[str]  # the output files, relative to the video's folder
    options: list[str]  # the options as given, canonical (VideoOptions.record)
    cwd: str  # the batch's working folder: relative paths in the options are relative to it
    timeout: float = 0.0  # seconds without any output after which the video counts as hung; 0: never

    @property
    def folder(self) -> Path:
        return Path(self.out) / self.name

    @property
    def work(self) -> Path:
        return work_root(Path(self.out)) / self.name

    @property
    def failed(self) -> Path:
        return failed_root(Path(self.out)) / self.name


@dataclass
class VideoResult:
    """How one video ended; the row of the summary table and of report.json."""

    name: str
    video: str
    result: str  # ok, failed, skipped (finished by an earlier batch), cancelled
    error: str = ""
    log: str = ""  # the console log of a failed video
    folder: str = ""  # where the outputs are (ok, skipped)
    outputs: list[str] = field(default_factory=list)
    people: list[int] = field(default_factory=list)
    frames: int | None = None  # video frames where any imported person was tracked
    seconds: float | None = None


class PreviousResultError(ValueError):
    """The video's output folder holds something this batch must not replace."""


def source_record(video: str) -> dict:
    stat = os.stat(video)
    return {"video": video, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def previous_result(job: VideoJob) -> VideoResult | None:
    """The result of an earlier batch when the video is finished with these options, None when it must be
    (re)done; PreviousResultError when its folder holds something else (another video's results, other files)."""
    if not job.folder.exists():
        return None
    try:
        record = json.loads((job.folder / RESULT_FILE).read_text())
    except (OSError, ValueError):
        raise PreviousResultError(f"{job.folder} exists but holds no batch result. Move it away, or choose another "
                                  "--out.") from None
    if record.get("video") != job.video:
        raise PreviousResultError(f"{job.folder} holds the results of {record.get('video')}, not of {job.video}. "
                                  "Choose another --out, or rename one of the videos.")
    if any(record.get(key) != value for key, value in source_record(job.video).items()):
        return None  # the video changed since
    if record.get("options") != job.options or not all((job.folder / f).is_file() for f in job.outputs):
        return None
    return VideoResult(name=job.name, video=job.video, result=SKIPPED, folder=str(job.folder),
                       outputs=record.get("outputs", []), people=record.get("people", []),
                       frames=record.get("frames"), seconds=record.get("seconds"))


def python_path() -> str:
    """PYTHONPATH for a child that imports blender_vibe: the folder holding it, then what this process had."""
    return os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")) if p)


def thread_environment(threads: int) -> dict[str, str]:
    """Environment variables that give torch, numpy's BLAS and OpenCV `threads` threads each."""
    return {name: str(max(1, threads)) for name in THREAD_VARIABLES}


class VideoRun:
    """The headless command on one video: `poll()` gives None while it runs, then its VideoResult."""

    def __init__(self, job: VideoJob, threads: int, publish_progress: bool = False) -> None:
        self.job = job
        self.progress = StageProgress()
        self.result: VideoResult | None = None
        self._eta = EtaClock()
        self._figures: dict = {}
        self._publish = publish_progress
        self._published = 0.0
        self._started = self._last_output = time.monotonic()
        shutil.rmtree(job.work, ignore_errors=True)
        (job.work / "out").mkdir(parents=True)
        (job.work / "tmp").mkdir()
        env = {**os.environ, **thread_environment(threads), "TMPDIR": str(job.work / "tmp"),
               "PYTHONPATH": python_path(), PARENT_VARIABLE: str(os.getpid()), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "blender_vibe.batch.child", job.video, *job.args, "--progress", "json"]
        self._process = LineProcess(command, job.work / CONSOLE_LOG, env=env, cwd=job.cwd)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def poll(self) -> VideoResult | None:
        if self.result is None:
            try:
                self.result = self._step()
            except OSError as exc:  # the output folder (full, not writable) or the video (deleted) failed us
                self._process.kill_group(grace=0.5)
                self.result = failed_result(self.job, f"Could not keep the results: {exc}.", self.seconds)
        return self.result

    def _step(self) -> VideoResult | None:
        lines, ended = self._process.poll()
        if lines:
            self._last_output = time.monotonic()
        for line in lines:
            self._handle(line)
        if ended:
            return self._conclude(self._process.returncode)
        if self.job.timeout and time.monotonic() - self._last_output > self.job.timeout:
            self._stop()
            return self._fail(f"Ended after {self.job.timeout:g} s without any progress (hung). If the video only "
                              "needs longer, give a larger --timeout.")
        if self._publish:
            self._publish_progress()
        return None

    def cancel(self) -> VideoResult:
        """End the command and its backend; the staging folder goes, nothing else changes."""
        if self.result is None:
            self._stop()
            end_processes_using(self.job.work)
            shutil.rmtree(self.job.work, ignore_errors=True)
            self.result = VideoResult(name=self.job.name, video=self.job.video, result=CANCELLED,
                                      error="Cancelled with the batch.", seconds=round(self.seconds, 1))
        return self.result

    def _handle(self, line: str) -> None:
        text = line.strip()
        if not text.startswith("{"):
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("result") == "ok":
            self._figures = message
        elif "stage" in message:
            try:
                stage, done, total = str(message["stage"]), int(message.get("done", 0)), int(message.get("total", 0))
            except (TypeError, ValueError):
                return  # a malformed line is only a missed update
            self.progress = StageProgress(stage, done, total, eta_seconds=self._eta.update(stage, done, total))

    def _publish_progress(self) -> None:
        """Write the progress where the batch's driver reads it (a Ray task runs on another process or machine)."""
        now = time.monotonic()
        if now - self._published < PROGRESS_EVERY_SECONDS:
            return
        self._published = now
        status = {**asdict(self.progress), "seconds": self.seconds}
        write_json(self.job.work / PROGRESS_FILE, status)

    def _stop(self) -> None:
        """Interrupt the command as Ctrl-C does (it then ends its backend), and kill it if it does not end."""
        if sys.platform != "win32":
            try:
                os.killpg(self._process.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
            while self._process.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        self._process.kill_group(grace=1.0)

    def _conclude(self, returncode: int) -> VideoResult:
        missing = [f for f in self.job.outputs if not (self.job.work / "out" / f).is_file()]
        if returncode == 0 and self._figures and not missing:
            return self._finish()
        if returncode == 0:
            return self._fail(f"The command ended without writing {', '.join(missing) or 'its result'}.")
        return self._fail(self._error_text(returncode))

    def _error_text(self, returncode: int) -> str:
        """The command's `error: ...` line, else how it ended and its last line (a crash, a traceback)."""
        lines = [line.strip() for line in self._process.tail if line.strip() and not line.startswith("{")]
        errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        if errors:
            return errors[-1]
        how = f"crashed ({signal.Signals(-returncode).name})" if returncode < 0 else f"stopped (exit code {returncode})"
        return f"The command {how}. {lines[-1] if lines else ''}".strip()

    def _finish(self) -> VideoResult:
        """Record the result in the staging folder's out/, then rename it to the video's folder (replacing the
        results of an earlier batch that are out of date)."""
        job, out = self.job, self.job.work / "out"
        result = VideoResult(name=job.name, video=job.video, result=OK, folder=str(job.folder), outputs=job.outputs,
                             people=[int(p) for p in self._figures.get("people", [])],
                             frames=self._figures.get("frames"), seconds=round(self.seconds, 1))
        write_json(out / RESULT_FILE, {**source_record(job.video), "options": job.options,
                                        **{k: v for k, v in asdict(result).items() if k not in ("video", "result")}})
        self._process.kill_group(grace=0.5)  # done: closes the log
        shutil.copyfile(job.work / CONSOLE_LOG, out / CONSOLE_LOG)
        job.folder.parent.mkdir(parents=True, exist_ok=True)
        if job.folder.exists():
            job.folder.rename(job.work / "replaced")
        out.rename(job.folder)
        shutil.rmtree(job.work, ignore_errors=True)
        shutil.rmtree(job.failed, ignore_errors=True)
        return result

    def _fail(self, error: str) -> VideoResult:
        """Keep the logs of the attempt in OUT/.batch/failed/NAME (partial outputs are deleted)."""
        job = self.job
        self._process.kill_group(grace=0.5)
        end_processes_using(job.work)  # a command that crashed leaves its backend running
        shutil.rmtree(job.work / "out", ignore_errors=True)
        (job.work / PROGRESS_FILE).unlink(missing_ok=True)
        shutil.rmtree(job.failed, ignore_errors=True)
        job.failed.parent.mkdir(parents=True, exist_ok=True)
        job.work.rename(job.failed)
        return failed_result(job, error, self.seconds, log=job.failed / CONSOLE_LOG)


def failed_result(job: VideoJob, error: str, seconds: float = 0.0, log: Path | None = None) -> VideoResult:
    return VideoResult(name=job.name, video=job.video, result=FAILED, error=error, log=str(log or ""),
                       seconds=round(seconds, 1))


def start_video(job: VideoJob, threads: int, publish_progress: bool = False) -> VideoRun | VideoResult:
    """The running video, or its failed result when it cannot even start (no disk space, no interpreter)."""
    try:
        return VideoRun(job, threads, publish_progress)
    except OSError as exc:
        return failed_result(job, f"Could not start the video's command: {exc}.")


def processes_using(folder: Path) -> list[int]:
    """Running processes whose command line names a path inside `folder` (Linux's /proc; elsewhere none)."""
    needle = (str(folder) + os.sep).encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes() and int(cmdline.parent.name) != os.getpid():
                found.append(int(cmdline.parent.name))
        except OSError:  # it ended meanwhile
            continue
    return found


def end_processes_using(folder: Path) -> None:
    """Kill what still runs for a video's staging folder: the backend of a command that crashed or was killed."""
    for pid in processes_using(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def read_progress(job: VideoJob) -> dict | None:
    """The progress a Ray task published, or None before it started."""
    try:
        return json.loads((job.work / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> Path:
    """Write under a temporary name, then rename: readers never see half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)
    return path
