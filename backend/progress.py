"""JSON-lines progress on stdout: the protocol the add-on's runner reads (see docs/ARCHITECTURE.md)."""

import json
import sys
import time
from typing import Any, TextIO


class Progress:
    """Prints `{"stage", "done", "total"}` lines, at most a few per second per stage, always the last one (done ==
    total), never the same line twice in a row."""

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.2) -> None:
        self.stream = stream or sys.stdout
        self.min_interval = min_interval
        self._last: dict[str, tuple[float, int, int]] = {}  # stage -> (time, done, total) of its last line

    def emit(self, **fields: Any) -> None:
        self.stream.write(json.dumps(fields) + "\n")
        self.stream.flush()

    def update(self, stage: str, done: int, total: int) -> None:
        now, done, total = time.monotonic(), int(done), int(total)
        last = self._last.get(stage)
        if last and (last[1:] == (done, total) or (done < total and now - last[0] < self.min_interval)):
            return
        self._last[stage] = (now, done, total)
        self.emit(stage=stage, done=done, total=total)
