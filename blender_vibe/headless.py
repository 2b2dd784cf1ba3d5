"""Batch use without the UI: `python -m blender_vibe VIDEO -o OUT.blend [-o OUT.fbx ...]` with the `bpy` module.

The same job as the panel's Import button (`ImportJob`): the backend runs as a child process, polled in a loop that
prints its progress; the people are imported into an empty scene, with the video behind the camera. Then, on
request, the first person's motion is retargeted onto a character (`--target CHARACTER.blend`), previews are drawn
(`--preview OUT.png`: a contact sheet; `--preview-video OUT.mp4`: the clip), and every output is written: .blend
(the scene), .fbx/.glb/.gltf (the people, or the character), .bvh (the first person's armature, or the character's).

The terminal gets the progress (stderr) and the results (stdout) only: what Blender and its exporters print goes to
a log file (`--log`, by default beside the first output), as the backend's own chatter goes to its log.

Options that name a file the command writes have a metavar beginning with OUT: the batch command
(`blender_vibe/batch/`) forwards every option and places those files in each video's folder. `--progress json`
prints the progress as the backend's JSON stage lines on stdout, and after the outputs `{"result": "ok", "people":
[track ids], "frames": N}` (N: video frames where any of them was tracked), for programs that drive this command.
"""

import argparse
import json
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import bpy
import numpy as np

from backend.arguments import non_negative_float, parse_frames, positive_int
from backend.console import Terminal, output_to_log
from backend.people_summary import describe_person

from .export import FBX_PRESETS, export_bvh, export_fbx, export_gltf
from .import_op import parse_person_ids
from .job_op import FINISHED, ImportJob, ImportRequest, JobError, start_job
from .preview import VIDEO_CODECS, write_preview, write_preview_video
from .retarget.character import character_objects, retarget_onto_character

OUTPUT_SUFFIXES = (".blend", ".fbx", ".bvh", ".glb", ".gltf")
PRINT_EVERY_SECONDS = 1.0


