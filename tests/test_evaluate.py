"""`backend.evaluate` on databases in the 3DPW layout whose labels are built from the model's own predictions, so
that every metric has a value known by hand: zero, a similarity transform, a constant offset, a constant
acceleration."""

import json
import shutil

import joblib
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from backend.data_folder import VIBE_MODEL_FILE
from backend.errors import BackendError
from backend.evaluate import H36M_TO_LSP14, evaluate_database, load_h36m_regressor, main
from backend.models.temporal import VibeGenerator
from backend.smpl_layer import load_smpl_layer
from backend.vibe import load_generator
from tests.checkpoints_synthetic import (
    make_j_regressor,
    write_j_regressor_extra,
    write_mean_params,
    write_vibe_checkpoint,
)
from tests.synthetic import write_smpl_model

SEQLEN = 4
VIDEOS = (10, 9)  # windows: frames 0-7 of the first video, 10-17 of the second; 8, 9 and 18 are left out
EVALUATED = np.r_[0:8, 10:18]
NECK = 12  # among the 14 common joints; the hips are 2 and 3


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vibe_data")
    write_smpl_model(folder / "SMPL_NEUTRAL.pkl")
    write_j_regressor_extra(folder / "J_regressor_extra.npy")
    write_mean_params(folder / "smpl_mean_params.npz")
    np.save(folder / "J_regressor_h36m.npy", make_j_regressor(17, seed=7))
    write_vibe_checkpoint(folder / "vibe_model_wo_3dpw.pth.tar", seed=2)
    return folder


@pytest.fixture(scope="module")
def generator(data_dir):
    """The official-layout checkpoint's generator, loaded by the backend's loader."""
    model = VibeGenerator(load_smpl_layer(data_dir))
    load_generator(model, data_dir, data_dir / "vibe_model_wo_3dpw.pth.tar", VIBE_MODEL_FILE, torch.device("cpu"))
    return model.eval()


@pytest.fixture(scope="module")
def regressor(data_dir, generator):
    return load_h36m_regressor(data_dir, generator.regressor.smpl.v_template.shape[0], torch.device("cpu"))


@pytest.fixture(scope="module")
def features():
    return np.abs(np.random.default_rng(0).normal(size=(sum(VIDEOS), 2048))).astype(np.float32)


def predictions(generator, regressor, features, windows) -> tuple[np.ndarray, np.ndarray]:
    """14 joints (N, 14, 3) and theta (N, 85) when each (start, length) window runs from a fresh GRU state."""
    joints, theta = np.zeros((len(features), 14, 3)), np.zeros((len(features), 85))
    with torch.no_grad():
        for start, length in windows:
            output = generator(torch.as_tensor(features[None, start:start + length]))
            vertices = output["verts"][0]
            joints[start:start + length] = torch.einsum("jv,nvc->njc", regressor, vertices)[:, H36M_TO_LSP14]
            theta[start:start + length] = output["theta"][0]
    return joints, theta


def database(features, joints, theta) -> dict:
    """3DPW layout; rows the protocol leaves out get absurd labels, so using them would show."""
    joints, theta = joints.copy(), theta.copy()
    unused = np.setdiff1d(np.arange(len(features)), EVALUATED)
    joints[unused] = 100.0
    theta[unused, 3:] = 3.0
    names = np.concatenate([np.full(n, f"seq_{i}") for i, n in enumerate(VIDEOS)])
    return {"vid_name": names, "frame_id": np.arange(len(names)), "features": features, "joints3D": joints,
            "pose": theta[:, 3:75], "shape": theta[:, 75:]}


@pytest.fixture(scope="module")
def windowed(generator, regressor, features):
    starts = [0, 4, 10, 14]
    return predictions(generator, regressor, features, [(s, SEQLEN) for s in starts])


def centred(joints: np.ndarray) -> np.ndarray:
    return joints - joints[:, [2, 3]].mean(axis=1, keepdims=True)


def test_the_model_s_own_windowed_predictions_score_zero(generator, regressor, features, windowed):
    result = evaluate_database(generator, database(features, *windowed), regressor, SEQLEN)
    assert result["frames"] == len(EVALUATED)
    for key in ("mpjpe", "pa_mpjpe", "accel_error"):
        assert result[key] == pytest.approx(0.0, abs=1e-3)
    assert result["pve"] == pytest.approx(0.0, abs=0.05)  # the label mesh goes through axis-angle, float32

    whole_videos = predictions(generator, regressor, features, [(0, VIDEOS[0]), (VIDEOS[0], VIDEOS[1])])
    assert evaluate_database(generator, database(features, *whole_videos), regressor, SEQLEN)["mpjpe"] > 0.1


