"""The batch command (`python -m blender_vibe.batch`): inputs, forwarded options, isolation of failures, resuming a
killed batch, the progress display, and a local Ray runtime.

The runs go through the real headless command (bpy) in child processes. Where the backend's behaviour is the point
(fails, crashes, hangs, takes a while) a fake backend interpreter plays it (test_addon.py's, picked by the video's
name); the Ray run uses the real backend on a few frames of the example clip.
"""

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from blender_vibe.batch import cli, display, inputs, options, ray_jobs
from blender_vibe.batch.video import VideoJob, VideoResult, previous_result, processes_using
from tests.test_addon import FAKE_BACKEND

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CLIP = ROOT / "examples" / "squat_march.mp4"


# --- inputs and options (no child processes) -----------------------------------------------------------------------

def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_inputs_are_files_folders_and_globs_named_by_their_place_in_the_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("clips/a/walk.mp4", "clips/b/run.MOV", "clips/.hidden/x.mp4", "clips/notes.txt", "more/jump.avi",
                 "sets/s1/take.mp4", "sets/s2/take.mp4", "sets/s2/readme.md"):
        touch(tmp_path / name)
    out = tmp_path / "clips" / "results"  # an output folder inside an input folder is never an input
    touch(out / "walk" / "preview.mp4")

    videos = inputs.find_videos(["clips", "more/jump.avi", "sets/*/*.mp4", "clips/a/walk.mp4"], skip=out)
    assert [(v.name, v.path.relative_to(tmp_path).as_posix()) for v in videos] == [
        ("a/walk", "clips/a/walk.mp4"), ("b/run", "clips/b/run.MOV"), ("jump", "more/jump.avi"),
        ("s1/take", "sets/s1/take.mp4"), ("s2/take", "sets/s2/take.mp4")]
    assert all(v.path.is_absolute() for v in videos)

    with pytest.raises(inputs.InputError, match="share the output folder take"):
        inputs.find_videos(["sets/s1/take.mp4", "sets/s2/take.mp4"])
    touch(tmp_path / "clips" / "a.mp4")
    with pytest.raises(inputs.InputError, match="would also hold the results"):
        inputs.find_videos(["clips"], skip=out)
    with pytest.raises(inputs.InputError, match="missing.mp4 does not exist"):
        inputs.find_videos(["missing.mp4"])
    with pytest.raises(inputs.InputError, match="no file matches"):
        inputs.find_videos(["sets/*/*.mkv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(inputs.InputError, match="holds no videos"):
        inputs.find_videos(["empty"])


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def test_every_headless_option_is_forwarded_as_typed_with_outputs_in_the_video_folder():
    from blender_vibe.headless import build_parser

    args = parse("clips", "--out", "OUT", "-o", "{name}.fbx", "--preview", "look/preview.png", "--smooth", "0",
                 "--people", "1,3", "--frames", "5:", "--fbx-preset", "unreal", "-o", "scene.blend")
    forwarded = options.video_options(args)
    assert forwarded.output_files("s1/walk") == ["walk.fbx", "look/preview.png", "scene.blend"]
    assert forwarded.command_args("s1/walk", "/W/out") == [
        "--smooth", "0", "--people", "1,3", "--frames", "5:", "--fbx-preset", "unreal",
        "-o", "/W/out/walk.fbx", "--preview", "/W/out/look/preview.png", "-o", "/W/out/scene.blend"]
    same = options.video_options(parse("clips", "--out", "OUT", "-o", "scene.blend", "--frames", "5:", "-o",
                                       "{name}.fbx", "--people", "1,3", "--fbx-preset", "unreal", "--smooth", "0",
                                       "--preview", "look/preview.png"))
    assert same.record() == forwarded.record(), "the same options in another order make the same results"

    batch_options = {s for action in cli.build_parser()._actions for s in action.option_strings}
    headless_options = {s for action in build_parser()._actions for s in action.option_strings}
    assert headless_options - batch_options == {"--progress"}, "every option but the one the batch sets itself"

    for bad in (["--smooth", "-1"], ["--frames", "9:3"], ["--people", "x"], ["--estimator", "nope"], []):
        with pytest.raises(SystemExit):  # refused as the headless command refuses it (no -o: required there too)
            parse("clips", "--out", "OUT", *(["-o", "a.blend"] if bad else []), *bad)
    for outside in ("/abs/a.blend", "../a.blend", "result.json"):
        with pytest.raises(options.OptionsError, match="in a batch|its own"):
            options.video_options(parse("clips", "--out", "OUT", "-o", outside))
    with pytest.raises(SystemExit):
        parse("--ray", "clips", "--out", "OUT", "-o", "a.blend")  # a folder is not a Ray address


def test_an_option_added_to_the_headless_command_works_in_batches_without_edits(monkeypatch):
    from blender_vibe import headless

    original = headless.build_parser

    def extended() -> argparse.ArgumentParser:
        parser = original()
        parser.add_argument("--skeleton-video", type=Path, metavar="OUT.mp4")
        parser.add_argument("--ground-lock", action=argparse.BooleanOptionalAction, default=True)
        parser.add_argument("--strength", type=float, choices=[0.5, 1.0])
        return parser

    monkeypatch.setattr(headless, "build_parser", extended)
    args = parse("clips", "--out", "OUT", "-o", "a.blend", "--no-ground-lock", "--skeleton-video", "{name}.mp4",
                 "--strength", "0.50")
    forwarded = options.video_options(args)
    assert forwarded.output_files("walk") == ["a.blend", "walk.mp4"]
    assert forwarded.command_args("walk", "/W") == ["--no-ground-lock", "--strength", "0.50", "-o", "/W/a.blend",
                                                    "--skeleton-video", "/W/walk.mp4"]
    with pytest.raises(SystemExit):
        parse("clips", "--out", "OUT", "-o", "a.blend", "--strength", "2")


def make_job(tmp_path: Path, video: Path, outputs=("a.blend",), opts=("-o a.blend",)) -> VideoJob:
    return VideoJob(video=str(video), name=video.stem, out=str(tmp_path / "out"), args=[], outputs=list(outputs),
                    options=list(opts), cwd=str(tmp_path))


def test_a_video_is_finished_only_with_the_same_file_options_and_outputs(tmp_path):
    video = tmp_path / "walk.mp4"
    video.write_bytes(b"frames")
    job = make_job(tmp_path, video)
    assert previous_result(job) is None, "never run"
    job.folder.mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no batch result"):
        previous_result(job)  # a folder the batch did not make is never replaced
    stat = video.stat()
    record = {"video": str(video), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "options": ["-o a.blend"],
              "outputs": ["a.blend"], "people": [1], "frames": 30, "seconds": 4.0}
    (job.folder / "result.json").write_text(json.dumps(record))
    assert previous_result(job) is None, "its output is missing"
    (job.folder / "a.blend").write_bytes(b"blend")
    done = previous_result(job)
    assert (done.result, done.people, done.frames, done.seconds) == ("skipped", [1], 30, 4.0)
    assert previous_result(make_job(tmp_path, video, opts=("--smooth 0", "-o a.blend"))) is None, "other options"
    video.write_bytes(b"other frames")
    assert previous_result(job) is None, "the video changed"
    (job.folder / "result.json").write_text(json.dumps({**record, "video": "/elsewhere/walk.mp4"}))
    with pytest.raises(ValueError, match="results of /elsewhere/walk.mp4"):
        previous_result(job)


# --- progress display ------------------------------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_display_redraws_in_place_on_a_terminal_and_prints_plain_lines_elsewhere(monkeypatch):
    monkeypatch.setattr(display, "REDRAW_EVERY_SECONDS", 0.0)
    walk = display.Running("walk", "detect", 30, 120, 12.0, 3.0)
    run = display.Running("run", "setup", 1, 1, None, 1.0)
    ok = VideoResult("jump", "/v/jump.mp4", "ok", people=[1, 2], frames=90, seconds=8.5)

    screen = Terminal()
    live = display.Display(total=3, skipped=0, stream=screen)
    live.update([walk, run], waiting=1)
    first = screen.getvalue()
    assert first.count("\n") == 3 and "0/3 videos; 2 running, 1 waiting" in first
    assert "walk [###---------] 0:03 detect 30/120, about 12 s left" in first
    live.ended_video(ok)
    live.update([walk], waiting=0)
    after = screen.getvalue()[len(first):]
    assert after.startswith("\x1b[3F\x1b[J[1/3] ok        jump: 2 people, 90 frames, 8.5 s\n"), after
    assert after.count("\n") == 3  # the finished line, then the block again: batch and one video
    live.close()
    assert screen.getvalue().endswith("\x1b[2F\x1b[J")

    log = io.StringIO()
    plain = display.Display(total=3, skipped=1, stream=log)
    plain.update([walk, run], waiting=0)
    plain.update([walk, run], waiting=0)
    plain.ended_video(ok)
    assert log.getvalue().splitlines() == ["walk: detect 30/120, about 12 s left", "run: setup 1/1",
                                           "[2/3] ok        jump: 2 people, 90 frames, 8.5 s"]
    assert "\x1b" not in log.getvalue()


# --- Ray without a cluster -----------------------------------------------------------------------------------------

class FakeCluster:
    def __init__(self, *nodes: dict) -> None:
        self._nodes = [{"Alive": True, "NodeID": str(i), "Resources": resources} for i, resources in enumerate(nodes)]

    def nodes(self) -> list[dict]:
        return self._nodes


def test_ray_tasks_ask_for_cpus_and_a_gpu_when_cuda_is_used():
    cpu_only = FakeCluster({"CPU": 8.0}, {"CPU": 2.0})
    assert ray_jobs.resources(cpu_only, "auto", None, None)[:2] == (4, 0.0)
    cpus, gpus, able = ray_jobs.resources(cpu_only, "cpu", 3, None)
    assert (cpus, gpus, [node["NodeID"] for node in able]) == (3, 0.0, ["0"])
    with pytest.raises(ray_jobs.RayError, match="No node of the Ray cluster has 16 CPUs"):
        ray_jobs.resources(cpu_only, "auto", 16, None)
    with pytest.raises(ray_jobs.RayError, match="--device cpu"):
        ray_jobs.resources(cpu_only, "cuda", None, None)
    with_gpu = FakeCluster({"CPU": 2.0}, {"CPU": 16.0, "GPU": 2.0})
    cpus, gpus, able = ray_jobs.resources(with_gpu, "auto", None, None)
    assert (cpus, gpus, [node["NodeID"] for node in able]) == (4, 1.0, ["1"])
    assert ray_jobs.resources(with_gpu, "cuda", 2, 0.5)[:2] == (2, 0.5)
    assert ray_jobs.resources(with_gpu, "cpu", None, None)[1] == 0.0


def test_ray_option_without_ray_installed_names_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as where it is not installed
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "clip.mp4")
    assert cli.main(["clip.mp4", "--out", "out", "-o", "a.blend", "--ray"]) == 2
    error = capsys.readouterr().err
    assert "--ray needs Ray" in error and "pip install 'ray==" in error and "leave out --ray" in error
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [v["result"] for v in report["videos"]] == ["cancelled"]
    assert not (tmp_path / "out" / "clip").exists() and not (tmp_path / "out" / ".batch" / "work").exists()


# --- batches through the headless command ---------------------------------------------------------------------------

@pytest.fixture
def fake_python(tmp_path) -> Path:
    """The backend's interpreter played by test_addon's fake backend; videos named *crash* kill the headless command
    (SIGSEGV, as a crash in Blender would), *pause* ones take 10 s before the fake backend starts."""
    script = tmp_path / "fake_backend.py"
    script.write_text(FAKE_BACKEND)
    python = tmp_path / "fake-python"
    python.write_text(f'#!/bin/sh\ncase "$(basename "$3")" in\n  *crash*) kill -SEGV $PPID; exit 1;;\n'
                      f'  *pause*) sleep 10;;\nesac\nshift 2\nexec "{sys.executable}" "{script}" "$@"\n')
    python.chmod(0o755)
    return python


def clip_copies(folder: Path, names: list[str]) -> list[Path]:
    """Short videos without a person (enough for the fake backend and the footage camera)."""
    from tests.videos import background, write_video

    folder.mkdir(parents=True, exist_ok=True)
    first = write_video(folder / names[0], [background(120, 160)] * 30, fps=25.0)
    return [first] + [Path(shutil.copy(first, folder / name)) for name in names[1:]]


def batch_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "blender_user"), "PYTHONPATH": str(ROOT),
            **extra}


