"""Training side on small synthetic data: config, losses, database readers, AMASS, training steps, checkpoints, the
training command end to end (with resume and evaluation), and the feature-extraction command."""

import json
import pickle
from dataclasses import asdict, replace
from pathlib import Path

import h5py
import joblib
import numpy as np
import pytest
import torch

from backend.errors import BackendError
from backend.evaluate import main as evaluate_main
from backend.models.discriminator import MotionDiscriminator
from backend.models.regressor import project_keypoints
from backend.models.resnet import normalize_imagenet
from backend.models.temporal import VibeGenerator
from backend.smpl_layer import load_smpl_layer
from backend.train import extract
from backend.train.__main__ import main as train_main
from backend.train.config import load_config
from backend.train.data import (
    COMMON_JOINTS,
    INSTA_JOINTS,
    PENNACTION_JOINTS,
    SPIN_JOINTS,
    AmassDataset,
    TrainingStream,
    load_amass,
    load_database,
    open_sequences,
    read_amass_folder,
    window_starts,
)
from backend.train.losses import (
    LossWeights,
    axis_angle_to_rotmat,
    discriminator_losses,
    generator_adversarial_loss,
    keypoint_2d_loss,
    keypoint_3d_loss,
    smpl_losses,
    vibe_losses,
)
from backend.train.trainer import VibeTrainer, initialise, read_training_checkpoint
from backend.vibe import load_spin_backbone
from backend.video import VideoReader
from smpl_rig.rotations import axis_angle_to_matrix
from tests.checkpoints_synthetic import (
    make_j_regressor,
    vibe_generator_state,
    write_j_regressor_extra,
    write_mean_params,
    write_spin_checkpoint,
    write_vibe_checkpoint,
)
from tests.synthetic import write_smpl_model
from tests.videos import moving_people, write_video

OFFICIAL_CHECKPOINT_KEYS = {"epoch", "gen_state_dict", "performance", "gen_optimizer", "disc_motion_state_dict",
                            "disc_motion_optimizer"}
BOX = np.array([300.0, 220.0, 180.0, 200.0])  # cx, cy, w, h of every labelled frame


# ------------------------------------------------------------------------------------------- synthetic data

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("vibe_data")
    write_smpl_model(folder / "SMPL_NEUTRAL.pkl")
    write_j_regressor_extra(folder / "J_regressor_extra.npy")
    write_mean_params(folder / "smpl_mean_params.npz")
    np.save(folder / "J_regressor_h36m.npy", make_j_regressor(17, seed=5))
    return folder


@pytest.fixture(scope="module")
def smpl(data_dir):
    return load_smpl_layer(data_dir)


