"""JSON-lines progress on stdout: the protocol the add-on's runner reads (see docs/ARCHITECTURE.md)."""

import json
import sys
import time
from typing import Any, TextIO


class Progress:
    """Prints `{"stage", "done", "total"}` lines, at most a few per second per stage, always the last one."""

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.2) -> None:
        self.stream = stream or sys.stdout
        self.min_interval = min_interval
        self._last: dict[str, float] = {}

    def emit(self, **fields: Any) -> None:
        self.stream.write(json.dumps(fields) + "\n")
        self.stream.flush()

    def update(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last.get(stage, -1e9) < self.min_interval:
            return
        self._last[stage] = now
        self.emit(stage=stage, done=int(done), total=int(total))
