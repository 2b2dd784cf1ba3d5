"""The backend command as a user runs it: JSON-lines progress, the motion file, and every bad input."""

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.cli import main
from smpl_rig.motion import load_motion
from smpl_rig.rotations import axis_angle_to_matrix
from tests.videos import background, moving_people, truncate_file, write_video

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def person_clip(tmp_path_factory):
    frames, _ = moving_people(36, 360, 480, [((40, 40), (200, 60))], person_height=280)
    return write_video(tmp_path_factory.mktemp("clip") / "person.mp4", frames, fps=24)


def run_cli(capsys, *args) -> tuple[int, list[dict]]:
    code = main([str(a) for a in args])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_default_estimator_end_to_end_as_a_subprocess(person_clip, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "backend", str(person_clip), "--out", str(out), "--estimator",
                           "default", "--min-frames", "10"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout holds nothing but JSON lines
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = lines[-1]
    assert result["result"] == "ok" and result["people"] == [1] and result["estimator"] == "default"
    stages = [line["stage"] for line in lines if "stage" in line]
    assert stages[0] == "setup" and {"detect", "estimate", "write"} <= set(stages)
    detect = [line for line in lines if line.get("stage") == "detect"]
    assert detect[-1]["done"] == detect[-1]["total"] == 36
    motion = load_motion(result["motion"])
    assert motion.fps == 24 and (motion.width, motion.height) == (480, 360)
    person = motion.people[1]
    assert len(person.frame_ids) >= 30 and person.pose.shape == (len(person.frame_ids), 72)
    up_in_camera = axis_angle_to_matrix(person.pose[:, :3]) @ np.array([0.0, 1.0, 0.0])
    assert np.all(up_in_camera[:, 1] < -0.5)  # SMPL's up axis points up the picture (camera -y): upright
    assert np.all(person.trans[:, 2] > 0.5)  # in front of the camera
    assert proc.stderr == "", "what the libraries say goes to the log, not the terminal"
    assert "TensorFlow Lite" in Path(result["log"]).read_text(), "MediaPipe's C++ logging lands in the log"


def test_vibe_on_official_layout_files_and_auto_choice(person_clip, vibe_data_dir, tmp_path, capsys):
    code, lines = run_cli(capsys, person_clip, "--out", tmp_path, "--data-dir", vibe_data_dir, "--min-frames", "10",
                          "--estimator", "vibe", "--smooth", "0")
    assert code == 0, lines[-1]
    motion = load_motion(lines[-1]["motion"])
    assert motion.estimator == "vibe" and motion.estimator_version == "vibe_model_wo_3dpw"
    person = motion.people[1]
    assert person.joints3d.shape[1:] == (49, 3) and person.betas.shape[1] == 10
    assert np.allclose(person.trans[:, 2], 2 * np.sqrt(1 + (person.orig_cam[:, 0] / person.orig_cam[:, 1]) ** 2)
                       / person.orig_cam[:, 0], rtol=1e-4)
    setup = lines[0]
    assert setup["stage"] == "setup" and setup["estimator"] == "vibe"
    code, lines = run_cli(capsys, person_clip, "--out", tmp_path / "auto", "--data-dir", vibe_data_dir,
                          "--frames", "0:12", "--min-frames", "5")
    assert code == 0 and lines[0]["estimator"] == "vibe" and "TCMR would also need" in lines[0]["reason"]
    assert load_motion(lines[-1]["motion"]).people[1].frame_ids.max() < 12


def test_checkpoint_option_runs_a_model_the_data_folder_lacks(person_clip, vibe_data_dir, tmp_path, capsys,
                                                               monkeypatch):
    folder = tmp_path / "vibe_data"
    shutil.copytree(vibe_data_dir, folder)
    (tmp_path / "results").mkdir()
    shutil.move(folder / "vibe_model_wo_3dpw.pth.tar", tmp_path / "results" / "model_best.pth.tar")
    monkeypatch.chdir(tmp_path)  # a path relative to the working folder, as backend.train writes checkpoints
    code, lines = run_cli(capsys, person_clip, "--out", tmp_path / "out", "--data-dir", folder, "--estimator", "vibe",
                          "--checkpoint", "results/model_best.pth.tar", "--frames", "0:12", "--min-frames", "5")
    assert code == 0, lines[-1]
    assert load_motion(lines[-1]["motion"]).estimator_version == "model_best"


def error_of(capsys, *args) -> dict:
    code, lines = run_cli(capsys, *args)
    assert code in (1, 2) and "error" in lines[-1]
    return lines[-1]


def test_bad_videos_get_actionable_errors(tmp_path, capsys):
    out = tmp_path / "out"
    assert "does not exist" in error_of(capsys, tmp_path / "missing.mp4", "--out", out)["error"]
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    err = error_of(capsys, text, "--out", out)
    assert "cannot open" in err["error"] and err["fix"]
    empty = write_video(tmp_path / "empty.avi", [], fps=25, fourcc="MJPG")
    assert "frame" in error_of(capsys, empty, "--out", out)["error"].lower()
    nobody = write_video(tmp_path / "nobody.mp4", [background(240, 320, seed=s % 3) for s in range(30)])
    err = error_of(capsys, nobody, "--out", out, "--estimator", "default")
    assert "No person" in err["error"] and "--min-frames" in err["fix"]
    assert not (out / "motion.npz").exists()


def test_truncated_video_still_yields_motion_or_says_why(person_clip, tmp_path, capsys):
    broken = truncate_file(shutil.copy(person_clip, tmp_path / "broken.mp4"), keep=0.6)
    code, lines = run_cli(capsys, broken, "--out", tmp_path / "out", "--estimator", "default", "--min-frames", "5")
    if code == 0:
        assert load_motion(lines[-1]["motion"]).people
    else:
        assert lines[-1]["error"] and lines[-1]["fix"]


def test_wrong_model_files_are_named(person_clip, vibe_data_dir, tmp_path, capsys):
    broken = tmp_path / "vibe_data"
    shutil.copytree(vibe_data_dir, broken)
    os.replace(broken / "spin_model_checkpoint.pth.tar", broken / "vibe_model_wo_3dpw.pth.tar")
    shutil.copy(vibe_data_dir / "spin_model_checkpoint.pth.tar", broken / "spin_model_checkpoint.pth.tar")
    err = error_of(capsys, person_clip, "--out", tmp_path / "o", "--data-dir", broken, "--estimator", "vibe")
    assert "vibe_model_wo_3dpw.pth.tar" in err["error"] and err["fix"]

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    shutil.copy(vibe_data_dir / "vibe_model_wo_3dpw.pth.tar", broken / "vibe_model_wo_3dpw.pth.tar")
    (broken / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps({"v_template": Exploit()}))
    err = error_of(capsys, person_clip, "--out", tmp_path / "o", "--data-dir", broken, "--estimator", "vibe")
    assert "SMPL_NEUTRAL.pkl" in err["error"] and "refused" in err["error"]
    assert not marker.exists()


def test_bad_arguments_and_missing_gpu(person_clip, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(person_clip), "--out", str(tmp_path), "--frames", "9:3"])
    assert exit_info.value.code == 2
    assert "--frames" in json.loads(capsys.readouterr().out.splitlines()[-1])["error"]
    with pytest.raises(SystemExit) as exit_info:
        main([str(person_clip), "--out", str(tmp_path), "--smooth", "nan"])
    assert exit_info.value.code == 2
    assert "--smooth" in json.loads(capsys.readouterr().out.splitlines()[-1])["error"]
    not_a_folder = tmp_path / "taken"
    not_a_folder.write_text("a file")
    err = error_of(capsys, person_clip, "--out", not_a_folder)
    assert "it is a file" in err["error"] and "--out" in err["fix"]
    if not __import__("torch").cuda.is_available():
        err = error_of(capsys, person_clip, "--out", tmp_path, "--device", "cuda")
        assert "CUDA" in err["error"] and "cpu" in err["fix"]


