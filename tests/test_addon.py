"""The packaged add-on inside real Blender (the bpy module): install, register, poll rules, runs, cancel, errors.

Each scenario runs in a fresh interpreter (this file run as a script) whose BLENDER_USER_RESOURCES is a temporary
folder, so installing add-ons never touches the home folder and every scenario starts from a clean Blender. The
add-on is always the built zip, so these tests also check that it carries everything it needs. Where a scenario needs
a backend without the real one, a fake `python` (a script) answers with the backend's JSON lines.
"""

import ast
import importlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = sys.executable
PACKAGE = "bl_ext.user_default.blender_vibe"
OPERATORS = ("import_video", "cancel_import", "setup_backend", "cancel_setup", "import_motion", "retarget",
             "export_character")


# --- pytest side: build the zip once, prepare inputs, run each scenario in its own interpreter ---------------------

@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory) -> Path:
    from build_addon import build

    return build(tmp_path_factory.mktemp("dist"))


def build_variant(folder: Path, version: str) -> Path:
    """The add-on built from a copy of the repository whose version is `version` and whose bundled packages and
    add-on modules carry `BUILD_MARK = version`: a stand-in for a newer release."""
    from build_addon import build

    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("blender_vibe", "smpl_rig", "backend"):
        shutil.copytree(ROOT / package, folder / package, ignore=ignore)
    for name in ("requirements.txt", "NOTICE"):
        shutil.copy(ROOT / name, folder / name)
    init = folder / "backend" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', init.read_text()))
    for module in ("smpl_rig/__init__.py", "backend/__init__.py", "blender_vibe/runner.py"):
        with open(folder / module, "a") as fh:
            fh.write(f"\nBUILD_MARK = {version!r}\n")
    return build(folder / "dist", root=folder)


@pytest.fixture
def plain_clip(tmp_path) -> Path:
    """A short video with no person: enough for the fake backend and for Blender's movie clip."""
    from tests.videos import background, write_video

    frame = background(120, 160)
    return write_video(tmp_path / "clip.mp4", [frame] * 30, fps=25.0)


@pytest.fixture
def fake_python(tmp_path) -> Path:
    """An executable standing in for the backend's interpreter: it runs FAKE_BACKEND with the backend's arguments."""
    script = tmp_path / "fake_backend.py"
    script.write_text(FAKE_BACKEND)
    python = tmp_path / "fake-python"
    # drops "-m MODULE"; the fake imports the repository's smpl_rig
    python.write_text(f'#!/bin/sh\nshift 2\nPYTHONPATH="{ROOT}" exec "{VENV_PYTHON}" "{script}" "$@"\n')
    python.chmod(0o755)
    return python


