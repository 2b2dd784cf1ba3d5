"""'Set up backend': a virtual environment with the backend's pinned requirements, built by background processes.

`SetupJob` (no bpy in its logic) runs the steps one after the other and is polled like a backend run; the operators
poll it from a Blender timer so the preferences show its progress and, on failure, the end of its log.
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import bpy

from .runner import BackendCode, LineProcess, backend_code, child_environment

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
POLL_SECONDS = 0.5


def venv_python(venv_dir: str | Path) -> Path:
    """The interpreter inside a virtual environment."""
    venv_dir = Path(venv_dir)
    return venv_dir / "Scripts" / "python.exe" if sys.platform == "win32" else venv_dir / "bin" / "python"


def user_data_dir() -> Path:
    """The add-on's own writable folder: the extension user folder, or a DATAFILES folder for the legacy add-on."""
    if __package__.startswith("bl_ext."):
        return Path(bpy.utils.extension_path_user(__package__, create=True))
    return Path(bpy.utils.user_resource("DATAFILES", path="blender_vibe", create=True))


def default_venv_dir() -> Path:
    return user_data_dir() / "backend-venv"


def requirements_file() -> Path:
    return backend_code().requirements


def requirement_names(requirements: str | Path) -> list[str]:
    """Normalised project names listed in a requirements file (options, includes and comments skipped)."""
    names = []
    for line in Path(requirements).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(_normalise(re.split(r"[\s<>=!~;\[@]", line, maxsplit=1)[0]))
    return names


def pip_requirement(line: str) -> str | None:
    """The normalised project a pip output line starts on: 'Collecting torch==2.13.0', 'Requirement already
    satisfied: numpy==1.26.4 in ...', or a local file 'Processing ./tiny_pkg-1.0-py3-none-any.whl'."""
    match = re.match(r"(?:Collecting|Processing|Requirement already satisfied:)\s+(\S+)", line.strip())
    if match is None:
        return None
    token = match.group(1)
    if "/" in token or token.endswith((".whl", ".tar.gz", ".zip")):
        return _normalise(Path(token).name.split("-")[0])  # a package file: name-version-...
    return _normalise(re.split(r"[<>=!~;\[(]", token, maxsplit=1)[0])


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class SetupStep:
    title: str
    args: list[str]
    weight: float  # share of the whole job, for the progress bar


class SetupJob:
    """Create `venv_dir`, pip-install `requirements` into it, install the person detector's model, then check that
    `python -m backend --help` starts."""

    def __init__(self, venv_dir: str | Path, requirements: str | Path, base_python: str = sys.executable,
                 pip_args: tuple[str, ...] = (), code: BackendCode | None = None) -> None:
        self.venv_dir = Path(venv_dir)
        self.log_path = self.venv_dir.parent / f"{self.venv_dir.name}-setup.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("", encoding="utf-8")
        self.code = code or backend_code()
        self.env = child_environment(self.code.pythonpath)
        self._wanted = requirement_names(requirements)
        self._collected: set[str] = set()
        python = str(venv_python(self.venv_dir))
        self.steps = [
            SetupStep("Creating the Python environment", [base_python, "-m", "venv", str(self.venv_dir)], 0.1),
            SetupStep("Installing packages (a large download, it can take a while)",
                      [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", str(requirements),
                       *pip_args], 0.8),
            SetupStep("Installing the person detector's model (MoveNet, 9 MB)",
                      [python, "-m", f"{self.code.module}.detector_model", "install"], 0.05),
            SetupStep("Checking that the backend starts", [python, "-m", self.code.module, "--help"], 0.05),
        ]
        self.step_index = 0
        self.detail = ""
        self.error = ""
        self.succeeded: bool | None = None
        self._step_fraction = 0.0
        self._process = self._start_step()

    @property
    def title(self) -> str:
        return self.steps[min(self.step_index, len(self.steps) - 1)].title

    @property
    def tail(self) -> list[str]:
        """The last lines the current (or failed) step printed."""
        return list(self._process.tail)

    @property
    def fraction(self) -> float:
        done = sum(s.weight for s in self.steps[: self.step_index])
        if self.step_index < len(self.steps):
            done += self.steps[self.step_index].weight * self._step_fraction
        return min(done, 1.0)

    def poll(self) -> bool | None:
        """None while running; then True (success) or False (see `error` and `log_path`)."""
        if self.succeeded is not None:
            return self.succeeded
        lines, ended = self._process.poll()
        for line in lines:
            self._note(line)
        if not ended:
            return None
        if self._process.returncode != 0:
            step = self.steps[self.step_index]
            last = next((x for x in reversed(self._process.tail) if x.strip()), "")
            return self._end(False, f"{step.title} failed (exit code {self._process.returncode}). {last}".strip())
        self.step_index += 1
        self._step_fraction = 0.0
        if self.step_index == len(self.steps):
            return self._end(True, "")
        try:
            self._process = self._start_step()
        except OSError as exc:  # else the timer would stop on a traceback and the setup stay "running" for good
            return self._end(False, f"{self.title} could not start: {exc.strerror or exc}.")
        return None

    def cancel(self) -> None:
        if self.succeeded is None:
            self._process.kill_group()
            self._end(False, "Setup cancelled.")

    def _start_step(self) -> LineProcess:
        step = self.steps[self.step_index]
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(step.args)}\n")
        # `python -m` looks in the working folder first: make it the one holding the backend, not Blender's.
        return LineProcess(step.args, self.log_path, env=self.env, cwd=self.code.pythonpath)

    def _note(self, line: str) -> None:
        """Follow pip: each requirement it starts collecting moves the bar; the line itself becomes the detail."""
        text = line.strip()
        name = pip_requirement(text)
        if name is not None:
            self._collected.add(name)
            wanted = [n for n in self._wanted if n in self._collected]
            self._step_fraction = 0.9 * len(wanted) / max(len(self._wanted), 1)
        elif text.startswith("Installing collected packages"):
            self._step_fraction = 0.95
        if text and not text.startswith("$"):
            self.detail = text[:120]

    def _end(self, ok: bool, error: str) -> bool:
        self.succeeded, self.error = ok, error
        if ok:
            self.detail = ""
        return ok