def smpl_labels(smpl, frames: int, seed: int) -> dict[str, np.ndarray]:
    """Consistent labels of random bodies: pose, shape, VIBE joints (metres) and normalised 2D keypoints."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(scale=0.15, size=(frames, 72))
    pose[:, :3] += [np.pi, 0.0, 0.0]  # upright, facing the camera
    shape = rng.normal(scale=0.5, size=(frames, 10))
    rotmat = torch.as_tensor(axis_angle_to_matrix(pose.reshape(-1, 24, 3)), dtype=torch.float32)
    with torch.no_grad():
        body = smpl(torch.as_tensor(shape, dtype=torch.float32), rotmat)
        cam = torch.tensor([[0.9, 0.0, 0.2]]).expand(frames, 3)
        kp_2d = project_keypoints(body.joints, cam)
    return {"pose": pose, "shape": shape, "joints": body.joints.numpy(), "kp_2d": kp_2d.numpy()}


def to_pixels(normalised: np.ndarray) -> np.ndarray:
    """Crop coordinates in [-1, 1] -> image pixels of the frames' box (inverse of the trainer's normalisation)."""
    return normalised * 0.6 * BOX[2:] + BOX[:2]


def with_confidence(xy: np.ndarray) -> np.ndarray:
    return np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)


def video_names(lengths: tuple[int, ...]) -> np.ndarray:
    return np.concatenate([np.full(n, f"video_{i}") for i, n in enumerate(lengths)])


def features(frames: int, seed: int) -> np.ndarray:
    return np.abs(np.random.default_rng(seed).normal(size=(frames, 2048))).astype(np.float32)


def write_3dpw_databases(db_dir: Path, smpl, j_regressor_h36m: np.ndarray) -> dict:
    """3dpw_train_db.pt (2D labels in the 14 common joints, 49 3D joints, SMPL) and 3dpw_val_db.pt (14 joints from
    the H36M regressor, as the official preprocessing writes them), with joblib like the official files."""
    lengths = (9, 7)
    labels = smpl_labels(smpl, sum(lengths), seed=1)
    common = [SPIN_JOINTS.index(n) for n in COMMON_JOINTS]
    train = {
        "vid_name": video_names(lengths), "frame_id": np.concatenate([np.arange(n) for n in lengths]),
        "features": features(sum(lengths), 1), "bbox": np.tile(BOX, (sum(lengths), 1)),
        "joints2D": with_confidence(to_pixels(labels["kp_2d"][:, common])), "joints3D": labels["joints"],
        "pose": labels["pose"], "shape": labels["shape"],
    }
    joblib.dump(train, db_dir / "3dpw_train_db.pt")
    val_labels = smpl_labels(smpl, 12, seed=2)
    with torch.no_grad():
        rotmat = torch.as_tensor(axis_angle_to_matrix(val_labels["pose"].reshape(-1, 24, 3)), dtype=torch.float32)
        vertices = smpl(torch.as_tensor(val_labels["shape"], dtype=torch.float32), rotmat).vertices.numpy()
    h36m = np.einsum("jv,nvc->njc", j_regressor_h36m, vertices)
    val = {"vid_name": video_names((12,)), "features": features(12, 2), "pose": val_labels["pose"],
           "shape": val_labels["shape"], "joints3D": h36m[:, [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]]}
    joblib.dump(val, db_dir / "3dpw_val_db.pt")
    return train


def write_2d_databases(db_dir: Path, smpl) -> tuple[dict, dict]:
    """pennaction_train_db.pt (13 PennAction joints, pixels, boxes) and insta_train_db.h5 (25 InstaVariety joints in
    224-pixel crop coordinates, names as bytes), in the official layouts."""
    penn_labels = smpl_labels(smpl, 10, seed=3)
    penn = {"vid_name": video_names((10,)), "features": features(10, 3), "bbox": np.tile(BOX, (10, 1)),
            "joints2D": with_confidence(to_pixels(penn_labels["kp_2d"][:, [SPIN_JOINTS.index(n)
                                                                           for n in PENNACTION_JOINTS]]))}
    joblib.dump(penn, db_dir / "pennaction_train_db.pt")
    insta_labels = smpl_labels(smpl, 8, seed=4)
    insta = {"vid_name": np.array([b"clip"] * 8), "frame_id": np.arange(8), "features": features(8, 4),
             "joints2D": with_confidence((insta_labels["kp_2d"][:, [SPIN_JOINTS.index(n) for n in INSTA_JOINTS]]
                                          + 1.0) * 112.0)}
    with h5py.File(db_dir / "insta_train_db.h5", "w") as fh:
        for key, value in insta.items():
            fh.create_dataset(key, data=value)
    return penn, insta


def amass_poses(frames: int, seed: int) -> np.ndarray:
    """Smooth SMPL-H poses (frames, 156)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None]
    return 0.3 * np.sin(2 * np.pi * rng.uniform(0.005, 0.02, 156) * t + rng.uniform(0, 6, 156))


def write_amass_folder(folder: Path) -> Path:
    """AMASS layout: dataset/subject/action.npz at 50 fps (kept: every 2nd frame), a short one and a shape file."""
    for subject, frames in (("s1", 160), ("s2", 130), ("s3", 100)):
        (folder / "CMU" / subject).mkdir(parents=True)
        np.savez(folder / "CMU" / subject / "walk_poses.npz", poses=amass_poses(frames, len(subject) + frames),
                 betas=np.arange(16.0) / 10, mocap_framerate=np.array(50.0), gender=np.array("male"),
                 trans=np.zeros((frames, 3)))
    np.savez(folder / "CMU" / "s1" / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    return folder


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory, data_dir, smpl) -> Path:
    folder = tmp_path_factory.mktemp("vibe_db")
    write_3dpw_databases(folder, smpl, np.load(data_dir / "J_regressor_h36m.npy"))
    write_2d_databases(folder, smpl)
    write_amass_folder(folder / "amass")
    return folder