def test_pa_mpjpe_is_zero_under_a_similarity_transform(generator, regressor, features, windowed):
    joints, theta = windowed
    rotations = Rotation.random(len(joints), random_state=3).as_matrix()
    scale = np.random.default_rng(4).uniform(0.5, 2.0, size=(len(joints), 1, 1))
    moved = scale * np.einsum("nij,nkj->nki", rotations, joints) + np.array([0.3, -1.0, 4.0])
    result = evaluate_database(generator, database(features, moved, theta), regressor, SEQLEN)
    assert result["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)
    by_hand = np.linalg.norm(centred(joints[EVALUATED]) - centred(moved[EVALUATED]), axis=-1).mean() * 1000
    assert result["mpjpe"] == pytest.approx(by_hand, rel=1e-5) and by_hand > 100


def test_a_constant_offset_and_a_constant_acceleration_give_known_errors(generator, regressor, features, windowed):
    joints, theta = windowed
    offset = joints.copy()
    offset[:, NECK] += [0.03, 0.04, 0.0]  # 50 mm on one joint of 14; the hips, hence the centring, unchanged
    result = evaluate_database(generator, database(features, offset, theta), regressor, SEQLEN)
    assert result["mpjpe"] == pytest.approx(50.0 / 14, rel=1e-4)
    assert result["accel_error"] == pytest.approx(0.0, abs=1e-3)

    accelerating = joints.copy()
    t = np.zeros(len(joints))
    t[EVALUATED] = np.arange(len(EVALUATED))  # the windows laid end to end, as the official evaluation does
    accelerating[:, NECK] += 0.5 * t[:, None] ** 2 * np.array([0.003, 0.0, 0.004])  # 5 mm/frame^2
    result = evaluate_database(generator, database(features, accelerating, theta), regressor, SEQLEN)
    assert result["accel_error"] == pytest.approx(5.0 / 14, abs=2e-3)  # float32 predictions: ~1e-4 mm noise


def test_the_command_evaluates_an_official_checkpoint(data_dir, features, windowed, tmp_path, capsys, monkeypatch):
    joints, theta = windowed
    offset = joints.copy()
    offset[:, NECK] += [0.0, 0.06, 0.08]  # 100 mm
    joblib.dump(database(features, offset, theta), tmp_path / "3dpw_test_db.pt")
    assert main(["--db", str(tmp_path / "3dpw_test_db.pt"), "--data-dir", str(data_dir), "--seqlen", str(SEQLEN),
                 "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["mpjpe"] == pytest.approx(100.0 / 14, rel=1e-4)
    assert result["pa_mpjpe"] > 0 and result["pve"] == pytest.approx(0.0, abs=0.05)
    assert result["frames"] == len(EVALUATED)

    # --checkpoint as a path relative to the working folder (docs/training.md: results/vibe/model_best.pth.tar)
    (tmp_path / "results").mkdir()
    shutil.copy(data_dir / "vibe_model_wo_3dpw.pth.tar", tmp_path / "results" / "model_best.pth.tar")
    monkeypatch.chdir(tmp_path)
    assert main(["--db", "3dpw_test_db.pt", "--data-dir", str(data_dir), "--seqlen", str(SEQLEN), "--device", "cpu",
                 "--checkpoint", "results/model_best.pth.tar"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["mpjpe"] == pytest.approx(result["mpjpe"])
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", "3dpw_test_db.pt", "--data-dir", str(data_dir), "--batch-size", "0"])
    assert exit_info.value.code == 2 and "expected 1 or more" in capsys.readouterr().err


def test_unusable_inputs_are_reported(data_dir, generator, regressor, features, windowed, tmp_path, capsys):
    db = database(features, *windowed)
    joblib.dump({k: v for k, v in db.items() if k != "joints3D"}, tmp_path / "no_joints.pt")
    assert main(["--db", str(tmp_path / "no_joints.pt"), "--data-dir", str(data_dir), "--device", "cpu"]) == 1
    assert "lacks joints3D" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "no_joints.pt"), "--data-dir", str(tmp_path / "nowhere")]) == 1
    assert "The data folder" in capsys.readouterr().err
    with pytest.raises(BackendError, match="no video of at least 20 frames"):
        evaluate_database(generator, db, regressor, seqlen=20)
    with pytest.raises(BackendError, match=r"joints3D has shape \(16, 17, 3\); expected \(frames, 14, 3\)"):
        evaluate_database(generator, db | {"joints3D": np.zeros((len(features), 17, 3))}, regressor, SEQLEN)
    with pytest.raises(BackendError, match="J_regressor_h36m.npy not found"):
        load_h36m_regressor(tmp_path, 6890, torch.device("cpu"))
