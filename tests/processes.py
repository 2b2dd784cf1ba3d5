"""Process checks for tests that start and cancel the backend (Linux /proc)."""

import os
from pathlib import Path


def _state(stat: Path) -> list[str]:
    return stat.read_text().rpartition(")")[2].split()


def is_running(pid: int) -> bool:
    """False once the process is gone or a zombie waiting to be reaped by its new parent."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and _state(stat)[0] == "Z")


def group_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies waiting to be reaped do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _state(stat)
        except OSError:
            continue
        if int(fields[3]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members
