"""One video of a batch: the headless command, interrupted as by Ctrl-C when the process that started it dies.

The headless command ends its backend when interrupted, so a batch that is killed (even by SIGKILL, which it cannot
catch) leaves nothing running (Linux: PR_SET_PDEATHSIG; elsewhere the batch ends its videos itself when it can).
"""

import ctypes
import os
import signal
import sys

PARENT_VARIABLE = "BLENDER_VIBE_BATCH_PARENT"  # the pid of the process that started this one
PR_SET_PDEATHSIG = 1


def _interrupt_when_parent_dies() -> None:
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def main() -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when the batch runs with SIGINT ignored (nohup)
    _interrupt_when_parent_dies()
    from ..headless import main as headless_main  # Blender's start-up scripts catch a KeyboardInterrupt

    if str(os.getppid()) != os.environ.get(PARENT_VARIABLE, str(os.getppid())):  # the batch died meanwhile
        return 130
    return headless_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