def test_default_estimator_tracks_the_person_of_the_committed_clip(tmp_path, capsys):
    from bench.accuracy import score_motion

    clip = ROOT / "examples" / "squat_march.mp4"
    truth = np.load(ROOT / "examples" / "squat_march_truth.npz")
    code, lines = run_cli(capsys, clip, "--out", tmp_path, "--estimator", "default", "--frames", "0:60")
    assert code == 0, lines[-1]
    motion = load_motion(lines[-1]["motion"])
    assert list(motion.people) == [1] and (motion.width, motion.height) == (480, 640)
    person = motion.people[1]
    assert len(person.frame_ids) >= 50
    # The root lands where the rendered person's pelvis is, depth from the documented focal-length assumption
    # (0.40 m with the MediaPipe and the MoveNet detector alike: the depth of the default estimator's skeleton)
    true_pelvis = truth["joints3d"][person.frame_ids, 0]
    assert np.median(np.linalg.norm(person.root - true_pelvis, axis=-1)) < 0.45
    assert np.median(np.abs(person.root[:, 2] / true_pelvis[:, 2] - 1)) < 0.15
    score = score_motion(motion, truth["joints3d"][:60])
    assert score.found > 0.8 and score.pa_mpjpe < 90  # 51 mm here; a frozen T-pose scores 131 mm
    # The camera is still: its rotation from the background stays at the first frame's while the person moves
    assert list(motion.camera_frame_ids) == list(range(60))
    assert np.allclose(motion.camera_rotations, np.eye(3), atol=np.radians(0.2))
