"""`python -m backend VIDEO --out DIR`: arguments, JSON-lines progress, one result or error line, a log file."""

import argparse
import faulthandler
import logging
import sys
import traceback
from contextlib import ExitStack
from pathlib import Path

from .arguments import non_negative_float, non_negative_int, parse_frames
from .console import output_to_log
from .errors import BackendError
from .estimators import RUNTIMES
from .pipeline import RunOptions, run
from .progress import Progress


class _JsonArgumentParser(argparse.ArgumentParser):
    """Bad arguments end with one JSON error line too (exit code 2), so the add-on can show the message."""

    def error(self, message: str) -> None:
        Progress().emit(error=f"Invalid arguments: {message}", fix=f"Run '{self.prog} --help' for the options.")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _JsonArgumentParser(prog="python -m backend", description="Estimate SMPL motion of every person "
                                     "in a video and write DIR/motion.npz; progress is printed as JSON lines.")
    parser.add_argument("video", type=Path, help="input video file")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder laid out like the official vibe_data (model weights, SMPL model)")
    parser.add_argument("--estimator", choices=["auto", "vibe", "tcmr", "default"], default="auto",
                        help="auto: TCMR, then VIBE, when the data folder has their files; else the default one")
    parser.add_argument("--checkpoint", default=None, help="VIBE/TCMR model file to use instead of the data "
                        "folder's own: a file name in the data folder, or a path")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--runtime", choices=list(RUNTIMES), default="auto",
                        help="what runs VIBE/TCMR: auto (OpenVINO on the CPU when installed, else torch), openvino, "
                             "or torch (eager, as on the GPU)")
    parser.add_argument("--frames", type=parse_frames, default=(0, None), metavar="START:END",
                        help="frame range to process, END exclusive")
    parser.add_argument("--min-frames", type=non_negative_int, default=25, help="drop people tracked for fewer frames")
    parser.add_argument("--smooth", type=non_negative_float, default=1.5,
                        help="temporal smoothing strength (Gaussian sigma in frames); 0 turns it off")
    parser.add_argument("--detect-every", type=non_negative_int, default=0, metavar="K",
                        help="run the person detector on every K-th frame and interpolate boxes in between "
                             "(0: every frame for YOLOv3, every 4th for the built-in detector)")
    parser.add_argument("--rejoin", type=non_negative_float, default=10.0, metavar="SECONDS",
                        help="a person who comes back within this many seconds (left the picture, or hidden) keeps "
                             "their id when their clothes clearly match; 0 turns it off (built-in detectors only)")
    parser.add_argument("--foot-lock", action=argparse.BooleanOptionalAction, default=True,
                        help="keep planted feet in place (when a floor is found; default: on)")
    return parser


def main(argv: list[str] | None = None) -> int:
    progress = Progress()
    args = build_parser().parse_args(argv)
    log_path = (args.out / "backend.log").resolve()
    with ExitStack() as stack:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            terminal = stack.enter_context(output_to_log(log_path))
        except OSError as exc:
            reason = "it is a file" if args.out.is_file() else exc.strerror or exc
            progress.emit(error=f"Cannot write to the output folder {args.out}: {reason}.",
                          fix="Choose an output folder (--out) that is a folder you can write to, or a new one.")
            return 1
        progress.stream = terminal.out  # stdout carries only the JSON lines; what libraries say goes to the log
        faulthandler.enable(file=2)  # a crash in native code leaves its Python traceback in the log
        logging.basicConfig(filename=log_path, filemode="a", level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
        return _run(args, progress, log_path)


def _run(args: argparse.Namespace, progress: Progress, log_path: Path) -> int:
    logging.info("arguments: %s", vars(args))
    options = RunOptions(video=args.video, out_dir=args.out, data_dir=args.data_dir, estimator=args.estimator,
                         checkpoint=args.checkpoint, device=args.device, start=args.frames[0], end=args.frames[1],
                         min_frames=args.min_frames, smooth=args.smooth,
                         detect_every=args.detect_every, rejoin=args.rejoin, foot_lock=args.foot_lock,
                         runtime=args.runtime)
    try:
        path, motion = run(options, progress)
    except BackendError as exc:
        logging.error("%s", exc)
        progress.emit(error=exc.message, fix=exc.fix, log=str(log_path))
        return 1
    except Exception as exc:  # an unexpected failure still ends with one JSON error line and the log
        logging.error("unexpected failure\n%s", traceback.format_exc())
        progress.emit(error=f"The backend failed unexpectedly: {type(exc).__name__}: {exc}",
                      fix="See the log file for details and report it with the log attached.", log=str(log_path))
        return 1
    progress.emit(result="ok", motion=str(path.resolve()), people=sorted(motion.people),
                  estimator=motion.estimator, world="floor" if motion.world is not None else "camera",
                  world_note=motion.world_note, log=str(log_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
