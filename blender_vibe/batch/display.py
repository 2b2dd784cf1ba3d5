"""What the batch shows while it runs, and the summary table at the end.

On a terminal: a bar for the whole batch and one line per running video, redrawn in place, with each finished video
printed above them. Elsewhere (a log file, a pipe): plain lines when a video starts a stage and when it ends, and
the batch's counts every minute.
"""

import shutil
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from ..runner import format_eta
from .video import FAILED, OK, SKIPPED, VideoResult

BAR_WIDTH = 24
REDRAW_EVERY_SECONDS = 0.25
PLAIN_STATUS_EVERY_SECONDS = 60.0


@dataclass
class Running:
    """A video in progress: its current stage of the headless command's progress."""

    name: str
    stage: str
    done: int
    total: int
    eta_seconds: float | None
    seconds: float


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def stage_text(video: Running) -> str:
    counts = f" {video.done}/{video.total}" if video.total else ""
    eta = format_eta(video.eta_seconds)
    return f"{video.stage}{counts}{', ' + eta if eta else ''}"


def result_text(result: VideoResult) -> str:
    """One line for a video that ended."""
    if result.result in (OK, SKIPPED):
        note = " (finished earlier)" if result.result == SKIPPED else ""
        return (f"{result.result:<9} {result.name}: {len(result.people)} people, {result.frames} frames, "
                f"{result.seconds} s{note}")
    return f"{result.result:<9} {result.name}: {result.error}"


class Display:
    """Progress of a batch of `total` videos, `skipped` of them finished by an earlier batch."""

    def __init__(self, total: int, skipped: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total, self.ended, self.failed = total, skipped, 0
        self._to_run = total - skipped
        self._started = time.monotonic()
        self._drawn = 0  # lines of the live block on screen
        self._redrawn = 0.0
        self._stages: dict[str, str] = {}
        self._status_printed = self._started

    def note(self, text: str) -> None:
        """A line of its own (set-up messages)."""
        self._clear()
        print(text, file=self.stream, flush=True)

    def ended_video(self, result: VideoResult) -> None:
        self.ended += 1
        self.failed += result.result == FAILED
        self._stages.pop(result.name, None)
        self.note(f"[{self.ended}/{self.total}] {result_text(result)}")
        self._redrawn = 0.0

    def update(self, running: list[Running], waiting: int) -> None:
        if self.tty:
            self._draw(running, waiting)
        else:
            self._print_changes(running, waiting)

    def close(self) -> None:
        self._clear()

    def batch_text(self, running: int, waiting: int) -> str:
        elapsed = time.monotonic() - self._started
        ran = self.ended - (self.total - self._to_run)
        eta = format_eta(elapsed / ran * (self.total - self.ended)) if ran else ""  # at this batch's rate
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"{self.ended}/{self.total} videos{failed}; {running} running, {waiting} waiting; {clock(elapsed)}"
                f"{', ' + eta if eta else ''}")

    def _draw(self, running: list[Running], waiting: int) -> None:
        now = time.monotonic()
        if now - self._redrawn < REDRAW_EVERY_SECONDS:
            return
        self._redrawn = now
        width = shutil.get_terminal_size().columns - 1
        name_width = min(max((len(v.name) for v in running), default=0), 30)
        lines = [f"{bar(self.ended / max(self.total, 1))} {self.batch_text(len(running), waiting)}"]
        lines += [f"  {v.name[-name_width:]:<{name_width}} {bar(v.done / v.total if v.total else 0.0, 12)} "
                  f"{clock(v.seconds)} {stage_text(v)}" for v in running]
        self._clear()
        self.stream.write("".join(line[:width] + "\n" for line in lines))
        self.stream.flush()
        self._drawn = len(lines)

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")  # to the block's first line, then erase below
            self._drawn = 0

    def _print_changes(self, running: list[Running], waiting: int) -> None:
        for video in running:
            if self._stages.get(video.name) != video.stage:
                self._stages[video.name] = video.stage
                print(f"{video.name}: {stage_text(video)}", file=self.stream, flush=True)
        now = time.monotonic()
        if now - self._status_printed >= PLAIN_STATUS_EVERY_SECONDS:
            self._status_printed = now
            print(self.batch_text(len(running), waiting), file=self.stream, flush=True)


def summary_table(results: list[VideoResult]) -> str:
    """Video, result, people, frames, seconds, and where the outputs are or what went wrong."""
    header = ("video", "result", "people", "frames", "seconds", "outputs / error")
    rows = [(r.name, r.result, str(len(r.people)) if r.result in (OK, SKIPPED) else "",
             "" if r.frames is None else str(r.frames),
             "" if r.seconds is None else f"{r.seconds:.1f}",
             r.folder if r.result in (OK, SKIPPED) else f"{r.error}" + (f" (log: {r.log})" if r.log else ""))
            for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row[:-1], widths, strict=True))) + "  " + row[-1]
                     for row in [header, *rows])
