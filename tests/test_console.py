"""`backend.console.output_to_log`: what a process writes on its file descriptors goes to the log, the command's own
messages still reach the terminal. Run in a fresh interpreter whose stdout and stderr are pipes, as a terminal would
see them."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import ctypes, logging, os, sys, warnings
    from backend.console import output_to_log

    libc = ctypes.CDLL(None)
    print("before", flush=True)
    with output_to_log(sys.argv[1]) as terminal:
        logging.basicConfig(filename=sys.argv[1], filemode="a", level=logging.INFO, format="%(message)s")
        print("progress 1/2", file=terminal.err)
        print("python print")
        print("python stderr", file=sys.stderr)
        os.write(1, b"fd 1 write\\n")
        os.write(2, b"fd 2 write\\n")
        libc.printf(b"C printf\\n")  # buffered by C's stdio: flushed into the log when the block ends
        warnings.warn("a library warning")
        logging.info("a log record")
        print("result", file=terminal.out)
    print("after", flush=True)
    print("after on stderr", file=sys.stderr, flush=True)
''')


def test_library_output_goes_to_the_log_and_the_terminal_keeps_the_commands_own(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("an old run\n")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(log)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["before", "result", "after"]
    assert done.stderr.splitlines() == ["progress 1/2", "after on stderr"]
    logged = log.read_text()
    for line in ("python print", "python stderr", "fd 1 write", "fd 2 write", "C printf", "a library warning",
                 "a log record"):
        assert line in logged, line
    assert "an old run" not in logged and "result" not in logged and "after" not in logged
