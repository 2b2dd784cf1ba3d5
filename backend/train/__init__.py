"""VIBE's training side: motion discriminator, losses, databases, trainer (`python -m backend.train --config FILE`)
and feature extraction (`python -m backend.train.extract`). See docs/training.md."""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BackendError


def run_command(body: Callable[[], None]) -> int:
    """Run a command's body: a BackendError is printed as 'error: ...' and 'fix: ...' on stderr, exit status 1."""
    try:
        body()
    except BackendError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return 1
    return 0


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through a temporary file in the same folder, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