def tiny_config(data_dir: Path, db_dir: Path, out: Path, **train) -> dict:
    """A configuration small enough for the tests: short windows, small GRUs, a few iterations."""
    return {
        "output_dir": str(out), "device": "cpu", "seed": 0,
        "data": {"db_dir": str(db_dir), "datasets_2d": ["pennaction", "insta"], "datasets_3d": ["3dpw"],
                 "eval_dataset": "3dpw", "amass": str(db_dir / "amass"), "seqlen": 4},
        "model": {"data_dir": str(data_dir), "pretrained_regressor": "", "gru_hidden_size": 16, "gru_layers": 1,
                  "disc_hidden_size": 16, "disc_layers": 1, "disc_attention_layers": 2},
        "train": {"batch_size": 4, "epochs": 2, "iters_per_epoch": 2, "log_every": 1} | train,
    }


def write_config(path: Path, content: dict) -> Path:
    path.write_text(json.dumps(content))
    return path


def small_trainer(data_dir: Path, db_dir: Path, tmp_path: Path) -> VibeTrainer:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = load_config(write_config(tmp_path / "config.json", tiny_config(data_dir, db_dir, tmp_path)))
    generator = VibeGenerator(load_smpl_layer(data_dir), config.model.gru_hidden_size, config.model.gru_layers)
    discriminator = MotionDiscriminator(16, 1, 2)
    trainer = VibeTrainer(generator, discriminator, config.train, LossWeights(**asdict(config.loss)),
                          torch.device("cpu"))
    trainer.carried = initialise(generator, discriminator, config.model, torch.device("cpu"))
    return trainer


def fixed_batch(db_dir: Path) -> tuple[dict, torch.Tensor]:
    """Two windows of 3DPW (all labels) and two of PennAction (2D only), and four windows of AMASS."""
    windows = [open_sequences(db_dir, "3dpw", "train", 4, True)[i] for i in (0, 2)]
    windows += [open_sequences(db_dir, "pennaction", "train", 4, False)[i] for i in (0, 1)]
    amass = AmassDataset(load_amass(db_dir / "amass"), 4)
    return {k: torch.stack([w[k] for w in windows]) for k in windows[0]}, torch.stack([amass[i] for i in range(4)])


# ------------------------------------------------------------------------------------------- configuration

def test_defaults_are_the_published_settings():
    config = load_config()
    assert asdict(config.loss) == {"kp_2d": 300.0, "kp_3d": 300.0, "shape": 0.06, "pose": 60.0, "d_motion": 0.5}
    assert (config.train.gen_lr, config.train.gen_weight_decay) == (5e-5, 0.0)
    assert (config.train.disc_lr, config.train.disc_weight_decay) == (1e-4, 1e-4)
    assert (config.data.seqlen, config.train.batch_size, config.data.ratio_2d) == (16, 32, 0.6)
    assert (config.model.disc_hidden_size, config.model.disc_layers, config.model.disc_attention_layers,
            config.model.disc_attention_dropout) == (1024, 2, 3, 0.2)


def test_a_config_file_overrides_some_keys_and_typos_are_refused(tmp_path):
    config = load_config(write_config(tmp_path / "a.json", {"loss": {"kp_2d": 10}, "data": {"eval_dataset": None}}))
    assert config.loss.kp_2d == 10.0 and isinstance(config.loss.kp_2d, float)
    assert config.loss.kp_3d == 300.0 and config.data.eval_dataset is None
    with pytest.raises(BackendError, match="Unknown configuration key 'loss.kp2d'") as info:
        load_config(write_config(tmp_path / "b.json", {"loss": {"kp2d": 1.0}}))
    assert "kp_2d" in info.value.fix
    with pytest.raises(BackendError, match="'train.epochs' is \"ten\", expected a int"):
        load_config(write_config(tmp_path / "c.json", {"train": {"epochs": "ten"}}))
    with pytest.raises(BackendError, match="'data.datasets_2d' is \"insta\", expected a list of str"):
        load_config(write_config(tmp_path / "d.json", {"data": {"datasets_2d": "insta"}}))
    (tmp_path / "e.json").write_text("{'loss': 1}")
    with pytest.raises(BackendError, match="not valid JSON"):
        load_config(tmp_path / "e.json")
    with pytest.raises(BackendError, match="'train.log_every' is 0, expected at least 1"):
        load_config(write_config(tmp_path / "f.json", {"train": {"log_every": 0}}))
    with pytest.raises(BackendError, match="'data.ratio_2d' is 1.5, expected between 0.0 and 1.0"):
        load_config(write_config(tmp_path / "g.json", {"data": {"ratio_2d": 1.5}}))


