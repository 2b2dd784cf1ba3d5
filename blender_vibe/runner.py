"""Run the backend (or any helper command) as a child process without ever blocking Blender.

Pure Python, no bpy: the modal operator, the preferences' setup button and the headless command all poll these
objects. A child runs in its own session (process group on Windows) so that cancelling ends it and everything it
started; its output is read by a thread, so `poll()` only drains what has already arrived.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_EOF = None
TAIL_LINES = 20


ADDON_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BackendCode:
    """Where a child interpreter finds the backend: the folder for its PYTHONPATH, the module `-m` runs, and the
    pinned requirements its environment needs."""

    pythonpath: Path
    module: str
    requirements: Path


def backend_code() -> BackendCode:
    """The add-on's own package `_bundled` when built (build_addon.py: its imports are relative, so it runs as
    `_bundled.backend` from the add-on folder), else the repository's `backend/`."""
    bundled = ADDON_DIR / "_bundled"
    if (bundled / "__init__.py").is_file():
        return BackendCode(ADDON_DIR, "_bundled.backend", bundled / "requirements.txt")
    return BackendCode(ADDON_DIR.parent, "backend", ADDON_DIR.parent / "requirements.txt")


def child_environment(pythonpath: Path) -> dict[str, str]:
    """Blender's environment minus its Python settings, so the child interpreter sees only its own packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")}
    env.update(PYTHONPATH=str(pythonpath), PYTHONUNBUFFERED="1", PYTHONNOUSERSITE="1", PYTHONIOENCODING="utf-8")
    return env


class LineProcess:
    """A child process whose merged stdout/stderr lines are copied to a log file and handed out by `poll()`."""

    def __init__(self, args: Sequence[str], log_path: str | Path, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None) -> None:
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._closed = False
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            cwd=cwd, **_new_group_options(),
        )
        self._reader = threading.Thread(target=self._read, name="blender-vibe-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with open(self.log_path, "a", encoding="utf-8") as log:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                log.write(line + "\n")
                log.flush()
                self._lines.put(line)
        self.proc.stdout.close()
        self._lines.put(_EOF)

    def read_lines(self) -> list[str]:
        """Every complete line that arrived since the last call; never waits."""
        lines = []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return lines
            if line is _EOF:
                return lines
            self.tail.append(line)
            lines.append(line)

    def poll(self) -> tuple[list[str], bool]:
        """New lines, and whether the child has ended; then whatever it left running is ended too and its output
        read to the end (a leftover grandchild holding the pipe open would otherwise hide the end)."""
        exited = self.proc.poll() is not None
        lines = self.read_lines()
        if not exited:
            return lines, False
        self.kill_group(grace=0.5)
        return lines + self.read_lines(), True

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def kill_group(self, grace: float = 3.0) -> None:
        """End the child and every process it started: terminate, wait up to `grace` seconds, then kill."""
        if self._closed:
            return
        _signal_group(self.proc, terminate=True)
        deadline = time.monotonic() + grace
        while _group_alive(self.proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(self.proc):
            _signal_group(self.proc, terminate=False)
        self.proc.wait()
        self._reader.join(timeout=grace)
        self._closed = True


def _new_group_options() -> dict:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _signal_group(proc: subprocess.Popen, terminate: bool) -> None:
    if sys.platform == "win32":
        # taskkill /T walks the child tree; /F is needed for processes without a console window.
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True, check=False)
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM if terminate else signal.SIGKILL)
    except ProcessLookupError:
        pass


def _group_alive(proc: subprocess.Popen) -> bool:
    """Whether any process of the child's group is still running (the reaped leader no longer counts)."""
    if proc.poll() is None:
        return True
    if sys.platform == "win32":
        return False
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _group_has_live_member(proc.pid)


def _group_has_live_member(pgid: int) -> bool:
    """Orphaned zombies stay in the group until their new parent reaps them: they are not running any more."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return True
    for stat in proc_dir.glob("[0-9]*/stat"):
        try:
            fields_after_name = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields_after_name) > 3 and int(fields_after_name[3]) == pgid and fields_after_name[0] != "Z":
            return True
    return False


# --- the backend's JSON-lines protocol -----------------------------------------------------------------------------

@dataclass
class StageProgress:
    """The latest `{"stage", "done", "total"}` line, with the estimated seconds left in that stage."""

    stage: str = "starting"
    done: int = 0
    total: int = 0
    eta_seconds: float | None = None
    info: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total > 0 else 0.0


@dataclass
class Outcome:
    """How a backend run ended: `ok` with the motion file, or an error with a fix and the log to look at."""

    ok: bool
    motion: str = ""
    people: list[int] = field(default_factory=list)
    error: str = ""
    fix: str = ""
    log: str = ""
    info: dict = field(default_factory=dict)


class EtaClock:
    """Seconds left in a stage from its rate so far: elapsed since the stage's first line / items done since."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._stage: str | None = None
        self._t0 = 0.0
        self._done0 = 0

    def update(self, stage: str, done: int, total: int) -> float | None:
        now = self.clock()
        if stage != self._stage or done < self._done0:
            self._stage, self._t0, self._done0 = stage, now, done
            return None
        progressed = done - self._done0
        if progressed <= 0 or total <= 0 or done >= total:  # no rate yet, or nothing left
            return None
        return (now - self._t0) / progressed * (total - done)


