"""Keep a command's terminal for its progress and result; everything else that the process writes goes to a log.

Libraries talk on the process's file descriptors 1 and 2, not only through Python: MediaPipe, TensorFlow Lite and
absl log from C++ threads, Blender's exporters print, NumPy and protobuf warn. `output_to_log` points both
descriptors at the log file for the length of a `with` block and hands back streams that still reach the terminal.
No torch or bpy here: both commands (`python -m backend`, `python -m blender_vibe`) use it.
"""

import ctypes
import io
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass
class Terminal:
    """Where the command's own output goes while the rest goes to the log."""

    out: TextIO
    err: TextIO


@contextmanager
def output_to_log(log_path: str | Path) -> Iterator[Terminal]:
    """Send file descriptors 1 and 2 to `log_path` (truncated first, then appended to, so `logging` may write to the
    same file) until the block ends. The Terminal's streams reach what `sys.stdout`/`sys.stderr` reached before: the
    terminal, or whatever already replaced them (a test's capture)."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    with ExitStack() as stack:
        stack.callback(os.close, log_fd)
        terminal = Terminal(*(stack.enter_context(_terminal_stream(stream, fd))
                              for stream, fd in ((sys.stdout, 1), (sys.stderr, 2))))
        _flush_all()
        saved = [os.dup(fd) for fd in (1, 2)]
        for fd in (1, 2):
            os.dup2(log_fd, fd)
        try:
            yield terminal
        finally:
            _flush_all()  # what libraries buffered belongs to the log
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


@contextmanager
def _terminal_stream(stream: TextIO, fd: int) -> Iterator[TextIO]:
    """A line-buffered stream on a copy of `fd` when `stream` writes to it; else `stream` itself."""
    try:
        writes_to_fd = stream.fileno() == fd
    except (AttributeError, OSError, io.UnsupportedOperation):
        writes_to_fd = False
    if not writes_to_fd:
        yield stream
        return
    stream.flush()
    copy = open(os.dup(fd), "w", buffering=1, encoding=stream.encoding, errors="backslashreplace")
    try:
        yield copy
    finally:
        copy.close()


def _flush_all() -> None:
    """Python's and C's buffered output, so it lands where it was written, before the descriptors move."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    if sys.platform != "win32":  # C stdio buffers of this process (Windows runtimes each keep their own)
        ctypes.CDLL(None).fflush(None)