# ------------------------------------------------------------------------------------------- losses

def test_keypoint_losses_by_hand():
    pred = torch.zeros(1, 2, 2)
    target = torch.tensor([[[1.0, 2.0, 1.0], [3.0, 0.0, 0.5]]])
    # confidence-weighted squared errors: 1 * (1 + 4) + 0.5 * 9, averaged over 2 joints x 2 coordinates
    torch.testing.assert_close(keypoint_2d_loss(pred, target), torch.tensor(9.5 / 4))

    joints = torch.randn(3, 49, 3)
    moved = joints + torch.tensor([0.5, -1.0, 2.0])  # a translation: pelvis-centred, nothing changes
    torch.testing.assert_close(keypoint_3d_loss(moved, joints), torch.tensor(0.0))
    shifted = joints.clone()
    shifted[:, 25 + 12] += torch.tensor([0.0, 0.3, 0.4])  # the neck, one of the 14 joints, off by 0.5 m
    torch.testing.assert_close(keypoint_3d_loss(shifted, joints), torch.tensor(0.25 / (14 * 3)))
    other = joints.clone()
    other[:, :25] += 1.0  # joints outside the 14 common ones carry no 3D loss
    torch.testing.assert_close(keypoint_3d_loss(other, joints), torch.tensor(0.0))
    assert keypoint_3d_loss(torch.zeros(0, 49, 3), torch.zeros(0, 49, 3)) == 0


def test_smpl_and_adversarial_losses_by_hand():
    pose = torch.zeros(2, 72)
    pose[:, 3:6] = torch.tensor([0.0, 0.0, np.pi / 2])  # one joint turned 90 degrees about z
    rest = torch.eye(3).expand(2, 24, 3, 3)
    pose_loss, shape_loss = smpl_losses(rest, torch.ones(2, 10), pose, torch.zeros(2, 10))
    # identity vs a 90-degree turn: the 2x2 block differs by [[1, 1], [-1, 1]] -> 4 / (24 joints * 9 entries)
    torch.testing.assert_close(pose_loss, torch.tensor(4 / (24 * 9)))
    torch.testing.assert_close(shape_loss, torch.tensor(1.0))

    torch.testing.assert_close(generator_adversarial_loss(torch.tensor([[1.0], [0.0]])), torch.tensor(0.5))
    real, fake = discriminator_losses(torch.tensor([[1.0], [0.5]]), torch.tensor([[0.0], [0.0], [0.6]]))
    torch.testing.assert_close(real, torch.tensor(0.125))
    torch.testing.assert_close(fake, torch.tensor(0.12))


def test_axis_angle_to_rotmat_matches_the_numpy_core():
    axis_angle = torch.randn(50, 3, dtype=torch.float64) * 2
    axis_angle[0] = 0.0
    np.testing.assert_allclose(axis_angle_to_rotmat(axis_angle).numpy(), axis_angle_to_matrix(axis_angle.numpy()),
                               atol=1e-12)


def test_losses_use_only_the_frames_that_have_each_label(data_dir, db_dir, tmp_path):
    trainer = small_trainer(data_dir, db_dir, tmp_path)
    batch, real = fixed_batch(db_dir)
    trainer.generator.eval()
    trainer.discriminator.eval()
    with torch.no_grad():
        output = trainer.generator(batch["features"])
        _, _, terms = vibe_losses(output, batch, real, trainer.discriminator, trainer.weights)
        only_3d = {k: v[:2] for k, v in batch.items()}  # the two 3DPW windows
        _, _, terms_3d = vibe_losses({k: v[:2] for k, v in output.items()}, only_3d, real, trainer.discriminator,
                                     trainer.weights)
    for key in ("kp_3d", "pose", "shape"):  # the PennAction windows have no 3D labels: the same loss without them
        torch.testing.assert_close(terms[key], terms_3d[key])
    assert terms["kp_2d"] != terms_3d["kp_2d"]


# ------------------------------------------------------------------------------------------- databases

def test_window_starts_follow_the_official_chunking():
    names = np.array(["a"] * 10 + ["b"] * 3 + ["c"] * 8)
    np.testing.assert_array_equal(window_starts(names, 4, 4), [0, 4, 13, 17])
    np.testing.assert_array_equal(window_starts(names, 4, 1)[:8], [0, 1, 2, 3, 4, 5, 6, 13])
    assert len(window_starts(names, 11, 1)) == 0