def run_batch(tmp_path: Path, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "blender_vibe.batch", *map(str, args)], cwd=tmp_path,
                          env=env or batch_env(tmp_path), capture_output=True, text=True, timeout=600)


def assert_nothing_left_running(folder: Path, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while processes_using(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_using(folder) == [], "processes of the batch are still running"


def read_report(out: Path) -> dict[str, dict]:
    return {video["name"]: video for video in json.loads((out / "report.json").read_text())["videos"]}


def test_a_failure_a_crash_and_a_hang_end_one_video_each_and_the_others_finish(tmp_path, fake_python):
    clip_copies(tmp_path / "clips", ["ok.mp4", "fail.mp4", "crash.mp4", "slow.mp4"])
    out = tmp_path / "out"
    result = run_batch(tmp_path, "clips", "--out", out, "-o", "{name}.blend", "--python", fake_python,
                       "--workers", "2", "--timeout", "15", "--people", "2")
    assert result.returncode == 1, result.stderr[-3000:]
    report = read_report(out)
    assert {name: video["result"] for name, video in report.items()} == {
        "crash": "failed", "fail": "failed", "ok": "ok", "slow": "failed"}
    assert report["ok"]["people"] == [2] and report["ok"]["frames"] == 25  # person 2: video frames 5-29
    assert sorted(p.name for p in (out / "ok").iterdir()) == ["console.log", "ok.blend", "ok.log", "result.json"]
    assert report["fail"]["error"] == "The video has no readable frames. Re-encode it as H.264 MP4."
    assert report["crash"]["error"].startswith("The command crashed (SIGSEGV)")
    assert report["slow"]["error"].startswith("Ended after 15 s without any progress (hung)")
    for name in ("fail", "crash", "slow"):
        assert not (out / name).exists()
        assert Path(report[name]["log"]).is_file() and report[name]["log"].startswith(str(out / ".batch" / "failed"))
    assert not (out / ".batch" / "work").exists()
    table = result.stdout.splitlines()
    assert table[0].split() == ["video", "result", "people", "frames", "seconds", "outputs", "/", "error"]
    assert table[3].split()[:4] == ["ok", "ok", "1", "25"] and table[3].endswith(str(out / "ok"))
    assert "ok: 1 people, 25 frames" in result.stderr and "\x1b" not in result.stderr  # plain lines: not a TTY
    assert_nothing_left_running(tmp_path)


def test_a_batch_killed_half_way_continues_where_it_stopped(tmp_path, fake_python):
    clip_copies(tmp_path / "clips", ["a.mp4", "b_pause.mp4", "c.mp4"])
    out = tmp_path / "out"
    args = [sys.executable, "-m", "blender_vibe.batch", "clips", "--out", str(out), "-o", "{name}.blend", "-o",
            "{name}.fbx", "--python", str(fake_python), "--workers", "1"]
    batch = subprocess.Popen(args, cwd=tmp_path, env=batch_env(tmp_path), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        backend_of_b = out / ".batch" / "work" / "b_pause" / "tmp"
        while not (backend_of_b.is_dir() and any(backend_of_b.glob("blender_vibe-*"))):
            assert batch.poll() is None and time.monotonic() < deadline, "the batch ended before b started"
            time.sleep(0.1)
        assert (out / "a" / "result.json").is_file()
        batch.send_signal(signal.SIGKILL)  # no chance to clean up
        batch.wait()
        assert_nothing_left_running(out, seconds=20)  # b's headless command and backend ended with the batch
    finally:
        if batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
            batch.wait()
    assert not (out / "b_pause").exists() and not (out / "c").exists()
    assert {name: video["result"] for name, video in read_report(out).items()} == {
        "a": "ok", "b_pause": "waiting", "c": "waiting"}
    first_outputs = {p.name: p.stat().st_mtime_ns for p in (out / "a").iterdir()}

    resumed = run_batch(tmp_path, *args[3:])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {name: video["result"] for name, video in read_report(out).items()} == {
        "a": "skipped", "b_pause": "ok", "c": "ok"}
    assert {p.name: p.stat().st_mtime_ns for p in (out / "a").iterdir()} == first_outputs, "a was not redone"
    for name in ("b_pause", "c"):
        assert {p.name for p in (out / name).iterdir()} == {f"{name}.blend", f"{name}.fbx", f"{name}.log",
                                                            "result.json", "console.log"}
    assert not (out / ".batch" / "work").exists()
    assert "3 videos: 1 finished earlier, 2 to do" in resumed.stderr


@pytest.fixture
def ray_tmpdir():
    """Ray's session folder, short (its sockets live there) and this test's own, to find what it left."""
    folder = Path(tempfile.mkdtemp(prefix="bv-ray-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_local_ray_runtime_runs_three_clips_with_a_bad_file_among_them(tmp_path, ray_tmpdir):
    pytest.importorskip("ray")
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("one.mp4", "two.mp4"):
        shutil.copy(EXAMPLE_CLIP, clips / name)
    (clips / "bad.mp4").write_text("not a video")
    out = tmp_path / "out"
    result = run_batch(tmp_path, "clips/bad.mp4", "clips/one.mp4", "clips/two.mp4", "--out", out, "--ray",
                       "--cpus-per-video", "1", "-o", "{name}.blend", "--frames", "0:8", "--min-frames", "4",
                       env=batch_env(tmp_path, RAY_TMPDIR=str(ray_tmpdir)))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Ray: 1 node(s) can take videos, each video with 1 CPU(s) and 0 GPU(s)" in result.stderr
    report = read_report(out)
    assert report["bad"]["result"] == "failed" and "cannot open bad.mp4 as a video" in report["bad"]["error"]
    for name in ("one", "two"):
        assert (report[name]["result"], report[name]["people"], report[name]["frames"]) == ("ok", [1], 8)
        assert (out / name / f"{name}.blend").stat().st_size > 100_000
    assert json.loads((out / "report.json").read_text())["runner"] == "ray (local)"
    assert not (out / ".batch" / "work").exists()
    assert_nothing_left_running(ray_tmpdir)  # the local Ray runtime went with the batch
    assert_nothing_left_running(tmp_path)