def run_scenario(name: str, tmp_path: Path, **kwargs) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "blender_user")
    result = subprocess.run([VENV_PYTHON, __file__, name, json.dumps(kwargs, default=str)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"scenario {name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"


@pytest.fixture(scope="session")
def real_backend() -> str:
    """The interpreter for the real backend; skips while `python -m backend` cannot even start."""
    probe = subprocess.run([VENV_PYTHON, "-c", "import backend.cli"], cwd=ROOT, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"the backend CLI is incomplete: {probe.stderr.strip().splitlines()[-1:]}")
    return VENV_PYTHON


def test_build_writes_one_reproducible_versioned_zip_with_sources_only(tmp_path, addon_zip):
    from backend import __version__
    from build_addon import build

    assert addon_zip.name == f"blender_vibe-{__version__}.zip"
    names = set(zipfile.ZipFile(addon_zip).namelist())
    assert all(name.startswith("blender_vibe/") for name in names), "one folder: the legacy installer needs it"
    assert {"blender_vibe/__init__.py", "blender_vibe/blender_manifest.toml", "blender_vibe/_bundled/requirements.txt",
            "blender_vibe/_bundled/__init__.py", "blender_vibe/_bundled/backend/__main__.py",
            "blender_vibe/_bundled/backend/data_folder.py", "blender_vibe/_bundled/smpl_rig/motion.py"} <= names
    assert not [name for name in names if name.endswith((".pkl", ".pth", ".tar", ".weights", ".npy", ".npz", ".pyc"))
                or "/train/" in name or "__pycache__" in name]
    assert build(tmp_path).read_bytes() == addon_zip.read_bytes(), "the same sources give the same zip"

    zipfile.ZipFile(addon_zip).extractall(tmp_path / "unpacked")
    addon = tmp_path / "unpacked" / "blender_vibe"
    env = {**os.environ, "PYTHONPATH": str(addon)}  # as runner.backend_code() starts the bundled backend
    probe = ("import _bundled.backend.cli, _bundled.backend.pipeline, _bundled.backend.estimators, "
             "_bundled.backend.vibe, _bundled.backend.tcmr, _bundled.backend.default_estimator, sys; "
             "assert not {'backend', 'smpl_rig'} & set(sys.modules), 'a top-level copy was imported'; "
             "print(_bundled.backend.__file__)")
    imported = subprocess.run([VENV_PYTHON, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert imported.returncode == 0, f"the bundled backend cannot run on its own:\n{imported.stderr[-2000:]}"
    assert imported.stdout.strip().startswith(str(addon / "_bundled" / "backend"))
    helped = subprocess.run([VENV_PYTHON, "-m", "_bundled.backend", "--help"], env=env, cwd=tmp_path,
                            capture_output=True, text=True)
    assert helped.returncode == 0 and "--out" in helped.stdout, helped.stderr[-2000:]


def test_built_code_imports_the_bundled_packages_relative_to_its_place_in_the_add_on(addon_zip):
    """Every .py of the zip: no absolute import of the repository's packages is left (they would be top-level
    modules in Blender); the rewritten forms are checked by importing every module in the extension scenario."""
    from build_addon import PLACES

    with zipfile.ZipFile(addon_zip) as archive:
        sources = {name: archive.read(name).decode() for name in archive.namelist() if name.endswith(".py")}
    absolute = []
    for name, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            absolute += [f"{name}:{node.lineno} {module}" for module in modules if module.split(".")[0] in PLACES]
    assert not absolute, absolute
    assert "from .._bundled.smpl_rig.rotations import" in sources["blender_vibe/retarget/bake.py"]
    assert "from ..smpl_rig.motion import" in sources["blender_vibe/_bundled/backend/pipeline.py"]


def test_build_rewrites_every_import_form_and_refuses_those_without_a_relative_one():
    from build_addon import relative_imports

    source = textwrap.dedent("""\
        import os, backend as b
        import smpl_rig
        from smpl_rig.motion import load_motion
        from blender_vibe.runner import LineProcess
        if True: from backend.video import \\
            VideoReader
        def f():
            from smpl_rig.blender.action import (new_action,
                                                 write_curves)
            import backend.errors as errors
            return "from backend import text stays"
    """)
    assert relative_imports(source, "blender_vibe/retarget/bake.py") == textwrap.dedent("""\
        import os; from .._bundled import backend as b
        from .._bundled import smpl_rig
        from .._bundled.smpl_rig.motion import load_motion
        from ..runner import LineProcess
        if True: from .._bundled.backend.video import \\
            VideoReader
        def f():
            from .._bundled.smpl_rig.blender.action import (new_action,
                                                 write_curves)
            from .._bundled.backend import errors as errors
            return "from backend import text stays"
    """)
    bundled = relative_imports("from smpl_rig.fk import fk\nfrom backend import __version__\n",
                               "blender_vibe/_bundled/backend/default_estimator/solver.py")
    assert bundled == "from ...smpl_rig.fk import fk\nfrom .. import __version__\n"
    for source, name, message in (
            ("import smpl_rig.motion\n", "blender_vibe/importer.py", "write 'from smpl_rig import ...'"),
            ("import blender_vibe as addon\n", "blender_vibe/headless.py", "no package-relative form"),
            ("from blender_vibe.runner import f\n", "blender_vibe/_bundled/backend/cli.py", "must not import")):
        with pytest.raises(SystemExit, match=re.escape(message)):
            relative_imports(source, name)


def test_zip_installs_upgrades_in_place_and_uninstalls_leaving_nothing(tmp_path):
    releases = [build_variant(tmp_path / version, version) for version in ("90.0.0", "91.0.0", "92.0.0")]
    run_scenario("extension_lifecycle", tmp_path, releases=releases)


def test_zip_installs_through_the_legacy_installer(tmp_path, addon_zip):
    run_scenario("legacy_install", tmp_path, zip=addon_zip)


def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(tmp_path, addon_zip, plain_clip):
    run_scenario("bad_input", tmp_path, zip=addon_zip, video=plain_clip)


def test_poll_rules_and_cancel_mid_run_leave_no_process_and_no_new_data(tmp_path, addon_zip, plain_clip,
                                                                        fake_python):
    slow = shutil.copy(plain_clip, tmp_path / "slow.mp4")
    run_scenario("cancel_mid_run", tmp_path, zip=addon_zip, video=slow, python=fake_python)


def test_run_imports_chosen_people_with_timing_and_footage_camera(tmp_path, addon_zip, plain_clip, fake_python):
    run_scenario("import_with_fake_backend", tmp_path, zip=addon_zip, video=plain_clip, python=fake_python)


def test_failed_backend_reports_error_with_log_and_changes_nothing(tmp_path, addon_zip, plain_clip, fake_python):
    failing = shutil.copy(plain_clip, tmp_path / "fail.mp4")
    run_scenario("backend_failure", tmp_path, zip=addon_zip, video=failing, python=fake_python)


def test_setup_backend_builds_an_environment_and_shows_a_failing_log(tmp_path, addon_zip):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "tinypkg-1.0-py3-none-any.whl", "w") as wheel:  # the smallest valid wheel
        info = "tinypkg-1.0.dist-info"
        wheel.writestr("tinypkg/__init__.py", "ANSWER = 42\n")
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", f"tinypkg/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    fake_backend = tmp_path / "fake_packages" / "backend"
    fake_backend.mkdir(parents=True)
    (fake_backend / "__init__.py").write_text("")
    (fake_backend / "__main__.py").write_text("import tinypkg\nprint('backend help', tinypkg.ANSWER)\n")
    (fake_backend / "detector_model.py").write_text("print('detector model installed')\n")
    run_scenario("setup_backend", tmp_path, zip=addon_zip, wheels=wheels, pythonpath=fake_backend.parent)


def test_real_backend_on_a_generated_clip_imports_an_armature(tmp_path, addon_zip, real_backend):
    from tests.videos import moving_people, write_video

    frames, _ = moving_people(40, 240, 320, [((100, 10), (120, 20))], person_height=220)
    clip = write_video(tmp_path / "person.mp4", frames, fps=25.0)
    run_scenario("real_backend", tmp_path, zip=addon_zip, video=clip, python=real_backend)


def test_real_backend_on_a_broken_video_reports_a_clear_error_and_changes_nothing(tmp_path, addon_zip, real_backend):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    run_scenario("real_backend_bad_video", tmp_path, zip=addon_zip, video=broken, python=real_backend)


def headless(tmp_path: Path, *args) -> subprocess.CompletedProcess:
    """`python -m blender_vibe ARGS` from the repository, run in `tmp_path`; run folders go to tmp_path/runs."""
    (tmp_path / "runs").mkdir(exist_ok=True)
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "blender_user"), "PYTHONPATH": str(ROOT),
           "TMPDIR": str(tmp_path / "runs")}
    return subprocess.run([VENV_PYTHON, "-m", "blender_vibe", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)


def test_headless_command_saves_blend_or_fbx_and_refuses_bad_input(tmp_path, plain_clip, fake_python):
    blend = tmp_path / "result.blend"
    result = headless(tmp_path, plain_clip, "-o", blend, "--python", fake_python, "--people", "1")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Imported 1 of 2 people (track ids 1; the video has 1, 2)" in result.stdout
    assert "  Person 1: frames 1-30 (30 tracked), about 50 px tall\n" in result.stdout, "everyone found is listed"
    assert "  Person 2: frames 6-30 (25 tracked), about 50 px tall (not imported)\n" in result.stdout
    assert f"saved {blend}" in result.stdout
    run_scenario("check_saved_blend", tmp_path, blend=blend)

    fbx = tmp_path / "result.fbx"
    relative_python = fake_python.relative_to(tmp_path)  # resolved where the command starts, not in the run folder
    result = headless(tmp_path, plain_clip, "-o", fbx, "--python", relative_python, "--people", "1",
                      "--min-frames", "5")
    assert result.returncode == 0, result.stderr[-4000:]
    data = fbx.read_bytes()
    assert data.startswith(b"Kaydara FBX Binary") and b"Person 1" in data and b"AnimationCurve" in data
    assert not list((tmp_path / "runs").glob("blender_vibe-*")), "a finished run leaves no run folder behind"

    missing = headless(tmp_path, tmp_path / "missing.mp4", "-o", blend)
    assert missing.returncode == 2 and "Video not found" in missing.stderr
    wrong = headless(tmp_path, plain_clip, "-o", tmp_path / "result.txt")
    assert wrong.returncode == 2 and "must end in .blend, .fbx" in wrong.stderr
    wrong = headless(tmp_path, plain_clip, "-o", blend, "--preview-video", tmp_path / "preview.mov")
    assert wrong.returncode == 2 and "--preview-video must end in .mp4 or .avi; got preview.mov" in wrong.stderr
    not_blend = headless(tmp_path, plain_clip, "-o", fbx, "--python", fake_python, "--target", plain_clip)
    assert not_blend.returncode == 2 and "--target must be a .blend file" in not_blend.stderr
    for option, value in (("--smooth", "-1"), ("--smooth", "nan"), ("--min-frames", "0")):
        refused = headless(tmp_path, plain_clip, "-o", blend, option, value)
        assert refused.returncode == 2 and f"argument {option}" in refused.stderr, refused.stderr


PROGRESS_LINE = re.compile(r"(Starting|[A-Z][a-z]+ \d+/\d+(, about \d+(\.\d)? (s|min|h) left)?)")


def test_headless_with_the_real_backend_keeps_the_terminal_for_progress_and_results(tmp_path, real_backend):
    from tests.videos import moving_people, write_video

    frames, _ = moving_people(30, 240, 320, [((100, 10), (120, 20))], person_height=220)
    clip = write_video(tmp_path / "person.mp4", frames, fps=25.0)
    fbx = tmp_path / "out" / "person.fbx"
    result = headless(tmp_path, clip, "-o", fbx, "--python", real_backend, "--estimator", "default",
                      "--min-frames", "5")
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.splitlines()
    assert lines[2:] == [f"saved {fbx}"] and re.fullmatch(r"  Person 1: frames 1-30 \(30 tracked\), about \d+ px tall",
                                                          lines[1]), lines
    assert result.stdout.startswith("Imported 1 of 1 people")
    chatter = [line for line in result.stderr.splitlines() if not PROGRESS_LINE.fullmatch(line)]
    assert chatter == ["warning: No floor: the feet touch a visible floor on 0 frames, fewer than 20 (feet out of "
                       "view, or close-ups); the people stay in the camera's frame."], chatter  # a portrait: no feet
    assert "FBX export starting" in (tmp_path / "out" / "person.log").read_text(), "the exporter's chatter is logged"


def test_headless_fbx_holds_every_person(tmp_path, plain_clip, fake_python):
    fbx = tmp_path / "all.fbx"
    result = headless(tmp_path, plain_clip, "-o", fbx, "--python", fake_python)
    assert result.returncode == 0, result.stderr[-4000:]
    data = fbx.read_bytes()
    assert b"Person 1" in data and b"Person 2" in data, "person 2 (first seen at video frame 5) is missing"


def _drawn_mask(picture, footage):
    """Pixels a preview drew over the footage (BGR pictures of the same size)."""
    return np.abs(picture.astype(int) - footage.astype(int)).sum(axis=-1) > 90


def _near(picture, colour, tolerance: int = 60) -> int:
    """How many pixels are within `tolerance` of a BGR colour (compressed video smears colours a little)."""
    return int((np.abs(picture.astype(int) - np.array(colour)).max(axis=-1) < tolerance).sum())


def _pelvis_drawn_at(drawn, u: float) -> bool:
    """Skeleton drawn at the fake people's pelvis: 6 m away, 0.2 m below the optical axis, x = u pixels (with
    f = the image diagonal, 200 px, the pelvis row is v = 66.7)."""
    ys, xs = np.nonzero(drawn)
    return bool(np.any((np.abs(ys - 66.7) < 4) & (np.abs(xs - u) < 5)))


def test_headless_writes_several_formats_and_previews_over_the_footage(tmp_path, plain_clip, fake_python):
    import cv2

    from backend.video import VideoReader
    from blender_vibe.drawing import person_colour

    outputs = [tmp_path / f"all.{suffix}" for suffix in ("blend", "fbx", "bvh", "glb")]
    sheet_path, video_path = tmp_path / "preview.png", tmp_path / "preview.mp4"
    args = [arg for output in outputs for arg in ("-o", output)]
    result = headless(tmp_path, plain_clip, *args, "--python", fake_python, "--preview", sheet_path,
                      "--preview-video", video_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert outputs[2].read_text().startswith("HIERARCHY") and outputs[3].read_bytes()[:4] == b"glTF"
    assert outputs[1].read_bytes().startswith(b"Kaydara FBX Binary") and outputs[0].stat().st_size > 0
    assert f"saved {sheet_path}" in result.stdout and f"saved {video_path}" in result.stdout

    # The fake people walk from x = 0 to 0.3 m over video frames 0..29 (pelvis at u = 80..90 px); person 2 is seen
    # from frame 5. Every frame of the plain clip is the same picture, so what differs from it was drawn.
    _, footage = next(iter(VideoReader(plain_clip)))
    footage = cv2.cvtColor(footage, cv2.COLOR_RGB2BGR)
    sheet = cv2.imread(str(sheet_path))
    assert sheet.shape == (2 * 120 + 4, 3 * 160 + 2 * 4, 3), "six frames, three to a row, 4 px apart"
    tiles = [sheet[r * 124:r * 124 + 120, c * 164:c * 164 + 160] for r in range(2) for c in range(3)]
    drawn = [_drawn_mask(tile, footage) for tile in tiles]
    assert _pelvis_drawn_at(drawn[0], 80) and _pelvis_drawn_at(drawn[-1], 90), "the first and last frames"
    for mask in drawn:
        xs = np.nonzero(mask[20:])[1]  # below the frame number
        assert xs.min() > 40 and xs.max() < 130, "nothing drawn far from the people"
    one, two = person_colour(1), person_colour(2)
    assert _near(tiles[0], one, 10) > 20 and _near(tiles[0], two, 10) == 0, "frame 1: only person 1"
    assert _near(tiles[-1], two, 10) > 20, "the last frame: person 2 too, in their own colour"

    reader = VideoReader(video_path)
    assert (reader.num_frames, reader.fps, reader.width, reader.height) == (30, 25.0, 160, 120)
    frames = [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for _, rgb in reader]
    assert _pelvis_drawn_at(_drawn_mask(frames[0], footage), 80)
    assert _pelvis_drawn_at(_drawn_mask(frames[29], footage), 90)
    assert _near(frames[4], two) < 5 < 20 < _near(frames[5], two), "person 2 appears at video frame 5"


def test_headless_preview_of_a_frame_the_video_lacks_is_a_clear_error(tmp_path, fake_python):
    from tests.videos import background, write_video

    short = write_video(tmp_path / "short.mp4", [background(120, 160)] * 8, fps=25.0)  # the motion spans 30 frames
    result = headless(tmp_path, short, "-o", tmp_path / "s.blend", "--python", fake_python, "--preview",
                      tmp_path / "s.png")
    assert result.returncode == 1 and "No preview" in result.stderr and "Traceback" not in result.stderr


def test_headless_retargets_onto_a_character_from_a_blend_file(tmp_path, plain_clip, fake_python):
    character = tmp_path / "hero.blend"
    run_scenario("save_character", tmp_path, path=character)
    fbx, bvh = tmp_path / "hero.fbx", tmp_path / "hero.bvh"
    result = headless(tmp_path, plain_clip, "-o", fbx, "-o", bvh, "--python", fake_python, "--target", character)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "retargeted person 1 onto Hero" in result.stdout
    data = fbx.read_bytes()
    assert b"mixamorig:Hips" in data and b"Person 1" not in data and b"AnimationCurve" in data
    assert "mixamorig:LeftForeArm" in bvh.read_text() and "L_Elbow" not in bvh.read_text()
    missing = headless(tmp_path, plain_clip, "-o", fbx, "--python", fake_python, "--target", tmp_path / "no.blend")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_panel_and_preferences_show_settings_reasons_progress_and_the_data_folder_check(tmp_path, addon_zip,
                                                                                        plain_clip, fake_python):
    data = tmp_path / "vibe_data"
    data.mkdir()
    for name in ("vibe_model_wo_3dpw.pth.tar", "spin_model_checkpoint.pth.tar", "SMPL_NEUTRAL.pkl",
                 "J_regressor_extra.npy"):
        (data / name).write_bytes(b"stand-in")
    slow = shutil.copy(plain_clip, tmp_path / "slow.mp4")
    run_scenario("ui_draw", tmp_path, zip=addon_zip, data_dir=data, video=slow, python=fake_python)


# --- the fake backend ----------------------------------------------------------------------------------------------

FAKE_BACKEND = textwrap.dedent('''
    """Plays `python -m backend VIDEO --out DIR ...`; the video's name picks the behaviour (slow, fail, else ok)."""
    import json, os, subprocess, sys, time

    import numpy as np
    from smpl_rig.motion import Motion, Person, save_motion

    args = sys.argv[1:]
    video, out = args[0], args[args.index("--out") + 1]
    name = os.path.basename(video)

    def emit(**fields):
        print(json.dumps(fields), flush=True)

    def person(first, n):
        t = np.linspace(0, 1, n)
        pose = np.zeros((n, 72))
        pose[:, 0] = np.pi  # upright, facing the camera (VIBE's camera frame: y down)
        pose[:, 3 * 16 + 2] = -1.0 + 0.5 * np.sin(6 * t)  # left shoulder swings
        trans = np.stack([0.3 * t, np.full(n, 0.2), np.full(n, 6.0)], axis=1)
        return Person(pose=pose, betas=np.zeros((n, 10)), trans=trans, cam=np.tile([1.0, 0, 0], (n, 1)),
                      orig_cam=np.tile([0.2, 0.27, 0, 0], (n, 1)), bboxes=np.tile([80, 60, 50, 50], (n, 1)),
                      frame_ids=np.arange(first, first + n), joints3d=np.zeros((n, 49, 3)))

    emit(stage="setup", estimator="default", reason="fake")
    if name.startswith("slow"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(out, "child.pid"), "w") as fh:
            fh.write(str(child.pid))
        emit(stage="detect", done=1, total=100)
        time.sleep(120)
    if name.startswith("fail"):
        with open(os.path.join(out, "backend.log"), "w") as fh:
            fh.write("details of the failure")
        emit(error="The video has no readable frames.", fix="Re-encode it as H.264 MP4.",
             log=os.path.join(out, "backend.log"))
        sys.exit(1)
    for i in range(1, 5):
        emit(stage="detect", done=i, total=4)
    motion = Motion(fps=25.0, width=160, height=120, estimator="default", source=video,
                    people={1: person(0, 30), 2: person(5, 25)})
    path = save_motion(motion, os.path.join(out, "motion.npz"))
    from backend.people_summary import summarise, write_summary
    thumbnail = np.zeros((128, 128, 3), np.uint8)
    thumbnail[20:110, 50:78] = (200, 40, 40)
    write_summary(out, summarise(motion.people), {1: thumbnail})  # person 2's thumbnail is missing
    emit(result="ok", motion=path.as_posix(), people=[1, 2], log=os.path.join(out, "backend.log"))
''')


# --- scenarios: run inside a fresh interpreter as `python test_addon.py NAME JSON` ---------------------------------

def _install_extension(zip_path: str):
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                      enable_on_install=True)
    assert result == {"FINISHED"}, result
    assert PACKAGE in bpy.context.preferences.addons, "installed but not enabled"
    return sys.modules[PACKAGE]


def _raise(exc: BaseException) -> None:
    raise exc


def _assert_registered(registered: bool) -> None:
    import bpy

    for name in OPERATORS:
        assert hasattr(bpy.types, f"VIBE_OT_{name}") == registered, name
    for panel in ("VIBE_PT_import_motion", "VIBE_PT_retarget", "VIBE_PT_export"):
        assert hasattr(bpy.types, panel) == registered, panel
    assert hasattr(bpy.types.Scene, "vibe_video") == registered


def _data_blocks() -> set[tuple[str, str]]:
    import bpy

    return {(type(block).__name__, block.name_full) for block in bpy.data.user_map()}


def _scene_state() -> tuple:
    import bpy

    scene = bpy.context.scene
    render = scene.render
    return (render.fps, render.fps_base, scene.frame_start, scene.frame_end, scene.frame_current,
            getattr(scene.camera, "name", None), render.resolution_x, render.resolution_y)


def _set_preferences(python: str = "", data_dir: str = "") -> None:
    import bpy

    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.python_path, prefs.data_dir = python, data_dir


def _import_error() -> str:
    """Run the import operator expecting it to fail; Blender turns its error report into RuntimeError."""
    import bpy

    try:
        result = bpy.ops.vibe.import_video()
    except RuntimeError as exc:
        return str(exc)
    raise AssertionError(f"the import did not report an error: {result}")


def _ours() -> list[str]:
    """Loaded modules of ours: the add-on's package and anything named like what it bundles."""
    tops = ("blender_vibe", "backend", "smpl_rig", "_bundled")
    return sorted(name for name in sys.modules if name.startswith(PACKAGE) or name.split(".")[0] in tops)


def _check_version_everywhere(module, version: str) -> None:
    """The add-on runs `version`'s code throughout: its modules, the bundled packages, the registered classes, and
    every function, class or module one of its modules refers to is the one now loaded (none left from before)."""
    import addon_utils
    import bpy

    assert module is sys.modules[PACKAGE] and module.__version__ == version
    assert addon_utils.module_bl_info(module)["version"] == tuple(int(x) for x in version.split("."))
    for name in ("_bundled.smpl_rig", "_bundled.backend", "runner"):
        assert getattr(importlib.import_module(f"{PACKAGE}.{name}"), "BUILD_MARK", None) == version, name
    loaded = {name: sys.modules[name] for name in _ours()}
    assert all(name.startswith(PACKAGE) for name in loaded), "only the add-on's own package is loaded"
    folder = Path(module.__file__).parent
    for name, loaded_module in loaded.items():
        assert Path(loaded_module.__file__).is_relative_to(folder), name
        for value in vars(loaded_module).values():
            owner = getattr(value, "__module__", None) if isinstance(value, (type, types.FunctionType)) else None
            if isinstance(value, types.ModuleType) and value.__name__.startswith(PACKAGE):
                assert sys.modules.get(value.__name__) is value, f"{name} refers to an old {value.__name__}"
            elif owner and owner.startswith(PACKAGE) and value.__qualname__ == value.__name__:
                assert vars(sys.modules[owner]).get(value.__name__) is value, f"{name} holds an old {owner}.{value}"
    for operator in OPERATORS:
        cls = getattr(bpy.types, f"VIBE_OT_{operator}")
        assert getattr(sys.modules[cls.__module__], cls.__name__) is cls, f"{operator} is registered from old code"


def _install(zip_path: str, version: str):
    import addon_utils

    path_before = list(sys.path)
    module = _install_extension(zip_path)
    _assert_registered(True)
    _check_version_everywhere(module, version)
    assert sys.path == path_before, "installing changed sys.path"
    addon_utils._extensions_warnings_get._is_first = True  # recompute Blender's policy check (sys.path, modules)
    assert PACKAGE not in addon_utils._extensions_warnings_get(), addon_utils._extensions_warnings_get()[PACKAGE]
    return module


def _uninstall() -> None:
    import bpy

    repos = [repo.module for repo in bpy.context.preferences.extensions.repos]
    folder = Path(sys.modules[PACKAGE].__file__).parent if PACKAGE in sys.modules else None
    result = bpy.ops.extensions.package_uninstall(repo_index=repos.index("user_default"), pkg_id="blender_vibe")
    assert result == {"FINISHED"} and (folder is None or not folder.exists())
    _assert_registered(False)


def scenario_extension_lifecycle(releases: list[str]) -> None:
    """Install, upgrade in place while enabled, disable and re-enable, upgrade while disabled, uninstall (three
    releases 90, 91 and 92 of the add-on)."""
    import addon_utils
    import bpy
    from bl_pkg.cli.blender_ext import pkg_manifest_from_archive_and_validate

    manifest = pkg_manifest_from_archive_and_validate(releases[0], strict=True)
    assert not isinstance(manifest, str), f"Blender rejects the manifest: {manifest}"
    assert manifest.version == "90.0.0"
    module = _install(releases[0], "90.0.0")
    for name in sorted(Path(module.__file__).parent.rglob("*.py")):  # every module imports inside the package
        if name.name != "__main__.py":
            parts = name.relative_to(Path(module.__file__).parent).with_suffix("").parts
            importlib.import_module(".".join((PACKAGE, *parts)).removesuffix(".__init__"))
    assert not [name for name in _ours() if not name.startswith(PACKAGE)], _ours()

    _install(releases[1], "91.0.0")
    for _ in range(2):
        addon_utils.disable(PACKAGE, default_set=True, handle_error=_raise)
        _assert_registered(False)
        assert PACKAGE not in bpy.context.preferences.addons
        assert _ours() in ([], [PACKAGE]), "only the package Blender keeps for a disabled add-on is left"
        module = addon_utils.enable(PACKAGE, default_set=True, handle_error=_raise)
        _assert_registered(True)
        _check_version_everywhere(module, "91.0.0")
    addon_utils.disable(PACKAGE, default_set=True, handle_error=_raise)
    _install(releases[2], "92.0.0")

    _uninstall()
    assert not _ours() and not [path for path in sys.path if "blender_vibe" in path], (_ours(), sys.path)
    _install(releases[0], "90.0.0")  # and an older one after the removal, in the same session
    addon_utils.disable(PACKAGE, default_set=True, handle_error=_raise)
    _uninstall()
    assert _ours() in ([], [PACKAGE]) and not [path for path in sys.path if "blender_vibe" in path]


def scenario_legacy_install(zip: str) -> None:
    import addon_utils
    import bpy

    assert bpy.ops.preferences.addon_install(filepath=zip) == {"FINISHED"}
    for _ in range(2):
        module = addon_utils.enable("blender_vibe", default_set=True, handle_error=_raise)
        assert module is not None
        _assert_registered(True)
        assert module.bl_info["version"] == tuple(int(x) for x in module.__version__.split("."))
        assert module.preferences.addon_preferences(bpy.context) is not None
        addon_utils.disable("blender_vibe", default_set=True, handle_error=_raise)
        _assert_registered(False)


def scenario_bad_input(zip: str, video: str) -> None:
    import bpy

    module = _install_extension(zip)
    job_op = module.job_op
    settings = bpy.context.scene.vibe_video
    before, state = _data_blocks(), _scene_state()
    _set_preferences(python=VENV_PYTHON)

    def refused(expected: str, **changes) -> None:
        saved = {key: getattr(settings, key) for key in changes}
        for key, value in changes.items():
            setattr(settings, key, value)
        try:
            job_op.start_job(settings.request(bpy.context))
        except job_op.JobError as exc:
            assert expected in str(exc), f"expected {expected!r} in {exc}"
            assert exc.fix, "every refusal says what to do"
        else:
            raise AssertionError(f"{changes} was accepted")
        assert expected in _import_error()
        assert job_op.active_job() is None
        for key, value in saved.items():
            setattr(settings, key, value)

    refused("No video chosen", video="")
    refused("Video not found", video=video + ".missing")
    settings.video = video
    refused("Track ids", people="CHOSEN", person_ids="1, two")
    refused("No track ids given", people="CHOSEN", person_ids=" ")
    refused("frame range 30-20 is empty", use_frame_range=True, frame_first=30, frame_last=20)
    refused("VIBE cannot run: no data folder is set", estimator="VIBE")
    _set_preferences(python=str(Path(video).parent / "no-python"))
    refused("The backend is not set up")
    assert _data_blocks() == before and _scene_state() == state


def scenario_cancel_mid_run(zip: str, video: str, python: str) -> None:
    import bpy
    from processes import is_running  # tests/ is this script's folder

    module = _install_extension(zip)
    job_op = module.job_op
    _set_preferences(python=python)
    bpy.context.scene.vibe_video.video = video
    before, state = _data_blocks(), _scene_state()
    assert bpy.ops.vibe.import_video.poll() and not bpy.ops.vibe.cancel_import.poll()
    job = job_op.start_job(bpy.context.scene.vibe_video.request(bpy.context))
    deadline = time.monotonic() + 60
    while job.poll(bpy.context) == job_op.RUNNING and job.progress.stage != "detect":
        assert time.monotonic() < deadline, "the fake backend never reported progress"
        time.sleep(0.05)
    assert job.state == job_op.RUNNING and job.progress.fraction == 0.01
    assert "Detect 1/100" in job.status_text()
    assert not bpy.ops.vibe.import_video.poll(), "a second import is refused while one runs"
    assert bpy.ops.vibe.cancel_import.poll()
    try:
        job_op.start_job(bpy.context.scene.vibe_video.request(bpy.context))
    except job_op.JobError as exc:
        assert "already running" in str(exc)
    else:
        raise AssertionError("a second job started")
    pids = (job.run.pid, int((job.out_dir / "child.pid").read_text()))
    assert all(is_running(pid) for pid in pids)
    assert bpy.ops.vibe.cancel_import() == {"FINISHED"}
    assert job.poll(bpy.context) == job_op.CANCELLED
    assert not any(is_running(pid) for pid in pids), "the backend and its child are gone"
    assert not job.out_dir.exists()
    assert _data_blocks() == before and _scene_state() == state
    assert bpy.ops.vibe.import_video.poll() and not bpy.ops.vibe.cancel_import.poll()
    assert job_op.last_job() is job and "cancelled" in job.message


def scenario_import_with_fake_backend(zip: str, video: str, python: str) -> None:
    import bpy
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    module = _install_extension(zip)
    _set_preferences(python=python)
    settings = bpy.context.scene.vibe_video
    settings.video, settings.people, settings.person_ids = video, "CHOSEN", "2"
    assert bpy.ops.vibe.import_video() == {"FINISHED"}
    job = module.job_op.last_job()
    assert job.state == module.job_op.FINISHED and (job.out_dir / "motion.npz").is_file()
    armatures = [obj for obj in bpy.data.objects if obj.type == "ARMATURE"]
    assert [(a.name, a["vibe_track_id"]) for a in armatures] == [("Person 2", 2)]
    assert armatures[0].animation_data.action is not None
    scene = bpy.context.scene
    assert scene.render.fps / scene.render.fps_base == 25.0
    assert (scene.frame_start, scene.frame_end) == (1, 30)  # video frames 0..29, person 2 seen from frame 5

    camera = scene.camera
    assert camera is not None and camera.users_collection[0] == armatures[0].users_collection[0]
    background = camera.data.background_images[0]
    assert camera.data.show_background_images and background.source == "MOVIE_CLIP"
    assert Path(bpy.path.abspath(background.clip.filepath)) == Path(video).resolve()
    assert background.clip.frame_start == 1, "video frame 0 shows at scene frame 1, where the importer keys it"
    assert (scene.render.resolution_x, scene.render.resolution_y) == (160, 120)
    looks = camera.matrix_world.to_3x3() @ Vector((0, 0, -1))
    assert (looks - Vector((0, 1, 0))).length < 1e-6, "the camera looks along +Y"
    # A camera-frame point (x right, y down, z forward) lands where the backend's pinhole camera puts it,
    # focal length = image diagonal in pixels.
    width, height, focal = 160, 120, math.hypot(160, 120)
    for x, y, z in ((0.0, 0.0, 5.0), (0.4, -0.3, 4.0), (-1.0, 0.5, 8.0)):
        u, v = focal * x / z + width / 2, focal * y / z + height / 2
        ndc = world_to_camera_view(scene, camera, Vector((x, z, -y)))
        assert abs(ndc.x * width - u) < 1e-3 and abs((1 - ndc.y) * height - v) < 1e-3, (ndc, u, v)
    _check_found_people(module, job)


def _check_found_people(module, job) -> None:
    """After the run with track id 2 chosen: the list shows both people, 2 ticked; re-import 1 without a run."""
    import bpy

    result = bpy.context.scene.vibe_result
    rows = [(p.track_id, p.use, p.first_frame, p.last_frame, p.frames, round(p.height_px)) for p in result.people]
    assert rows == [(1, False, 1, 30, 30, 50), (2, True, 6, 30, 25, 50)], rows
    people_list = module.people_list
    assert tuple(people_list.thumbnail(result.people[0].thumbnail).image_size) == (128, 128)
    assert people_list.thumbnail(result.people[1].thumbnail) is None, "a missing thumbnail is no icon, no error"
    text, calls = _draw(people_list.VIBE_PT_found_people.draw, None)
    assert "2 people in" in text and "Person 1: frames 1-30 (30 tracked), about 50 px tall" in text
    assert any(name == "template_list" for name, _ in calls) and any(name == "template_icon" for name, _ in calls)
    assert ("operator", {"operator": "vibe.import_found_people", "text": "Import ticked (1)", "icon": "IMPORT"}) \
        in calls
    text, _ = _draw(lambda self, context: people_list.VIBE_UL_found_people.draw_item(
        self, context, self.layout, result, result.people[1], 0, result, "index"), None)
    assert text == "Person 2 6-30 50 px"

    assert bpy.ops.vibe.tick_found_people(tick=False) == {"FINISHED"}
    assert not people_list.VIBE_OT_import_found_people.poll(bpy.context), "nobody ticked"
    result.people[0].use = True
    assert bpy.ops.vibe.import_found_people() == {"FINISHED"}
    assert module.job_op.last_job() is job, "no new backend run"
    armatures = sorted((obj.name, obj["vibe_track_id"]) for obj in bpy.data.objects if obj.type == "ARMATURE")
    assert armatures == [("Person 1", 1), ("Person 2", 2)], armatures
    assert len(result.people) == 2, "the list stays"
    os.remove(result.motion)
    try:
        bpy.ops.vibe.import_found_people()
        raise AssertionError("a result that is gone must be reported")
    except RuntimeError as exc:
        assert "is gone" in str(exc) and "run Import again" in str(exc), exc


def _import_fails_leaving_the_scene(zip: str, video: str, python: str):
    """Install, import `video` through the panel's operator; it must fail and change nothing. (job, report)"""
    import bpy

    module = _install_extension(zip)
    _set_preferences(python=python)
    bpy.context.scene.vibe_video.video = video
    before, state = _data_blocks(), _scene_state()
    error = _import_error()
    job = module.job_op.last_job()
    assert job.state == module.job_op.FAILED, job.message
    assert _data_blocks() == before and _scene_state() == state
    return job, error


def scenario_backend_failure(zip: str, video: str, python: str) -> None:
    job, error = _import_fails_leaving_the_scene(zip, video, python)
    assert job.message == "The video has no readable frames. Re-encode it as H.264 MP4."
    assert f"{job.message} Log: {job.log}" in error, "the report names the log file"
    assert Path(job.log).read_text() == "details of the failure"


def scenario_setup_backend(zip: str, wheels: str, pythonpath: str) -> None:
    module = _install_extension(zip)
    setup = module.setup_backend
    names = setup.requirement_names(module.runner.backend_code().requirements)
    assert {"torch", "opencv-python-headless", "mediapipe"} <= set(names), names
    for line, name in (("Collecting opencv-python-headless==4.10.0.84", "opencv-python-headless"),
                       ("Requirement already satisfied: numpy==1.26.4 in ./lib", "numpy"),
                       ("Processing ./Tiny_Pkg-1.0-py3-none-any.whl", "tiny-pkg"),
                       ("Downloading torch-2.13.0-cp311-manylinux.whl (800 MB)", None)):
        assert setup.pip_requirement(line) == name, line
    folder = Path(wheels).parent
    venv = folder / "venv"
    offline = ("--no-index", "--find-links", wheels)

    def run(requirements: str):
        (folder / "requirements.txt").write_text(requirements)
        code = module.runner.BackendCode(Path(pythonpath), "backend", folder / "requirements.txt")
        job = setup.SetupJob(venv, folder / "requirements.txt", base_python=VENV_PYTHON, pip_args=offline, code=code)
        fractions = []
        while job.poll() is None:
            fractions.append(job.fraction)
            time.sleep(0.1)
        assert fractions == sorted(fractions), "the bar never goes back"
        return job

    job = run("# a package no index has\nno-such-package-blender-vibe==1.0\n")
    assert job.succeeded is False and job.error.startswith("Installing packages")
    assert "exit code" in job.error and any("no-such-package-blender-vibe" in line for line in job.tail)
    assert "no-such-package-blender-vibe" in job.log_path.read_text()

    job = run("# pinned\ntinypkg==1.0\n")
    assert job.succeeded is True, f"{job.error}\n{job.log_path.read_text()}"
    assert job.fraction == 1.0 and setup.venv_python(venv).is_file()
    assert "backend help 42" in job.log_path.read_text(), "the check step ran the backend in the new environment"
    assert "detector model installed" in job.log_path.read_text(), "the model step ran in the new environment"

    # a step whose program is missing (here: a "venv" step that made no environment) ends the job with a message
    job = setup.SetupJob(folder / "no-venv", folder / "requirements.txt", base_python=shutil.which("true"))
    deadline = time.monotonic() + 60
    while job.poll() is None:
        assert time.monotonic() < deadline, "the setup never ended"
        time.sleep(0.05)
    assert job.succeeded is False and job.error.startswith("Installing packages") and "could not start" in job.error


def scenario_real_backend(zip: str, video: str, python: str) -> None:
    import bpy
    from processes import group_members  # tests/ is this script's folder

    module = _install_extension(zip)
    _set_preferences(python=python)
    settings = bpy.context.scene.vibe_video
    settings.video, settings.estimator, settings.device = video, "DEFAULT", "CPU"
    before, state = _data_blocks(), _scene_state()
    job = module.job_op.start_job(settings.request(bpy.context))
    while job.poll(bpy.context) == module.job_op.RUNNING and job.progress.stage in ("starting", "setup"):
        time.sleep(0.05)
    assert job.state == module.job_op.RUNNING, f"the backend ended before it could be cancelled: {job.message}"
    group = job.run.pid
    job.cancel()
    assert not group_members(group), "the backend's process group is gone"
    assert _data_blocks() == before and _scene_state() == state

    assert bpy.ops.vibe.import_video() == {"FINISHED"}, module.job_op.last_job().message
    armatures = [obj for obj in bpy.data.objects if obj.type == "ARMATURE"]
    assert armatures and all(a.animation_data.action is not None for a in armatures)
    assert bpy.context.scene.camera.data.background_images[0].clip is not None


def scenario_real_backend_bad_video(zip: str, video: str, python: str) -> None:
    job, error = _import_fails_leaving_the_scene(zip, video, python)
    assert "broken.mp4" in job.message, job.message
    assert job.log in error
    assert Path(job.log).is_file()


def scenario_check_saved_blend(blend: str) -> None:
    import bpy

    bpy.ops.wm.open_mainfile(filepath=blend)
    armatures = [obj for obj in bpy.data.objects if obj.type == "ARMATURE"]
    assert [a["vibe_track_id"] for a in armatures] == [1]
    assert bpy.context.scene.camera.data.background_images[0].clip is not None

class _CheckedLayout:
    """UILayout stand-in for background mode, which has no UI: every call is checked against UILayout's RNA
    definition (function, argument names, icons and other enum values, property names, operator ids) and recorded
    as (function, arguments)."""

    def __init__(self, calls: list) -> None:
        object.__setattr__(self, "calls", calls)

    def __setattr__(self, name, value) -> None:
        import bpy

        assert name in bpy.types.UILayout.bl_rna.properties, f"UILayout has no attribute {name}"

    def __getattr__(self, name):
        import bpy

        function = bpy.types.UILayout.bl_rna.functions[name]
        parameters = [p for p in function.parameters if not p.is_output]

        def call(*args, **kwargs):
            bound = dict(zip([p.identifier for p in parameters], args, strict=False)) | kwargs
            for key, value in bound.items():
                parameter = function.parameters[key]
                if parameter.type == "ENUM":
                    assert value in parameter.enum_items.keys(), f"{name}({key}={value!r}) is not a valid value"
            if name == "prop":
                assert bound["property"] in bound["data"].bl_rna.properties, bound["property"]
            self.calls.append((name, bound))
            if name == "operator":
                category, operator = bound["operator"].split(".")
                return _CheckedOperatorProperties(getattr(getattr(bpy.ops, category), operator).get_rna_type())
            return _CheckedLayout(self.calls)

        return call


class _CheckedOperatorProperties:
    def __init__(self, rna) -> None:
        object.__setattr__(self, "rna", rna)

    def __setattr__(self, name, value) -> None:
        prop = self.rna.properties[name]
        assert prop.type != "ENUM" or value in prop.enum_items.keys(), (name, value)


def _draw(draw, owner) -> tuple[str, list]:
    """Run a draw method on `owner`'s data with a checked layout: (all label text joined, the calls)."""
    import bpy

    calls = []

    class Drawn:
        layout = _CheckedLayout(calls)

        def __getattr__(self, name):
            return getattr(owner, name)

    draw(Drawn(), bpy.context)
    return " ".join(bound.get("text", "") for name, bound in calls if name == "label"), calls


def scenario_ui_draw(zip: str, data_dir: str, video: str, python: str) -> None:
    import bpy

    module = _install_extension(zip)
    panel, job_op = module.panel.VIBE_PT_import_motion, module.job_op
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    settings = bpy.context.scene.vibe_video
    _set_preferences(python=python, data_dir=data_dir)
    settings.video, settings.people, settings.use_frame_range = video, "CHOSEN", True

    text, calls = _draw(panel.draw, None)
    assert "Using VIBE with vibe_model_wo_3dpw.pth.tar (TCMR would also need tcmr_demo_model.pth.tar)" in text
    drawn = {bound.get("property") or bound.get("operator") for name, bound in calls}
    assert {"video", "estimator", "people", "person_ids", "frame_first", "frame_last", "min_frames", "rejoin",
            "smoothing", "device", "vibe.import_video"} <= drawn
    settings.estimator = "TCMR"
    text, _ = _draw(panel.draw, None)
    assert "TCMR cannot run" in text and "tcmr_demo_model.pth.tar" in text

    settings.estimator, settings.people = "AUTO", "ALL"
    settings.min_frames, settings.rejoin = 7, 2.5
    assert settings.request(bpy.context).min_frames == 7 and settings.request(bpy.context).rejoin == 2.5
    job = job_op.start_job(settings.request(bpy.context))
    while job.poll(bpy.context) == job_op.RUNNING and job.progress.stage != "detect":
        time.sleep(0.05)
    text, calls = _draw(panel.draw, None)
    progress = [bound for name, bound in calls if name == "progress"]
    assert progress[0]["factor"] == 0.01 and progress[0]["text"].startswith("Detect 1/100")
    assert ("operator", {"operator": "vibe.cancel_import", "text": "", "icon": "CANCEL"}) in calls
    job.cancel()
    text, _ = _draw(panel.draw, None)
    assert "Import cancelled" in text

    text, calls = _draw(type(prefs).draw, prefs)
    assert f"Using {python}" in text
    shown = {bound["text"]: bound.get("icon") for name, bound in calls if name == "label"}
    for name in ("vibe_model_wo_3dpw.pth.tar", "spin_model_checkpoint.pth.tar", "SMPL_NEUTRAL.pkl"):
        assert shown[name] == "CHECKMARK", name
    for name in ("tcmr_demo_model.pth.tar", "yolov3.weights", "gmm_08.pkl"):
        assert shown[name] == "X", name
    assert "SMPL body model: the skeleton and mesh the motion drives. Needed by VIBE and TCMR." in text
    setups = [bound for name, bound in calls if name == "operator" and bound["operator"] == "vibe.setup_backend"]
    assert len(setups) == 2
    _set_preferences(python=str(Path(python).parent / "missing-python"), data_dir="")
    text, _ = _draw(type(prefs).draw, prefs)
    assert "Not set up yet" in text and "No folder set: the built-in estimator will be used." in text


def scenario_save_character(path: str) -> None:
    """A Mixamo-named character (A-pose, other bone rolls) with a box body, saved as a .blend file."""
    import bpy

    sys.path.insert(0, str(ROOT))
    from tests.retarget_rigs import add_box_body, build_armature, mixamo_rig

    bpy.ops.wm.read_factory_settings(use_empty=True)
    add_box_body(build_armature(mixamo_rig(), "Hero"))
    bpy.ops.wm.save_as_mainfile(filepath=path)


if __name__ == "__main__":
    import bpy  # noqa: F401  (first: Blender's own modules such as addon_utils become importable with it)

    globals()[f"scenario_{sys.argv[1]}"](**json.loads(sys.argv[2]))