def test_official_databases_are_read_into_one_layout(db_dir, smpl):
    labels = smpl_labels(smpl, 16, seed=1)  # what write_3dpw_databases stored
    pw3d = open_sequences(db_dir, "3dpw", "train", 4, True)
    np.testing.assert_array_equal(pw3d.starts, [0, 1, 2, 3, 4, 5, 9, 10, 11, 12])  # overlap 0.75: stride 1
    item = pw3d[6]  # the second video's first window
    np.testing.assert_allclose(item["kp_2d"][:, 25:39, :2], labels["kp_2d"][9:13, 25:39], atol=1e-5)
    assert item["kp_2d"][:, :25, 2].abs().sum() == 0 and item["kp_2d"][:, 25:39, 2].min() == 1
    np.testing.assert_allclose(item["kp_3d"], labels["joints"][9:13], atol=1e-6)
    np.testing.assert_allclose(item["theta"][:, 3:75], labels["pose"][9:13], atol=1e-6)
    np.testing.assert_allclose(item["theta"][:, :3], np.tile([1.0, 0.0, 0.0], (4, 1)))
    assert item["w_3d"].tolist() == [1.0] * 4 and item["w_smpl"].tolist() == [1.0] * 4
    in_2d_role = open_sequences(db_dir, "3dpw", "train", 4, False)[6]  # listed in datasets_2d: 2D keypoints only
    assert in_2d_role["w_3d"].sum() == 0 and in_2d_role["w_smpl"].sum() == 0
    torch.testing.assert_close(in_2d_role["kp_2d"], item["kp_2d"])

    penn_labels = smpl_labels(smpl, 10, seed=3)
    penn = open_sequences(db_dir, "pennaction", "train", 4, False)[1]
    used = [SPIN_JOINTS.index(n) for n in PENNACTION_JOINTS]
    np.testing.assert_allclose(penn["kp_2d"][:, used, :2], penn_labels["kp_2d"][1:5, used], atol=1e-5)
    assert penn["kp_2d"][:, :, 2].sum() == 4 * len(PENNACTION_JOINTS)
    assert penn["w_3d"].sum() == 0 and penn["w_smpl"].sum() == 0 and penn["theta"].abs().sum() == 0

    insta_labels = smpl_labels(smpl, 8, seed=4)
    insta = open_sequences(db_dir, "insta", "train", 4, False)
    used = [SPIN_JOINTS.index(n) for n in INSTA_JOINTS]
    np.testing.assert_allclose(insta[1]["kp_2d"][:, used, :2], insta_labels["kp_2d"][4:8, used], atol=1e-5)
    copied = pickle.loads(pickle.dumps(insta))  # as DataLoader workers started by `spawn` receive it
    torch.testing.assert_close(copied[1], insta[1])


def test_batches_mix_2d_and_3d_windows_as_configured(data_dir, db_dir, tmp_path):
    data = load_config(write_config(tmp_path / "c.json", tiny_config(data_dir, db_dir, tmp_path))).data
    batch, real = next(TrainingStream(data, batch_size=5))  # 60 % of 5: 3 windows from 2D databases, 2 from 3D
    assert batch["features"].shape == (5, 4, 2048) and real.shape == (5, 4, 85)
    assert batch["w_3d"][:, 0].tolist() == [0, 0, 0, 1, 1] and batch["w_smpl"][:, 0].tolist() == [0, 0, 0, 1, 1]
    torch.testing.assert_close(real[..., :3], torch.tensor([1.0, 0.0, 0.0]).expand(5, 4, 3))
    batch, _ = next(TrainingStream(replace(data, datasets_2d=()), batch_size=3))
    assert batch["w_3d"][:, 0].tolist() == [1, 1, 1]


def test_databases_written_by_torch_save_are_read_with_weights_only(tmp_path, db_dir):
    official = load_database(db_dir / "pennaction_train_db.pt")
    torch.save({k: torch.as_tensor(v) for k, v in official.items() if k != "vid_name"}
               | {"vid_name": official["vid_name"]}, tmp_path / "mine_train_db.pt")
    ours = load_database(tmp_path / "mine_train_db.pt")
    for key, value in official.items():
        np.testing.assert_array_equal(ours[key], value)


