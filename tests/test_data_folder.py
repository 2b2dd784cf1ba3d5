"""The data folder report and the estimator choice (files only need to exist here, so they are empty)."""

import subprocess
import sys
from pathlib import Path

import pytest

from backend.data_folder import (
    KNOWN_FILES,
    choose_estimator,
    estimator_status,
    find_vibe_checkpoint,
    folder_report,
)
from backend.errors import BackendError

VIBE_FILES = ("vibe_model_wo_3dpw.pth.tar", "spin_model_checkpoint.pth.tar", "SMPL_NEUTRAL.pkl",
              "J_regressor_extra.npy")


def make_folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "vibe_data"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).touch()
    return folder


def test_known_files_describe_each_file_in_one_line():
    names = [f.name for f in KNOWN_FILES]
    assert len(names) == len(set(names))
    assert {"tcmr_demo_model.pth.tar", "smpl_mean_params.npz", "yolov3.weights"} | set(VIBE_FILES) <= set(names)
    for file in KNOWN_FILES:
        assert file.purpose and "\n" not in file.purpose
        assert "http" in file.source or "vibe_data.zip" in file.source


def test_folder_report_marks_present_files(tmp_path):
    folder = make_folder(tmp_path, "SMPL_NEUTRAL.pkl", "yolov3.weights")
    report = {status.file.name: status for status in folder_report(folder)}
    assert set(report) == {f.name for f in KNOWN_FILES}
    assert report["SMPL_NEUTRAL.pkl"].present and report["yolov3.weights"].present
    assert not report["spin_model_checkpoint.pth.tar"].present
    assert report["SMPL_NEUTRAL.pkl"].path == folder / "SMPL_NEUTRAL.pkl"


def test_auto_picks_vibe_when_only_vibe_is_complete(tmp_path):
    folder = make_folder(tmp_path, *VIBE_FILES)
    status = estimator_status(folder)
    assert status["vibe"].available and status["default"].available
    assert status["tcmr"].missing == ("tcmr_demo_model.pth.tar",)
    choice = choose_estimator(folder)
    assert (choice.name, choice.checkpoint) == ("vibe", "vibe_model_wo_3dpw.pth.tar")
    assert "tcmr_demo_model.pth.tar" in choice.reason and choice.reason.endswith(".")


def test_auto_prefers_tcmr_then_vibe(tmp_path):
    folder = make_folder(tmp_path, *VIBE_FILES, "tcmr_demo_model.pth.tar")
    choice = choose_estimator(folder)
    assert (choice.name, choice.checkpoint) == ("tcmr", "tcmr_demo_model.pth.tar")
    assert choose_estimator(folder, "vibe").name == "vibe"
    assert choose_estimator(folder, "default").name == "default"


def test_vibe_checkpoint_preference(tmp_path):
    folder = make_folder(tmp_path, "vibe_model_custom.pth.tar")
    assert find_vibe_checkpoint(folder) == "vibe_model_custom.pth.tar"
    (folder / "vibe_model_w_3dpw.pth.tar").touch()
    assert find_vibe_checkpoint(folder) == "vibe_model_w_3dpw.pth.tar"
    (folder / "vibe_model_wo_3dpw.pth.tar").touch()
    assert find_vibe_checkpoint(folder) == "vibe_model_wo_3dpw.pth.tar"
    assert find_vibe_checkpoint(tmp_path) is None


def test_auto_falls_back_to_default_naming_what_is_missing(tmp_path):
    folder = make_folder(tmp_path, *VIBE_FILES[:-1])
    choice = choose_estimator(folder)
    assert choice.name == "default" and choice.checkpoint is None
    assert "J_regressor_extra.npy" in choice.reason and str(folder) in choice.reason
    assert "no data folder" in choose_estimator(None).reason
    assert "does not exist" in choose_estimator(tmp_path / "nowhere").reason


def test_requesting_an_incomplete_estimator_says_what_to_fetch(tmp_path):
    folder = make_folder(tmp_path, *VIBE_FILES[1:])
    with pytest.raises(BackendError) as vibe_error:
        choose_estimator(folder, "vibe")
    assert "vibe_model_*.pth.tar" in vibe_error.value.message
    assert "prepare_data.sh" in vibe_error.value.fix
    (folder / "SMPL_NEUTRAL.pkl").unlink()
    with pytest.raises(BackendError) as tcmr_error:
        choose_estimator(folder, "tcmr")
    assert "tcmr_demo_model.pth.tar" in tcmr_error.value.message and "SMPL_NEUTRAL.pkl" in tcmr_error.value.message
    assert "get_base_data.sh" in tcmr_error.value.fix and "smplify.is.tue.mpg.de" in tcmr_error.value.fix
    with pytest.raises(BackendError, match="no data folder"):
        choose_estimator(None, "vibe")
    with pytest.raises(BackendError, match="Unknown estimator 'hmr'"):
        choose_estimator(folder, "hmr")


def test_a_given_checkpoint_stands_in_for_the_model_file(tmp_path):
    folder = make_folder(tmp_path, *VIBE_FILES[1:])
    choice = choose_estimator(folder, "vibe", checkpoint="/elsewhere/model_best.pth.tar")
    assert choice.name == "vibe"
    assert choose_estimator(folder, "tcmr", checkpoint="tcmr_table4_3dpw_test.pth.tar").name == "tcmr"
    (folder / "SMPL_NEUTRAL.pkl").unlink()
    with pytest.raises(BackendError) as error:
        choose_estimator(folder, "vibe", checkpoint="model_best.pth.tar")
    assert "SMPL_NEUTRAL.pkl" in error.value.message and "vibe_model_*" not in error.value.message


def test_data_folder_imports_no_torch():
    code = "import sys, backend.data_folder; sys.exit('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
