"""Import motion from a video: the backend runs as a child process that a modal operator polls on a timer.

`ImportJob` is the whole job without Blender's event loop (start, poll, cancel, import on success), so the modal
operator, scripts (`execute`) and the headless command share it; background mode has no modal timers. One job runs at
a time. Nothing in the scene changes until the backend has succeeded, and the import itself is all or nothing, so a
cancelled or failed run leaves the scene as it was.
"""

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bpy

from backend.data_folder import choose_estimator
from backend.errors import BackendError
from backend.people_summary import SUMMARY_NAME, PersonSummary, read_summary
from smpl_rig.motion import Motion, load_motion

from .footage import place_footage
from .importer import import_motion
from .people_list import remember_result
from .runner import BackendRun, Outcome, StageProgress, backend_command, format_eta

POLL_SECONDS = 0.25
RUNNING, FINISHED, FAILED, CANCELLED = "RUNNING", "FINISHED", "FAILED", "CANCELLED"


class JobError(Exception):
    """A job that cannot start: what is wrong and what to do about it."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(f"{message} {fix}".strip())
        self.message, self.fix = message, fix


@dataclass
class ImportRequest:
    """What to run: the panel's settings, the preferences' interpreter and data folder."""

    video: str
    python: str
    data_dir: str = ""
    estimator: str = "auto"
    device: str = "auto"
    frames: tuple[int, int | None] | None = None  # video frames START:END, END exclusive; None: all
    smooth: float | None = None
    person_ids: list[int] | None = None  # None: everyone
    min_frames: int | None = None  # drop people tracked for fewer frames; None: the backend's default
    rejoin: float | None = None  # seconds within which a returning person keeps their id; None: the backend's
    foot_lock: bool = True  # keep planted feet in place
    work_dir: str = ""  # where the run folder goes; empty: the system's temporary folder

    def check(self) -> None:
        """Raise JobError for input the backend would reject only after a slow start."""
        if not self.video.strip():
            raise JobError("No video chosen.", "Pick a video file in the 'Import motion from video' panel.")
        if not Path(self.video).is_file():
            raise JobError(f"Video not found: {self.video}.", "Check the path, or pick the file again.")
        if not Path(self.python).is_file():
            raise JobError(
                f"The backend is not set up: {self.python} does not exist.",
                "Open Edit > Preferences > Add-ons > blender-vibe and press 'Set up backend', or set 'Backend "
                "Python' to an interpreter that has the backend's requirements.",
            )
        if self.frames is not None and self.frames[1] is not None and self.frames[1] <= self.frames[0]:
            raise JobError(f"The frame range {self.frames[0] + 1}-{self.frames[1]} is empty.",
                           "Make the last frame come after the first one.")
        try:
            choose_estimator(self.data_dir or None, self.estimator)
        except BackendError as exc:
            raise JobError(exc.message, exc.fix) from None


class ImportJob:
    """One run: `poll(context)` returns RUNNING until it ends as FINISHED, FAILED or CANCELLED."""

    def __init__(self, request: ImportRequest) -> None:
        request.check()
        self.request = request
        self.state = RUNNING
        self.message = ""  # the outcome for the person: what was imported, or what went wrong and how to fix it
        self.warning = ""  # a success with a caveat
        self.log = ""
        self.objects: list[bpy.types.Object] = []
        self.motion: Motion | None = None  # the estimated motion, once the backend succeeded
        self.people: list[PersonSummary] = []  # who the backend found (all of them, imported or not)
        self.out_dir = Path(tempfile.mkdtemp(prefix="blender_vibe-", dir=request.work_dir or None))
        # absolute (the backend starts in the run folder) but not resolved: a venv's python is a symlink to keep
        args = backend_command(
            os.path.abspath(request.python), str(Path(request.video).resolve()), str(self.out_dir),
            data_dir=request.data_dir, estimator=request.estimator, device=request.device, frames=request.frames,
            min_frames=request.min_frames, smooth=request.smooth, rejoin=request.rejoin,
            foot_lock=request.foot_lock,
        )
        try:
            self.run = BackendRun(args, self.out_dir)
        except OSError as exc:
            shutil.rmtree(self.out_dir, ignore_errors=True)
            raise JobError(f"Could not start the backend Python {request.python}: {exc.strerror or exc}.",
                           "Press 'Set up backend' in the add-on's preferences, or choose another interpreter.") \
                from None

    @property
    def progress(self) -> StageProgress:
        return self.run.progress

    def status_text(self) -> str:
        """'Detect 120/300, about 40 s left' for the progress bar."""
        p = self.progress
        counts = f" {p.done}/{p.total}" if p.total else ""
        eta = format_eta(p.eta_seconds)
        return f"{p.stage.capitalize()}{counts}{', ' + eta if eta else ''}"

    def poll(self, context: bpy.types.Context) -> str:
        if self.state != RUNNING:
            return self.state
        outcome = self.run.poll()
        if outcome is not None:
            try:
                self._conclude(context, outcome)
            finally:
                if self.state == RUNNING:  # an unexpected error escaped: still end the job, so another can start
                    self._end(FAILED, "The import stopped on an unexpected error; see the system console.")
        return self.state

    def wait(self, context: bpy.types.Context, report=None) -> str:
        """Poll until the job ends (scripts, headless); `report(job)` is called after each poll."""
        while self.poll(context) == RUNNING:
            if report is not None:
                report(self)
            time.sleep(POLL_SECONDS)
        return self.state

    def cancel(self) -> None:
        """End the backend and its children; the run folder goes too, the scene was never touched."""
        if self.state == RUNNING:
            self.run.cancel()
            shutil.rmtree(self.out_dir, ignore_errors=True)
            self._end(CANCELLED, "Import cancelled; the scene is unchanged.")

    def _conclude(self, context: bpy.types.Context, outcome: Outcome) -> None:
        self.log = outcome.log
        if not outcome.ok:
            self._end(FAILED, f"{outcome.error} {outcome.fix}".strip())
            return
        try:
            self.motion = motion = load_motion(outcome.motion)
            self.objects = import_motion(context, motion, self.request.data_dir, self.request.person_ids,
                                         collection_name=f"VIBE {Path(self.request.video).stem}")
        except Exception as exc:  # the importer already removed what it made; report whatever went wrong
            self._end(FAILED, f"The motion was estimated but could not be imported: {exc}.")
            return
        try:
            self.people = read_summary(Path(outcome.motion).parent / SUMMARY_NAME)
            remember_result(context.scene, outcome.motion, str(Path(self.request.video).resolve()), self.people,
                            self.request.person_ids)
        except (OSError, ValueError, KeyError) as exc:
            self.warning = f"The list of the people found could not be read: {exc}."
        imported = ", ".join(str(obj.get("vibe_track_id", obj.name)) for obj in self.objects)
        found = ", ".join(str(i) for i in sorted(motion.people))
        message = (f"Imported {len(self.objects)} of {len(motion.people)} people (track ids {imported}; "
                   f"the video has {found}), estimated with {motion.estimator}.")
        if motion.world is not None:
            message += f" {motion.world_note}"
        else:  # no floor: the people stand in the camera frame, as the note explains
            self.warning = f"{self.warning} {motion.world_note}".strip()
        try:
            place_footage(context, str(Path(self.request.video).resolve()), motion.width, motion.height,
                          self.objects[0].users_collection[0], motion.world)
        except RuntimeError as exc:
            self.warning = f"{self.warning} The video could not be put behind the camera: {exc}.".strip()
        self._end(FINISHED, message)

    def _end(self, state: str, message: str) -> None:
        global _active, _last
        self.state, self.message = state, message
        if _active is self:
            _active, _last = None, self


_active: ImportJob | None = None
_last: ImportJob | None = None


def active_job() -> ImportJob | None:
    """The running import, if any."""
    return _active


def last_job() -> ImportJob | None:
    """The import that ended most recently, to show its outcome in the panel."""
    return _last


def start_job(request: ImportRequest) -> ImportJob:
    """Start an import; a second one while the first runs is refused with JobError."""
    global _active
    if _active is not None:
        raise JobError("An import is already running.", "Wait for it to finish, or cancel it, then import again.")
    _active = ImportJob(request)
    return _active


def _redraw_sidebars(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _report_end(operator: bpy.types.Operator, job: ImportJob) -> set[str]:
    if job.state == FINISHED:
        operator.report({"INFO"}, job.message)
        if job.warning:
            operator.report({"WARNING"}, job.warning)
        return {"FINISHED"}
    log = f" Log: {job.log}" if job.log and job.state == FAILED else ""
    operator.report({"ERROR"} if job.state == FAILED else {"INFO"}, job.message + log)
    return {"CANCELLED"}


class VIBE_OT_import_video(bpy.types.Operator):
    """Estimate the motion of the people in the video and import them as animated armatures. Blender stays usable \