def test_unusable_databases_are_refused_with_the_reason(tmp_path, db_dir):
    with pytest.raises(BackendError, match="does not exist") as info:
        open_sequences(tmp_path, "mpii3d", "train", 4, True)
    assert "backend.train.extract" in info.value.fix
    with pytest.raises(BackendError, match="listed in datasets_3d but has neither"):
        open_sequences(db_dir, "pennaction", "train", 4, True)
    joblib.dump({"vid_name": np.array(["a"] * 3), "features": np.zeros((3, 2048))}, tmp_path / "x_train_db.pt")
    with pytest.raises(BackendError, match="lacks joints2D, bbox"):
        open_sequences(tmp_path, "x", "train", 2, False)
    joblib.dump({"vid_name": np.array(["a"] * 3), "features": np.zeros((2, 2048)), "joints2D": np.zeros((3, 49, 3)),
                 "bbox": np.ones((3, 4))}, tmp_path / "y_train_db.pt")
    with pytest.raises(BackendError, match="different lengths"):
        open_sequences(tmp_path, "y", "train", 2, False)
    (tmp_path / "z_train_db.pt").write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n." * 3)
    with pytest.raises(BackendError, match="not a readable database"):
        open_sequences(tmp_path, "z", "train", 2, False)


def test_amass_sequences_are_resampled_and_mapped_to_smpl_joints(db_dir):
    amass = read_amass_folder(db_dir / "amass")
    assert sorted(set(amass["vid_name"])) == ["CMU/s1/walk_poses", "CMU/s2/walk_poses"]  # s3: 50 frames < 60
    poses = amass_poses(160, len("s1") + 160)[::2]  # 50 fps -> every 2nd frame
    theta = amass["theta"][amass["vid_name"] == "CMU/s1/walk_poses"]
    assert theta.shape == (80, 82)
    np.testing.assert_allclose(theta[:, :66], poses[:, :66], atol=1e-6)  # pelvis .. 21 body joints
    np.testing.assert_allclose(theta[:, 66:69], poses[:, 66:69], atol=1e-6)  # SMPL-H joint 22 -> left hand
    np.testing.assert_allclose(theta[:, 69:72], poses[:, 111:114], atol=1e-6)  # SMPL-H joint 37 -> right hand
    np.testing.assert_allclose(theta[:, 72:], np.tile(np.arange(10.0) / 10, (80, 1)), atol=1e-6)
    windows = AmassDataset(amass, 16)
    assert len(windows) == 80 // 16 + 65 // 16
    np.testing.assert_allclose(windows[1][:, 3:], theta[16:32], atol=1e-6)


# ------------------------------------------------------------------------------------------- training

def test_a_few_steps_lower_the_generator_and_discriminator_losses(data_dir, db_dir, tmp_path):
    torch.manual_seed(0)
    trainer = small_trainer(data_dir, db_dir, tmp_path)
    batch, real = fixed_batch(db_dir)

    def losses() -> tuple[float, float]:
        trainer.generator.eval()
        trainer.discriminator.eval()
        with torch.no_grad():
            gen, disc, _ = vibe_losses(trainer.generator(batch["features"]), batch, real, trainer.discriminator,
                                       trainer.weights)
        return gen.item(), disc.item()

    gen_before, disc_before = losses()
    for _ in range(5):
        trainer.train_step(batch, real)
    gen_after, disc_after = losses()
    assert gen_after < 0.9 * gen_before
    assert disc_after < disc_before
    assert trainer.step == 5