def backend_command(python: str, video: str, out_dir: str, *, data_dir: str = "", estimator: str = "auto",
                    device: str = "auto", frames: tuple[int, int | None] | None = None, min_frames: int | None = None,
                    smooth: float | None = None, rejoin: float | None = None,
                    foot_lock: bool | None = None) -> list[str]:
    """The `python -m backend ...` command line (the module as `backend_code()` names it); options left at
    None/empty use the backend's defaults."""
    args = [python, "-m", backend_code().module, video, "--out", out_dir, "--estimator", estimator, "--device", device]
    if data_dir:
        args += ["--data-dir", data_dir]
    if frames is not None:
        start, end = frames
        args += ["--frames", f"{start}:{'' if end is None else end}"]
    if min_frames is not None:
        args += ["--min-frames", str(min_frames)]
    if smooth is not None:
        args += ["--smooth", repr(float(smooth))]
    if rejoin is not None:
        args += ["--rejoin", repr(float(rejoin))]
    if foot_lock is not None:
        args.append("--foot-lock" if foot_lock else "--no-foot-lock")
    return args


class BackendRun:
    """One `python -m backend` child: `poll()` gives None while it runs, then its Outcome (kept in `.outcome`)."""

    def __init__(self, args: Sequence[str], out_dir: str | Path, pythonpath: Path | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out_dir = Path(out_dir)
        self.console_log = self.out_dir / "backend-console.log"
        self.progress = StageProgress()
        self.outcome: Outcome | None = None
        self._eta = EtaClock(clock)
        self._final: dict | None = None
        env = child_environment(pythonpath or backend_code().pythonpath)
        self._process = LineProcess(args, self.console_log, env=env, cwd=self.out_dir)

    @property
    def running(self) -> bool:
        return self.outcome is None

    @property
    def pid(self) -> int:
        """The backend's process id, also its process group's (its children share the group)."""
        return self._process.proc.pid

    def poll(self) -> Outcome | None:
        if self.outcome is not None:
            return self.outcome
        lines, ended = self._process.poll()
        for line in lines:
            self._handle(line)
        if ended:
            self.outcome = self._conclude(self._process.returncode)
        return self.outcome

    def cancel(self) -> Outcome:
        """End the backend and all its children; the run's outcome becomes a 'cancelled' error."""
        if self.outcome is None:
            self._process.kill_group()
            self.outcome = Outcome(ok=False, error="Cancelled.", log=str(self.console_log))
        return self.outcome

    def _handle(self, line: str) -> None:
        message = _parse_json_line(line)
        if message is None:
            return
        if "result" in message or "error" in message:
            self._final = message
        elif "stage" in message:
            try:
                done, total = int(message.get("done", 0)), int(message.get("total", 0))
            except (TypeError, ValueError):
                return  # a malformed progress line is only a missed update
            info = {k: v for k, v in message.items() if k not in ("stage", "done", "total")}
            self.progress = StageProgress(stage=str(message["stage"]), done=done, total=total,
                                          eta_seconds=self._eta.update(str(message["stage"]), done, total),
                                          info=info or self.progress.info)

    def _conclude(self, returncode: int) -> Outcome:
        final = self._final or {}
        log = str(final.get("log") or self.console_log)
        info = {k: v for k, v in final.items() if k not in ("result", "motion", "people", "error", "fix", "log")}
        if final.get("result") == "ok" and returncode == 0:
            return Outcome(ok=True, motion=str(final.get("motion", "")),
                           people=[int(p) for p in final.get("people", [])], log=log, info=info)
        if "error" in final:
            return Outcome(ok=False, error=str(final["error"]), fix=str(final.get("fix", "")), log=log, info=info)
        last = next((line for line in reversed(self._process.tail) if line.strip()), "")
        backend_log = self.out_dir / "backend.log"  # once started, the backend sends what its libraries say there
        return Outcome(
            ok=False, error=f"The backend stopped without a result (exit code {returncode}). {last}".strip(),
            fix="Check that the backend's Python has its requirements installed (Preferences > Add-ons > "
                "blender-vibe > Set up backend), then look at the log.",
            log=str(backend_log if backend_log.is_file() else self.console_log),
        )


def _parse_json_line(line: str) -> dict | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def format_eta(seconds: float | None) -> str:
    """'about 40 s left', 'about 3 min left', or '' while unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {max(round(seconds), 1)} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"