meanwhile; press Esc to cancel"""

    bl_idname = "vibe.import_video"
    bl_label = "Import motion from video"
    # UNDO: one undo step for the import. Not REGISTER: redo or repeat would rerun the whole backend, blocking.
    bl_options = {"UNDO"}

    _job: ImportJob | None = None
    _timer = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _active is not None:
            cls.poll_message_set("An import is already running: wait for it to finish, or cancel it")
            return False
        if not hasattr(context.scene, "vibe_video"):
            cls.poll_message_set("The add-on's settings are missing: re-enable blender-vibe")
            return False
        return True

    def _start(self, context: bpy.types.Context) -> bool:
        try:
            self._job = start_job(context.scene.vibe_video.request(context))
        except JobError as exc:
            self.report({"ERROR"}, str(exc))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Scripts: run to the end, blocking (the panel's button uses `invoke`, which does not block)."""
        if not self._start(context):
            return {"CANCELLED"}
        try:
            self._job.wait(context)
        except KeyboardInterrupt:
            self._job.cancel()
        return _report_end(self, self._job)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        _redraw_sidebars(context)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        state = self._job.poll(context)
        _redraw_sidebars(context)
        if state == RUNNING:
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        return _report_end(self, self._job)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the operator (a file is loaded, Blender quits): end the backend with it."""
        if self._job is not None:
            self._job.cancel()
        self._remove_timer(context)

    def _remove_timer(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None


class VIBE_OT_cancel_import(bpy.types.Operator):
    """Stop the running import; the scene stays as it was"""

    bl_idname = "vibe.cancel_import"
    bl_label = "Cancel import"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _active is None:
            cls.poll_message_set("No import is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        _active.cancel()
        _redraw_sidebars(context)
        return {"FINISHED"}


classes = (VIBE_OT_import_video, VIBE_OT_cancel_import)


register, _unregister_classes = bpy.utils.register_classes_factory(classes)


def unregister() -> None:
    global _last
    if _active is not None:
        _active.cancel()
    _last = None
    _unregister_classes()
