"""The 3D viewport sidebar tab: what an animator sets before importing motion from a video, and the run's progress."""

import bpy

from backend.data_folder import choose_estimator
from backend.errors import BackendError

from .import_op import parse_person_ids
from .job_op import (
    FAILED,
    FINISHED,
    ImportRequest,
    JobError,
    VIBE_OT_cancel_import,
    VIBE_OT_import_video,
    active_job,
    last_job,
)
from .preferences import backend_python, data_dir_preference, draw_wrapped
from .sidebar import MAIN_PANEL, SidebarPanel


class VibeVideoSettings(bpy.types.PropertyGroup):
    """The panel's settings, saved with the scene."""

    video: bpy.props.StringProperty(
        name="Video", subtype="FILE_PATH",
        description="The footage to take the motion from (mp4, mov, avi, ...). Works best with the whole body in view",
    )
    estimator: bpy.props.EnumProperty(
        name="Estimator",
        items=(
            ("AUTO", "Automatic", "The best one your data folder allows: TCMR or VIBE when their files are there, "
                                  "otherwise the built-in one"),
            ("VIBE", "VIBE", "VIBE (CVPR 2020): needs its files in the data folder (see the add-on's preferences)"),
            ("TCMR", "TCMR", "TCMR: steadier motion than VIBE; needs its files in the data folder"),
            ("DEFAULT", "Built-in", "Needs no downloads; fine for blocking out motion, less precise"),
        ),
        default="AUTO",
    )
    people: bpy.props.EnumProperty(
        name="People",
        items=(
            ("ALL", "Everyone", "Import every person seen long enough in the video"),
            ("CHOSEN", "Chosen", "Import only the people whose track ids you list"),
        ),
        default="ALL",
    )
    person_ids: bpy.props.StringProperty(
        name="Track ids",
        description="Track ids of the people to import, separated by commas (for example 1, 3). A previous import "
                    "shows the ids it found",
    )
    use_frame_range: bpy.props.BoolProperty(
        name="Only part of the video", description="Process only the frames from First to Last (faster)",
    )
    frame_first: bpy.props.IntProperty(
        name="First", min=1, default=1, description="First video frame to process (the video starts at frame 1)",
    )
    frame_last: bpy.props.IntProperty(
        name="Last", min=1, default=250, description="Last video frame to process",
    )
    min_frames: bpy.props.IntProperty(
        name="Shortest track", min=1, default=25,
        description="People seen for fewer frames than this are skipped (brief passers-by, false detections); "
                    "lower it for very short clips",
    )
    rejoin: bpy.props.FloatProperty(
        name="Rejoin within", min=0.0, soft_max=30.0, default=10.0, step=100, unit="TIME_ABSOLUTE",
        description="A person who leaves the picture (or stays hidden) and comes back within this time keeps their "
                    "track id when their clothes clearly match; 0 gives everyone who comes back a new id",
    )
    smoothing: bpy.props.FloatProperty(
        name="Smoothing", min=0.0, soft_max=5.0, default=1.5, step=10,
        description="Calms jitter: 0 keeps every wobble, higher values give smoother but less snappy motion",
    )
    foot_lock: bpy.props.BoolProperty(
        name="Lock feet", default=True,
        description="Keep a planted foot in place while it touches the floor (no sliding); needs the feet in view "
                    "so the floor can be found",
    )
    device: bpy.props.EnumProperty(
        name="Device",
        items=(
            ("AUTO", "Automatic", "The NVIDIA graphics card when there is one, otherwise the processor"),
            ("CPU", "Processor (CPU)", "Works on every computer; slower"),
            ("CUDA", "NVIDIA GPU (CUDA)", "Much faster; needs an NVIDIA card and the GPU setup of the backend"),
        ),
        default="AUTO",
    )

    def request(self, context: bpy.types.Context) -> ImportRequest:
        """These settings plus the preferences as a job request; JobError for unreadable track ids."""
        try:
            person_ids = parse_person_ids(self.person_ids) if self.people == "CHOSEN" else None
        except ValueError as exc:
            raise JobError(f"Track ids: {exc}.", "Type numbers separated by commas, or choose Everyone.") from None
        if self.people == "CHOSEN" and person_ids is None:
            raise JobError("No track ids given.", "Type the ids of the people to import, or choose Everyone.")
        return ImportRequest(
            video=bpy.path.abspath(self.video), python=backend_python(context),
            data_dir=data_dir_preference(context), estimator=self.estimator.lower(), device=self.device.lower(),
            frames=(self.frame_first - 1, self.frame_last) if self.use_frame_range else None,
            smooth=self.smoothing, person_ids=person_ids, min_frames=self.min_frames, rejoin=self.rejoin,
            foot_lock=self.foot_lock,
        )


class VIBE_PT_import_motion(SidebarPanel, bpy.types.Panel):
    """The add-on's main sidebar panel; the retarget and export panels are its children."""

    bl_idname = MAIN_PANEL
    bl_label = "Import motion from video"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.vibe_video
        layout.prop(settings, "video", text="")
        layout.prop(settings, "estimator")
        _draw_estimator_choice(layout, context, settings.estimator.lower())
        layout.row().prop(settings, "people", expand=True)
        if settings.people == "CHOSEN":
            layout.prop(settings, "person_ids")
        layout.prop(settings, "use_frame_range")
        if settings.use_frame_range:
            row = layout.row(align=True)
            row.prop(settings, "frame_first")
            row.prop(settings, "frame_last")
        layout.prop(settings, "min_frames")
        layout.prop(settings, "rejoin")
        layout.prop(settings, "smoothing")
        layout.prop(settings, "foot_lock")
        layout.prop(settings, "device")
        job = active_job()
        if job is None:
            layout.operator(VIBE_OT_import_video.bl_idname, text="Import", icon="IMPORT")
        else:
            row = layout.row(align=True)
            row.progress(factor=job.progress.fraction, type="BAR", text=job.status_text())
            row.operator(VIBE_OT_cancel_import.bl_idname, text="", icon="CANCEL")
            layout.label(text="Press Esc to cancel.")
        _draw_last_outcome(layout)


def _draw_estimator_choice(layout: bpy.types.UILayout, context: bpy.types.Context, requested: str) -> None:
    """Which estimator will run and why, or why the requested one cannot."""
    try:
        choice = choose_estimator(data_dir_preference(context) or None, requested)
    except BackendError as exc:
        draw_wrapped(layout, f"{exc.message} {exc.fix}", icon="ERROR", width=40)
        return
    draw_wrapped(layout, choice.reason, icon="INFO", width=40)


def _draw_last_outcome(layout: bpy.types.UILayout) -> None:
    job = last_job()
    if job is None:
        return
    box = layout.box()
    icon = {FINISHED: "CHECKMARK", FAILED: "ERROR"}.get(job.state, "INFO")
    draw_wrapped(box, job.message, icon=icon, width=40)
    if job.warning:
        draw_wrapped(box, job.warning, icon="ERROR", width=40)
    if job.state == FAILED and job.log:
        box.label(text="Log file:")
        draw_wrapped(box, job.log, width=40)


classes = (VibeVideoSettings, VIBE_PT_import_motion)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.vibe_video = bpy.props.PointerProperty(type=VibeVideoSettings)


def unregister() -> None:
    del bpy.types.Scene.vibe_video
    _unregister_classes()