_job: SetupJob | None = None


def _poll_timer() -> float | None:
    """bpy.app.timers callback: poll the setup and redraw the preferences until it ends."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()
    return None if _job is None or _job.poll() is not None else POLL_SECONDS


class VIBE_OT_setup_backend(bpy.types.Operator):
    """Create the backend's Python environment in the add-on's folder and install its packages (several GB)"""

    bl_idname = "vibe.setup_backend"
    bl_label = "Set up backend"

    torch_build: bpy.props.EnumProperty(
        name="PyTorch build",
        items=(
            ("CPU", "CPU only", "Smaller download; works on every computer"),
            ("CUDA", "NVIDIA GPU (CUDA)", "Much faster with an NVIDIA graphics card; a larger download"),
        ),
        default="CPU",
    )

    @classmethod
    def poll(cls, context) -> bool:
        if _job is not None and _job.succeeded is None:
            cls.poll_message_set("The backend is being set up already")
            return False
        return True

    def execute(self, context) -> set[str]:
        global _job
        pip_args = ("--extra-index-url", TORCH_CPU_INDEX) if self.torch_build == "CPU" else ()
        try:
            _job = SetupJob(default_venv_dir(), requirements_file(), pip_args=pip_args)
        except OSError as exc:
            self.report({"ERROR"}, f"Could not start the setup: {exc}")
            return {"CANCELLED"}
        bpy.app.timers.register(_poll_timer, first_interval=POLL_SECONDS)
        self.report({"INFO"}, f"Setting up the backend in {_job.venv_dir}")
        return {"FINISHED"}


class VIBE_OT_cancel_setup(bpy.types.Operator):
    """Stop setting up the backend"""

    bl_idname = "vibe.cancel_setup"
    bl_label = "Cancel setup"

    @classmethod
    def poll(cls, context) -> bool:
        return _job is not None and _job.succeeded is None

    def execute(self, context) -> set[str]:
        _job.cancel()
        return {"FINISHED"}


def draw_setup(layout: bpy.types.UILayout) -> None:
    """The setup button, or the running setup's progress, or how the last one ended."""
    job = _job
    if job is not None and job.succeeded is None:
        row = layout.row(align=True)
        row.progress(factor=job.fraction, type="BAR", text=job.title)
        row.operator(VIBE_OT_cancel_setup.bl_idname, text="", icon="CANCEL")
        if job.detail:
            layout.label(text=job.detail)
        return
    if job is not None and job.succeeded is False:
        box = layout.box()
        box.label(text=job.error, icon="ERROR")
        for line in job.tail:
            box.label(text=line[:150])
        box.label(text=f"Full log: {job.log_path}")
    elif job is not None:
        layout.label(text="Backend ready.", icon="CHECKMARK")


classes = (VIBE_OT_setup_backend, VIBE_OT_cancel_setup)


register, _unregister_classes = bpy.utils.register_classes_factory(classes)


def unregister() -> None:
    global _job
    if _job is not None and _job.succeeded is None:
        _job.cancel()
    _job = None
    if bpy.app.timers.is_registered(_poll_timer):
        bpy.app.timers.unregister(_poll_timer)
    _unregister_classes()
