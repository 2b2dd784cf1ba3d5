"""The add-on's child-process runner (no Blender): JSON-lines progress, outcomes, ETA, cancelling a process group.

A fake `backend` package written here plays the backend; the video argument names what it does.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from blender_vibe.runner import BackendRun, EtaClock, LineProcess, backend_command, child_environment, format_eta
from tests.processes import is_running

FAKE_BACKEND = textwrap.dedent('''
    import json, os, subprocess, sys, time

    args = sys.argv[1:]
    mode, out = args[0], args[args.index("--out") + 1]

    def emit(**fields):
        print(json.dumps(fields), flush=True)

    def sleeper():
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])

    if mode == "ok":
        print("library chatter that is not JSON", flush=True)
        emit(stage="setup", estimator="default", reason="no data folder is set")
        for i in range(1, 5):
            emit(stage="detect", done=i, total=4)
            time.sleep(0.05)
        print("{half a json line", flush=True)
        emit(stage="detect", done="many", total=None)
        emit(result="ok", motion=os.path.join(out, "motion.npz"), people=[3, 1], log=os.path.join(out, "b.log"),
             argv=args)
    elif mode == "error":
        emit(error="Cannot read the video.", fix="Convert it to mp4.", log=os.path.join(out, "b.log"))
        sys.exit(1)
    elif mode == "crash":
        raise RuntimeError("boom")
    elif mode == "slow":
        child = sleeper()
        with open(os.path.join(out, "child.pid"), "w") as fh:
            fh.write(str(child.pid))
        emit(stage="detect", done=1, total=100)
        time.sleep(120)
    elif mode == "leftover":
        child = sleeper()
        with open(os.path.join(out, "child.pid"), "w") as fh:
            fh.write(str(child.pid))
        emit(result="ok", motion="m.npz", people=[1], log="b.log")
''')


@pytest.fixture
def fake_backend(tmp_path: Path) -> Path:
    package = tmp_path / "fake" / "backend"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_BACKEND)
    return package.parent


def start(mode: str, out: Path, pythonpath: Path, **options) -> BackendRun:
    out.mkdir(exist_ok=True)
    return BackendRun(backend_command(sys.executable, mode, str(out), **options), out, pythonpath=pythonpath)


def wait(run: BackendRun, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while (outcome := run.poll()) is None:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.02)
    return outcome


def test_successful_run_passes_options_reports_progress_and_result(tmp_path, fake_backend):
    options = dict(data_dir="/data/vibe_data", estimator="default", device="cpu", frames=(10, None), min_frames=5,
                   smooth=0.5, foot_lock=False)
    run = start("ok", tmp_path / "out", fake_backend, **options)
    outcome = wait(run)
    assert outcome.ok and run.outcome is outcome
    assert outcome.motion == str(tmp_path / "out" / "motion.npz")
    assert outcome.people == [3, 1]
    assert outcome.log == str(tmp_path / "out" / "b.log")
    assert outcome.info["argv"] == ["ok", "--out", str(tmp_path / "out"), "--estimator", "default", "--device",
                                    "cpu", "--data-dir", "/data/vibe_data", "--frames", "10:", "--min-frames", "5",
                                    "--smooth", "0.5", "--no-foot-lock"]
    progress = run.progress
    assert (progress.stage, progress.done, progress.total, progress.fraction) == ("detect", 4, 4, 1.0)
    assert progress.info["estimator"] == "default", "the setup line's details stay with the later stages"
    console = run.console_log.read_text()
    assert "library chatter that is not JSON" in console and "{half a json line" in console


def test_backend_error_line_becomes_the_outcome(tmp_path, fake_backend):
    outcome = wait(start("error", tmp_path / "out", fake_backend))
    assert not outcome.ok
    assert (outcome.error, outcome.fix, outcome.log) == ("Cannot read the video.", "Convert it to mp4.",
                                                         str(tmp_path / "out" / "b.log"))


def test_crash_without_json_reports_exit_code_last_line_and_console_log(tmp_path, fake_backend):
    run = start("crash", tmp_path / "out", fake_backend)
    outcome = wait(run)
    assert not outcome.ok
    assert "exit code 1" in outcome.error and "RuntimeError: boom" in outcome.error
    assert "Set up backend" in outcome.fix
    assert outcome.log == str(run.console_log)
    assert "Traceback" in run.console_log.read_text()


def test_missing_backend_package_is_reported_not_hung(tmp_path):
    outcome = wait(start("ok", tmp_path / "out", tmp_path / "no_backend_here"))
    assert not outcome.ok and "No module named backend" in outcome.error


def test_poll_does_not_wait_and_cancel_ends_the_backend_and_its_children(tmp_path, fake_backend):
    run = start("slow", tmp_path / "out", fake_backend)
    deadline = time.monotonic() + 60
    while run.poll() is None and run.progress.stage != "detect":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert run.poll() is None and run.running, "poll returns while the backend is still working"
    backend_pid = run.pid
    child_pid = int((tmp_path / "out" / "child.pid").read_text())
    assert is_running(backend_pid) and is_running(child_pid)
    outcome = run.cancel()
    assert not outcome.ok and outcome.error == "Cancelled."
    assert not is_running(backend_pid) and not is_running(child_pid)
    assert run.poll() is outcome


def test_processes_left_behind_by_a_finished_backend_are_ended(tmp_path, fake_backend):
    run = start("leftover", tmp_path / "out", fake_backend)
    outcome = wait(run)
    assert outcome.ok and outcome.people == [1]
    assert not is_running(int((tmp_path / "out" / "child.pid").read_text()))


def test_line_process_copies_output_to_its_log(tmp_path):
    code = "import sys; print('one'); print('two', file=sys.stderr); print(json.dumps({'x': 1}))"
    process = LineProcess([sys.executable, "-c", "import json; " + code], tmp_path / "log.txt")
    lines, ended = [], False
    while not ended:
        new, ended = process.poll()
        lines += new
    assert sorted(lines) == sorted(["one", "two", json.dumps({"x": 1})])
    assert process.returncode == 0
    assert sorted(process.log_path.read_text().splitlines()) == sorted(lines)


def test_eta_is_the_stage_rate_so_far_times_what_is_left():
    now = [100.0]
    eta = EtaClock(clock=lambda: now[0])
    assert eta.update("detect", 0, 100) is None  # the stage's first line: no rate yet
    now[0] = 110.0
    assert eta.update("detect", 25, 100) == pytest.approx(10.0 / 25 * 75)
    now[0] = 114.0
    assert eta.update("detect", 45, 100) == pytest.approx(14.0 / 45 * 55)
    assert eta.update("estimate", 5, 50) is None  # a new stage starts its own clock
    now[0] = 120.0
    assert eta.update("estimate", 15, 50) == pytest.approx(6.0 / 10 * 35)
    assert eta.update("estimate", 50, 50) is None  # the stage is done: no "about 1 s left"


def test_eta_text():
    assert format_eta(None) == ""
    assert format_eta(0.2) == "about 1 s left"
    assert format_eta(42) == "about 42 s left"
    assert format_eta(180) == "about 3 min left"
    assert format_eta(5400) == "about 1.5 h left"


def test_command_leaves_unset_options_to_the_backend():
    args = backend_command("py", "clip.mp4", "out")
    assert args == ["py", "-m", "backend", "clip.mp4", "--out", "out", "--estimator", "auto", "--device", "auto"]
    assert backend_command("py", "v", "o", frames=(0, 300))[-2:] == ["--frames", "0:300"]
    assert backend_command("py", "v", "o", min_frames=10)[-2:] == ["--min-frames", "10"]
    assert backend_command("py", "v", "o", rejoin=0)[-2:] == ["--rejoin", "0.0"]
    assert backend_command("py", "v", "o", foot_lock=True)[-1] == "--foot-lock"


def test_child_environment_drops_blenders_python_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONHOME", "/blender/python")
    monkeypatch.setenv("PYTHONPATH", "/blender/scripts")
    env = child_environment(tmp_path)
    assert "PYTHONHOME" not in env and env["PYTHONPATH"] == str(tmp_path)
    assert env["PATH"] == os.environ["PATH"]


def test_runner_loads_without_blender():
    code = "import sys, blender_vibe.runner; assert 'bpy' not in sys.modules, 'the runner pulled in bpy'"
    probe = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