def assert_same_state(a, b) -> None:
    """Nested dicts/lists of tensors and numbers are identical."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_state(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_state(x, y)
    else:
        assert a == b


def test_a_checkpoint_round_trips_exactly_and_training_continues_identically(data_dir, db_dir, tmp_path):
    torch.manual_seed(1)
    trainer = small_trainer(data_dir, db_dir, tmp_path)
    batch, real = fixed_batch(db_dir)
    trainer.train_step(batch, real)
    trainer.train_step(batch, real)
    trainer.finish_epoch(42.0)
    path = trainer.save(tmp_path, 42.0, is_best=True)
    assert (tmp_path / "model_best.pth.tar").is_file() and float((tmp_path / "best.txt").read_text()) == 42.0

    torch.manual_seed(2)  # different starting weights, replaced by the checkpoint's
    resumed = small_trainer(data_dir, db_dir, tmp_path / "other")
    checkpoint = read_training_checkpoint(path, torch.device("cpu"))
    assert OFFICIAL_CHECKPOINT_KEYS <= checkpoint.keys()
    resumed.resume(checkpoint, path)
    assert_same_state(resumed.checkpoint(42.0), trainer.checkpoint(42.0))
    assert (resumed.epoch, resumed.step, resumed.best_performance) == (1, 2, 42.0)

    torch.manual_seed(3)
    continued = trainer.train_step(batch, real)
    torch.manual_seed(3)
    assert resumed.train_step(batch, real) == continued
    assert_same_state(resumed.checkpoint(42.0), trainer.checkpoint(42.0))


def test_an_official_checkpoint_is_fine_tuned_and_saved_back_in_its_layout(data_dir, tmp_path):
    official_path = write_vibe_checkpoint(tmp_path / "vibe_model_wo_3dpw.pth.tar", seed=4)
    official = read_training_checkpoint(official_path, torch.device("cpu"))
    config = load_config()
    model = replace(config.model, data_dir=str(data_dir), pretrained_regressor="", pretrained=str(official_path))
    generator, discriminator = VibeGenerator(load_smpl_layer(data_dir)), MotionDiscriminator()
    trainer = VibeTrainer(generator, discriminator, config.train, LossWeights(**asdict(config.loss)),
                          torch.device("cpu"))
    trainer.carried = initialise(generator, discriminator, model, torch.device("cpu"))
    saved = trainer.checkpoint(50.0)
    assert_same_state(saved["gen_state_dict"], official["gen_state_dict"])  # every key, regressor.smpl.* included
    assert_same_state(saved["disc_motion_state_dict"], official["disc_motion_state_dict"])
    assert OFFICIAL_CHECKPOINT_KEYS <= saved.keys()
    assert set(vibe_generator_state(smpl_keys=False)) == set(generator.state_dict())


def test_the_training_command_trains_evaluates_resumes_and_its_checkpoint_evaluates_alike(data_dir, db_dir, tmp_path,
                                                                                          capsys):
    out = tmp_path / "run"
    config = write_config(tmp_path / "config.json", tiny_config(data_dir, db_dir, out))
    assert train_main(["--config", str(config)]) == 0
    files = {p.name for p in out.iterdir()}
    assert {"checkpoint.pth.tar", "model_best.pth.tar", "best.txt", "config.json", "train_log.txt",
            "log.jsonl"} <= files
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in records if "performance" in r]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert all(r["performance"] == r["pa_mpjpe"] and r["frames"] == 12 and r["pve"] > 0 for r in epochs)
    steps = [r for r in records if "iteration" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4] and all(r["generator"] > 0 for r in steps)
    assert read_training_checkpoint(out / "checkpoint.pth.tar", torch.device("cpu"))["epoch"] == 1

    write_config(config, tiny_config(data_dir, db_dir, out, epochs=3))
    assert train_main(["--config", str(config), "--resume"]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "performance" in r] == [1, 2, 3]
    assert [r["step"] for r in records if "iteration" in r][-2:] == [5, 6]
    final = read_training_checkpoint(out / "checkpoint.pth.tar", torch.device("cpu"))
    assert (final["epoch"], final["global_step"]) == (2, 6)

    best = min((r for r in records if "performance" in r), key=lambda r: r["performance"])
    capsys.readouterr()
    assert evaluate_main(["--db", str(db_dir / "3dpw_val_db.pt"), "--data-dir", str(data_dir), "--checkpoint",
                          str(out / "model_best.pth.tar"), "--seqlen", "4", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("mpjpe", "pa_mpjpe", "pve", "accel_error"):
        assert result[key] == pytest.approx(best[key], rel=1e-5)


def test_the_training_command_reports_bad_setups(data_dir, db_dir, tmp_path, capsys):
    config = tiny_config(data_dir, db_dir, tmp_path / "run")
    assert train_main(["--config", str(write_config(tmp_path / "c.json", config)), "--resume"]) == 1
    assert "checkpoint.pth.tar does not exist" in capsys.readouterr().err
    config["data"]["datasets_3d"] = ["mpii3d"]
    assert train_main(["--config", str(write_config(tmp_path / "c.json", config))]) == 1
    err = capsys.readouterr().err
    assert "mpii3d_train_db.pt does not exist" in err and "fix:" in err
    with pytest.raises(BackendError, match="No training database"):
        TrainingStream(replace(load_config().data, datasets_2d=(), datasets_3d=()), 4)


# ------------------------------------------------------------------------------------------- feature extraction

def test_extract_builds_a_database_of_spin_features_from_videos_and_labels(data_dir, tmp_path):
    write_spin_checkpoint(data_dir / "spin_model_checkpoint.pth.tar")
    frames, boxes = moving_people(8, 240, 320, [((40, 30), (120, 40))], person_height=150)
    videos, labels = tmp_path / "videos", tmp_path / "labels"
    videos.mkdir()
    labels.mkdir()
    write_video(videos / "clip.avi", frames, fourcc="MJPG")
    frame_ids = np.array([2, 3, 5])
    corners = boxes[frame_ids, 0]  # x1, y1, x2, y2 of the person
    openpose = np.zeros((3, 25, 3))
    openpose[:, 0] = np.column_stack([corners[:, 0], corners[:, 1], np.ones(3)])  # nose at the top left
    openpose[:, 11] = np.column_stack([corners[:, 2], corners[:, 3], np.ones(3)])  # right ankle at the bottom right
    np.savez(labels / "person_a.npz", video="clip.avi", frame_ids=frame_ids, joints2D=openpose)
    np.savez(labels / "person_b.npz", video="clip.avi", frame_ids=np.array([4]), joints2D=openpose[:1],
             bbox=np.array([[100.0, 100.0, 80.0, 80.0]]))

    out = tmp_path / "db" / "mine_train_db.pt"
    assert extract.main(["--videos", str(videos), "--labels", str(labels), "--data-dir", str(data_dir),
                         "--out", str(out), "--device", "cpu"]) == 0
    db = load_database(out)
    official_reader = joblib.load(out)
    for key, value in db.items():
        np.testing.assert_array_equal(official_reader[key], value)
    assert db["vid_name"].tolist() == ["clip_person_a"] * 3 + ["clip_person_b"]
    np.testing.assert_array_equal(db["frame_id"], [2, 3, 5, 4])
    np.testing.assert_allclose(db["joints2D"][:3, :25], openpose)
    assert db["joints2D"][:, 25:].sum() == 0
    side = (corners[:, 2:] - corners[:, :2]).max(axis=1) * 1.1  # square around the keypoints, enlarged 1.1
    np.testing.assert_allclose(db["bbox"][:3], np.column_stack([(corners[:, :2] + corners[:, 2:]) / 2, side, side]))

    frames_read = dict(VideoReader(videos / "clip.avi"))
    backbone = load_spin_backbone(data_dir, torch.device("cpu")).eval()
    from backend.crops import crop_people
    crops = np.concatenate([crop_people(frames_read[f], db["bbox"][[i]], scale=1.2)
                            for i, f in enumerate(db["frame_id"])])
    with torch.no_grad():
        expected = backbone(normalize_imagenet(crops)).numpy()
    np.testing.assert_allclose(db["features"], expected, rtol=1e-4, atol=1e-4)
    assert len(open_sequences(out.parent, "mine", "train", 3, with_3d=False)) == 1


def test_extract_refuses_inconsistent_labels(data_dir, tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    np.savez(labels / "a.npz", video="clip.avi", frame_ids=np.array([3, 2]), joints2D=np.ones((2, 49, 3)))
    with pytest.raises(BackendError, match="increasing"):
        extract.build_database(tmp_path, labels, data_dir, torch.device("cpu"))
    np.savez(labels / "a.npz", video="clip.avi", frame_ids=np.array([1, 2]), joints2D=np.ones((2, 17, 3)))
    with pytest.raises(BackendError, match=r"joints2D has shape \(2, 17, 3\)"):
        extract.build_database(tmp_path, labels, data_dir, torch.device("cpu"))
    np.savez(labels / "a.npz", video="clip.avi", frame_ids=np.array([1, 2]), joints2D=np.ones((2, 14, 3)),
             pose=np.zeros((2, 72)))
    np.savez(labels / "b.npz", video="clip.avi", frame_ids=np.array([1, 2]), joints2D=np.ones((2, 14, 3)))
    with pytest.raises(BackendError, match="Only some label files have pose"):
        extract.build_database(tmp_path, labels, data_dir, torch.device("cpu"))