def _people(text: str) -> list[int] | None:
    try:
        return parse_person_ids(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m blender_vibe",
        description="Estimate the motion of the people in a video and save them as animated SMPL armatures.",
    )
    parser.add_argument("video", help="input video file")
    parser.add_argument("-o", "--output", type=Path, action="append", required=True, metavar="OUT",
                        help="OUT.blend, OUT.fbx, OUT.bvh, OUT.glb or OUT.gltf; repeat for several files")
    parser.add_argument("--target", type=Path, default=None, metavar="CHARACTER.blend",
                        help="retarget the first person's motion onto the character (armature) in this .blend")
    parser.add_argument("--preview", type=Path, default=None, metavar="OUT.png",
                        help="also draw a contact sheet: frames across the clip with each person's skeleton and "
                             "track id over the footage")
    parser.add_argument("--preview-video", type=Path, default=None, metavar="OUT.mp4",
                        help="also write the clip with the skeletons drawn (.mp4 or .avi)")
    parser.add_argument("--log", type=Path, default=None, metavar="OUT.log",
                        help="where what Blender and its exporters print goes (default: the first output's name "
                             "with .log)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs the backend, with its requirements (default: this one)")
    parser.add_argument("--data-dir", default="", help="folder laid out like VIBE's vibe_data (optional)")
    parser.add_argument("--estimator", choices=["auto", "vibe", "tcmr", "default"], default="auto")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--frames", type=parse_frames, default=None, metavar="START:END",
                        help="video frames to process, from 0, END exclusive (default: all)")
    parser.add_argument("--people", type=_people, default=None, metavar="IDS",
                        help="track ids to import, e.g. 1,3 (default: everyone)")
    parser.add_argument("--min-frames", type=positive_int, default=None, metavar="N",
                        help="leave out people tracked for fewer frames (default: the backend's, 25)")
    parser.add_argument("--rejoin", type=non_negative_float, default=None, metavar="SECONDS",
                        help="a person back within this time keeps their id when clearly the same (default: the "
                             "backend's, 10); 0 turns it off")
    parser.add_argument("--smooth", type=non_negative_float, default=None,
                        help="smoothing strength (Gaussian sigma in frames); 0 turns it off")
    parser.add_argument("--foot-lock", action=argparse.BooleanOptionalAction, default=True,
                        help="keep planted feet in place (when a floor is found; default: on)")
    parser.add_argument("--fbx-preset", choices=sorted(FBX_PRESETS), default="unity",
                        help="axes and units of an .fbx output (see blender_vibe/export.py)")
    parser.add_argument("--progress", choices=["text", "json"], default="text",
                        help="json: progress and result as JSON lines on stdout, for programs that run this command")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    outputs = [output.resolve() for output in args.output]
    wrong = [output.name for output in outputs if output.suffix.lower() not in OUTPUT_SUFFIXES]
    if wrong:
        print(f"error: outputs must end in {', '.join(OUTPUT_SUFFIXES)}; got {', '.join(wrong)}", file=sys.stderr)
        return 2
    if args.preview_video is not None and args.preview_video.suffix.lower() not in VIDEO_CODECS:
        print(f"error: --preview-video must end in {' or '.join(VIDEO_CODECS)}; got {args.preview_video.name}",
              file=sys.stderr)
        return 2
    if args.target is not None and not args.target.is_file():
        print(f"error: the character file {args.target} does not exist", file=sys.stderr)
        return 2
    if args.target is not None and args.target.suffix.lower() != ".blend":
        print(f"error: --target must be a .blend file holding the character's armature; got {args.target.name}",
              file=sys.stderr)
        return 2
    data_dir = str(Path(args.data_dir).resolve()) if args.data_dir else ""
    request = ImportRequest(
        video=str(Path(args.video).resolve()), python=args.python, data_dir=data_dir, estimator=args.estimator,
        device=args.device, frames=args.frames, smooth=args.smooth, person_ids=args.people, min_frames=args.min_frames,
        rejoin=args.rejoin, foot_lock=args.foot_lock,
    )
    log = (args.log or outputs[0].with_suffix(".log")).resolve()
    with ExitStack() as stack:
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            terminal = stack.enter_context(output_to_log(log))
        except OSError as exc:
            print(f"error: cannot write the log file {log}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        return _import_and_save(args, request, outputs, terminal, log)


def _import_and_save(args: argparse.Namespace, request: ImportRequest, outputs: list[Path], terminal: Terminal,
                     log: Path) -> int:
    """The job, the optional retarget and preview, and the outputs; messages go to `terminal`, the rest to `log`."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        job = start_job(request)
    except JobError as exc:
        print(f"error: {exc}", file=terminal.err)
        return 2
    try:
        state = job.wait(bpy.context, report=_ProgressPrinter(terminal, as_json=args.progress == "json"))
    except KeyboardInterrupt:
        job.cancel()
        print(job.message, file=terminal.err)
        return 130
    if state != FINISHED:
        print(f"error: {job.message}" + (f"\nlog: {job.log}" if job.log else ""), file=terminal.err)
        return 1
    print(job.message, file=terminal.out)
    chosen = job.request.person_ids
    for person in job.people:  # everyone found, so that --people can pick from the list next time
        skipped = chosen is not None and person.id not in chosen
        print(f"  {describe_person(person)}{' (not imported)' if skipped else ''}", file=terminal.out)
    if job.warning:
        print(f"warning: {job.warning}", file=terminal.err)
    shutil.rmtree(job.out_dir, ignore_errors=True)  # the run folder: the motion is in the scene now
    try:
        armatures = job.objects
        if args.target is not None:
            armatures = [retarget_onto_character(bpy.context, job.objects[0], args.target)]
            print(f"retargeted person {job.objects[0].get('vibe_track_id', 1)} onto {armatures[0].name}",
                  file=terminal.out)
        if args.preview is not None:
            print(f"saved {write_preview(bpy.context, job.objects, request.video, args.preview.resolve())}",
                  file=terminal.out)
        if args.preview_video is not None:
            written = write_preview_video(bpy.context, job.objects, request.video, args.preview_video.resolve())
            print(f"saved {written}", file=terminal.out)
        for output in outputs:
            save(output, armatures, args.fbx_preset)
            print(f"saved {output}", file=terminal.out)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}\nlog: {log}", file=terminal.err)
        return 1
    if args.progress == "json":
        print(json.dumps(_result(job)), file=terminal.out, flush=True)
    return 0


def _result(job: ImportJob) -> dict:
    """The figures of a finished job: the imported track ids, and the video frames where any of them moves."""
    people = [int(obj["vibe_track_id"]) for obj in job.objects]
    frames = np.unique(np.concatenate([job.motion.people[i].frame_ids for i in people]))
    return {"result": "ok", "people": people, "frames": int(frames.size)}


def save(output: Path, armatures: list[bpy.types.Object], fbx_preset: str) -> None:
    """Write the scene (.blend), the animated armatures with their bodies (.fbx, .glb, .gltf), or the first
    armature alone (.bvh holds one skeleton)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    suffix = output.suffix.lower()
    if suffix == ".blend":
        bpy.ops.wm.save_as_mainfile(filepath=str(output), check_existing=False)
        return
    if suffix == ".bvh":
        export_bvh(output, armatures[0])
        return
    objects = [obj for armature in armatures for obj in character_objects(armature, bpy.context.view_layer.objects)]
    if suffix == ".fbx":
        export_fbx(output, objects, fbx_preset)
    else:
        export_gltf(output, objects)


class _ProgressPrinter:
    """Prints the job's status when the stage changes, and at most once a second otherwise; a status that has not
    changed is not printed again. Text on the terminal's stderr for people; with `as_json`, the backend's stage lines
    `{"stage", "done", "total"}` on its stdout for programs."""

    def __init__(self, terminal: Terminal, as_json: bool = False) -> None:
        self._stream = terminal.out if as_json else terminal.err
        self._as_json = as_json
        self._stage = ""
        self._text = ""
        self._printed = 0.0

    def __call__(self, job: ImportJob) -> None:
        p, now = job.progress, time.monotonic()
        text = json.dumps({"stage": p.stage, "done": p.done, "total": p.total}) if self._as_json \
            else job.status_text()
        if text != self._text and (p.stage != self._stage or now - self._printed >= PRINT_EVERY_SECONDS):
            self._stage, self._text, self._printed = p.stage, text, now
            print(text, file=self._stream, flush=True)
