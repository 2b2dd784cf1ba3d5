"""VIBE model side: official key layouts, forward passes against independent numpy references, loading errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from backend.checkpoints import resolve_device
from backend.errors import BackendError
from backend.models.regressor import rotmat_to_axis_angle
from backend.models.resnet import ResNet50Features, normalize_imagenet
from backend.models.temporal import VibeGenerator
from backend.smpl_layer import VIBE_JOINT_NAMES, load_smpl_layer
from backend.vibe import load_vibe
from tests.checkpoints_synthetic import (
    make_j_regressor,
    resnet50_state,
    spin_model_state,
    vibe_generator_state,
    write_j_regressor_extra,
    write_mean_params,
    write_vibe_checkpoint,
)
from tests.synthetic import make_smpl_arrays, write_smpl_model

# Transcribed from the official code: smplx vertex_ids['smplh'] in VertexJointSelector order, and VIBE's
# [JOINT_MAP[name] for name in JOINT_NAMES] (lib/models/smpl.py).
SMPLX_VERTEX_IDS = [332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787,
                    2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133]
OFFICIAL_JOINT_MAP = [24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
                      8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27]


# ---------------------------------------------------------------- independent numpy reference (float64)

def np_rodrigues(aa: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(aa, axis=-1)[..., None, None]
    axis = aa / np.maximum(np.linalg.norm(aa, axis=-1, keepdims=True), 1e-12)
    k = np.zeros(aa.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def np_gru(x: np.ndarray, weights: dict, prefix: str, layers: int) -> np.ndarray:
    """PyTorch's GRU equations, gates ordered (reset, update, new), zero initial state. x (B, T, F)."""
    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    for layer in range(layers):
        w_ih, w_hh = weights[f"{prefix}.weight_ih_l{layer}"], weights[f"{prefix}.weight_hh_l{layer}"]
        b_ih, b_hh = weights[f"{prefix}.bias_ih_l{layer}"], weights[f"{prefix}.bias_hh_l{layer}"]
        size = w_hh.shape[1]
        h = np.zeros((x.shape[0], size))
        outputs = []
        for t in range(x.shape[1]):
            gi, gh = x[:, t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
            r = sigmoid(gi[:, :size] + gh[:, :size])
            z = sigmoid(gi[:, size:2 * size] + gh[:, size:2 * size])
            n = np.tanh(gi[:, 2 * size:] + r * gh[:, 2 * size:])
            h = (1 - z) * n + z * h
            outputs.append(h)
        x = np.stack(outputs, axis=1)
    return x


def np_rot6d(x: np.ndarray) -> np.ndarray:
    a = x.reshape(-1, 3, 2)
    b1 = a[:, :, 0] / np.linalg.norm(a[:, :, 0], axis=1, keepdims=True)
    b2 = a[:, :, 1] - np.sum(b1 * a[:, :, 1], axis=1, keepdims=True) * b1
    b2 /= np.linalg.norm(b2, axis=1, keepdims=True)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-1)


def np_smpl(smpl: dict, extra: np.ndarray, betas: np.ndarray, rotmat: np.ndarray):
    """SMPL LBS with pose blend shapes for one body; returns vertices, 24 posed joints, 49 VIBE joints."""
    shaped = smpl["v_template"] + smpl["shapedirs"] @ betas
    j_regressor = smpl["J_regressor"].toarray()
    rest = j_regressor @ shaped
    posed = shaped + smpl["posedirs"] @ (rotmat[1:] - np.eye(3)).ravel()
    parents = smpl["kintree_table"][0].astype(np.int64)
    world = np.zeros((24, 4, 4))
    for j in range(24):
        local = np.eye(4)
        local[:3, :3] = rotmat[j]
        local[:3, 3] = rest[j] - (rest[parents[j]] if j else 0)
        world[j] = world[parents[j]] @ local if j else local
    skin = world.copy()
    for j in range(24):
        skin[j, :3, 3] -= world[j, :3, :3] @ rest[j]
    blended = np.einsum("vj,jab->vab", smpl["weights"], skin)
    verts = np.einsum("vab,vb->va", blended[:, :3, :3], posed) + blended[:, :3, 3]
    joints24 = world[:, :3, 3]
    all54 = np.concatenate([joints24, verts[SMPLX_VERTEX_IDS], extra @ verts])
    return verts, joints24, all54[OFFICIAL_JOINT_MAP]


def np_vibe(features: np.ndarray, w: dict, smpl: dict, extra: np.ndarray) -> dict:
    """VIBE generator forward (B, T, 2048) per the official code, in float64."""
    batch, frames = features.shape[:2]
    hidden = np_gru(features, w, "encoder.gru", 2)
    encoded = (np.maximum(hidden, 0) @ w["encoder.linear.weight"].T + w["encoder.linear.bias"] + features)
    x = encoded.reshape(batch * frames, -1)
    pose, shape, cam = (np.repeat(w[f"regressor.init_{k}"], len(x), axis=0) for k in ("pose", "shape", "cam"))
    for _ in range(3):
        xc = np.concatenate([x, pose, shape, cam], axis=1)
        xc = xc @ w["regressor.fc1.weight"].T + w["regressor.fc1.bias"]
        xc = xc @ w["regressor.fc2.weight"].T + w["regressor.fc2.bias"]
        pose = pose + xc @ w["regressor.decpose.weight"].T + w["regressor.decpose.bias"]
        shape = shape + xc @ w["regressor.decshape.weight"].T + w["regressor.decshape.bias"]
        cam = cam + xc @ w["regressor.deccam.weight"].T + w["regressor.deccam.bias"]
    rotmat = np_rot6d(pose).reshape(-1, 24, 3, 3)
    bodies = [np_smpl(smpl, extra, s, r) for s, r in zip(shape, rotmat, strict=True)]
    verts = np.stack([b[0] for b in bodies])
    kp_3d = np.stack([b[2] for b in bodies])
    t = np.stack([cam[:, 1], cam[:, 2], 2 * 5000 / (224 * cam[:, 0] + 1e-9)], axis=1)
    points = kp_3d + t[:, None]
    kp_2d = 5000 * points[..., :2] / points[..., 2:] / 112.0
    out = {"cam": cam, "shape": shape, "rotmat": rotmat, "verts": verts, "kp_3d": kp_3d, "kp_2d": kp_2d}
    return {k: v.reshape(batch, frames, *v.shape[1:]) for k, v in out.items()}


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def data_dir(vibe_data_dir):
    return vibe_data_dir


@pytest.fixture(scope="module")
def model(data_dir):
    return load_vibe(data_dir, "vibe_model_wo_3dpw.pth.tar", device="cpu")


@pytest.fixture(scope="module")
def reference_arrays():
    weights = {k: v.double().numpy() for k, v in vibe_generator_state(0, smpl_keys=False).items()}
    return weights, make_smpl_arrays(0), make_j_regressor(9, 0)


def folder_without(data_dir, tmp_path, *names):
    """A copy of the data folder (symlinks) lacking `names`."""
    folder = tmp_path / "partial"
    folder.mkdir()
    for path in data_dir.iterdir():
        if path.name not in names:
            (folder / path.name).symlink_to(path)
    return folder


def shapes(state: dict) -> dict:
    return {k: tuple(v.shape) for k, v in state.items()}


# ---------------------------------------------------------------- layouts and loading

def test_module_keys_equal_official_layouts(data_dir):
    generator = VibeGenerator(load_smpl_layer(data_dir))
    assert shapes(generator.state_dict()) == shapes(vibe_generator_state(0, smpl_keys=False))
    assert shapes(ResNet50Features().state_dict()) == shapes(resnet50_state(0))


def test_load_vibe_takes_generator_and_backbone_weights(model):
    expected = vibe_generator_state(0, smpl_keys=False)
    loaded = model.generator.state_dict()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    spin = spin_model_state(0)
    assert all(torch.equal(v, spin[k]) for k, v in model.backbone.state_dict().items())
    assert model.name == "vibe" and model.version == "vibe_model_wo_3dpw"
    assert not model.generator.training and not model.backbone.training


def test_checkpoint_without_smpl_keys_loads_too(data_dir, tmp_path):
    folder = folder_without(data_dir, tmp_path, "vibe_model_wo_3dpw.pth.tar")
    write_vibe_checkpoint(folder / "vibe_model_wo_3dpw.pth.tar", seed=0, smpl_keys=False)
    assert load_vibe(folder).version == "vibe_model_wo_3dpw"


def test_missing_init_params_come_from_smpl_mean_params(data_dir, tmp_path):
    init_keys = ("regressor.init_pose", "regressor.init_shape", "regressor.init_cam")
    folder = folder_without(data_dir, tmp_path, "vibe_model_wo_3dpw.pth.tar", "smpl_mean_params.npz")
    write_vibe_checkpoint(folder / "vibe_model_wo_3dpw.pth.tar", seed=0, drop=init_keys)
    with pytest.raises(BackendError) as error:
        load_vibe(folder)
    assert "smpl_mean_params.npz" in error.value.message and "prepare_data.sh" in error.value.fix
    write_mean_params(folder / "smpl_mean_params.npz", seed=3)
    regressor = load_vibe(folder).generator.regressor
    with np.load(folder / "smpl_mean_params.npz") as mean:
        np.testing.assert_allclose(regressor.init_pose[0].numpy(), mean["pose"], atol=1e-7)
        np.testing.assert_allclose(regressor.init_shape[0].numpy(), mean["shape"], atol=1e-6)
        np.testing.assert_allclose(regressor.init_cam[0].numpy(), mean["cam"], atol=1e-7)


# ---------------------------------------------------------------- numerics

def test_regress_matches_numpy_reference(model, reference_arrays):
    weights, smpl, extra = reference_arrays
    features = np.random.default_rng(1).uniform(0, 1, size=(2, 4, 2048))
    out = model.regress(torch.from_numpy(features).float())
    ref = np_vibe(features, weights, smpl, extra)
    assert out["theta"].shape == (2, 4, 85) and out["verts"].shape == (2, 4, 6890, 3)
    assert out["kp_3d"].shape == (2, 4, 49, 3) and out["rotmat"].shape == (2, 4, 24, 3, 3)
    theta = out["theta"].double().numpy()
    np.testing.assert_allclose(theta[..., :3], ref["cam"], atol=1e-4)
    np.testing.assert_allclose(theta[..., 75:], ref["shape"], atol=1e-4)
    np.testing.assert_allclose(out["rotmat"].numpy(), ref["rotmat"], atol=1e-4)
    np.testing.assert_allclose(np_rodrigues(theta[..., 3:75].reshape(2, 4, 24, 3)), ref["rotmat"], atol=1e-4)
    assert np.linalg.norm(theta[..., 3:75].reshape(-1, 3), axis=-1).max() <= np.pi + 1e-5
    np.testing.assert_allclose(out["verts"].numpy(), ref["verts"], atol=1e-4)
    np.testing.assert_allclose(out["kp_3d"].numpy(), ref["kp_3d"], atol=1e-4)
    np.testing.assert_allclose(out["kp_2d"].numpy(), ref["kp_2d"], atol=1e-4)
    # the pose really moved away from the mean start, so the comparison covers the regressor's updates
    assert np.abs(ref["rotmat"][0, 0] - np_rot6d(weights["regressor.init_pose"][0])).max() > 0.05


def test_smpl_layer_matches_numpy_lbs(data_dir, reference_arrays):
    _, smpl, extra = reference_arrays
    rng = np.random.default_rng(2)
    betas = rng.normal(size=(3, 10))
    rotmat = np_rodrigues(rng.normal(scale=0.8, size=(3, 24, 3)))
    out = load_smpl_layer(data_dir)(torch.from_numpy(betas).float(), torch.from_numpy(rotmat).float())
    for i in range(3):
        verts, joints24, joints49 = np_smpl(smpl, extra, betas[i], rotmat[i])
        np.testing.assert_allclose(out.vertices[i].numpy(), verts, atol=1e-5)
        np.testing.assert_allclose(out.smpl_joints[i].numpy(), joints24, atol=1e-5)
        np.testing.assert_allclose(out.joints[i].numpy(), joints49, atol=1e-5)
    assert len(VIBE_JOINT_NAMES) == 49 and VIBE_JOINT_NAMES[8] == "OP MidHip"


def test_smpl_layer_from_chumpy_model_file(tmp_path, reference_arrays):
    _, smpl, extra = reference_arrays
    write_smpl_model(tmp_path / "SMPL_NEUTRAL.pkl", chumpy=True, seed=0)
    write_j_regressor_extra(tmp_path / "J_regressor_extra.npy", seed=0)
    rotmat = np_rodrigues(np.random.default_rng(3).normal(scale=0.5, size=(24, 3)))
    betas = np.linspace(-1, 1, 10)
    out = load_smpl_layer(tmp_path)(torch.tensor(betas[None]).float(), torch.tensor(rotmat[None]).float())
    np.testing.assert_allclose(out.vertices[0].numpy(), np_smpl(smpl, extra, betas, rotmat)[0], atol=1e-5)


def test_rotmat_to_axis_angle_is_exact_up_to_180_degrees():
    rng = np.random.default_rng(4)
    axes = rng.normal(size=(400, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, np.pi, 200), np.pi - np.logspace(-7, -1, 100), np.zeros(100)])
    matrices = np_rodrigues(axes * angles[:, None])
    aa = rotmat_to_axis_angle(torch.from_numpy(matrices)).numpy()
    np.testing.assert_allclose(np_rodrigues(aa), matrices, atol=1e-9)
    below_pi = angles < np.pi - 1e-3  # the axis-angle is unique there
    np.testing.assert_allclose(aa[below_pi], (axes * angles[:, None])[below_pi], atol=1e-9)


def functional_resnet50(images: torch.Tensor, state: dict) -> torch.Tensor:
    """ResNet-50 written directly from the official key names (eval-mode BatchNorm), no module classes."""
    def bn(x, name):
        return F.batch_norm(x, state[f"{name}.running_mean"], state[f"{name}.running_var"], state[f"{name}.weight"],
                            state[f"{name}.bias"], training=False, eps=1e-5)

    x = F.relu(bn(F.conv2d(images, state["conv1.weight"], stride=2, padding=3), "bn1"))
    x = F.max_pool2d(x, 3, stride=2, padding=1)
    for layer, blocks in enumerate((3, 4, 6, 3), start=1):
        for block in range(blocks):
            name, stride = f"layer{layer}.{block}", (2 if layer > 1 and block == 0 else 1)
            out = F.relu(bn(F.conv2d(x, state[f"{name}.conv1.weight"]), f"{name}.bn1"))
            out = F.relu(bn(F.conv2d(out, state[f"{name}.conv2.weight"], stride=stride, padding=1), f"{name}.bn2"))
            out = bn(F.conv2d(out, state[f"{name}.conv3.weight"]), f"{name}.bn3")
            if block == 0:
                x = bn(F.conv2d(x, state[f"{name}.downsample.0.weight"], stride=stride), f"{name}.downsample.1")
            x = F.relu(out + x)
    return x.mean(dim=(2, 3))


def test_extract_features_matches_functional_resnet(model):
    crops = np.random.default_rng(5).integers(0, 256, size=(3, 224, 224, 3), dtype=np.uint8)
    images = normalize_imagenet(crops)
    model.feature_batch = 2  # 3 crops: two batches
    features = model.extract_features(images)
    with torch.inference_mode():
        expected = functional_resnet50(images, resnet50_state(0))
    assert features.shape == (3, 2048)
    torch.testing.assert_close(features, expected, atol=1e-4, rtol=1e-4)
    assert features.std() > 0.05  # not a degenerate (all-zero) feature map


def test_normalize_imagenet():
    crops = np.zeros((1, 224, 224, 3), dtype=np.uint8)
    crops[..., 0], crops[..., 1], crops[..., 2] = 255, 128, 0
    images = normalize_imagenet(crops)
    assert images.shape == (1, 3, 224, 224) and images.dtype == torch.float32
    expected = [(1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0 - 0.406) / 0.225]
    torch.testing.assert_close(images[0, :, 5, 7], torch.tensor(expected))
    with pytest.raises(ValueError, match="uint8"):
        normalize_imagenet(crops.astype(np.float32))


def test_estimate_feeds_chunks_with_fresh_gru_state(model, monkeypatch, reference_arrays):
    monkeypatch.setattr(model, "sequence_chunk", 3)
    crops = np.random.default_rng(6).integers(0, 256, size=(7, 224, 224, 3), dtype=np.uint8)
    result = model.estimate(crops)
    assert {k: v.shape for k, v in result.items()} == {
        "pose": (7, 72), "betas": (7, 10), "cam": (7, 3), "joints3d": (7, 49, 3), "pelvis": (7, 3)}
    smpl = reference_arrays[1]
    pelvis = np.array([smpl["J_regressor"][0] @ (smpl["v_template"] + smpl["shapedirs"] @ b) for b in result["betas"]])
    np.testing.assert_allclose(result["pelvis"], pelvis.reshape(7, 3), atol=1e-5)
    features = model.extract_features(normalize_imagenet(crops))
    chunks = [model.regress(features[None, s:s + 3]) for s in (0, 3, 6)]
    theta = torch.cat([c["theta"][0] for c in chunks]).numpy()
    np.testing.assert_allclose(result["pose"], theta[:, 3:75], atol=1e-5)
    np.testing.assert_allclose(result["betas"], theta[:, 75:], atol=1e-5)
    np.testing.assert_allclose(result["cam"], theta[:, :3], atol=1e-5)
    np.testing.assert_allclose(result["joints3d"], torch.cat([c["kp_3d"][0] for c in chunks]).numpy(), atol=1e-5)
    one_sequence = model.regress(features[None])["theta"][0].numpy()
    assert np.abs(one_sequence[3:] - theta[3:]).max() > 1e-3  # the state restarts at frame 3


def test_bad_inputs_are_refused(model):
    with pytest.raises(ValueError, match="224"):
        model.extract_features(torch.zeros(1, 3, 200, 200))
    with pytest.raises(ValueError, match="2048"):
        model.regress(torch.zeros(1, 5, 512))
    with pytest.raises(ValueError, match="at least one"):
        model.estimate(np.zeros((0, 224, 224, 3), dtype=np.uint8))


# ---------------------------------------------------------------- errors users can act on

@pytest.mark.parametrize(("name", "hint"), [
    ("vibe_model_wo_3dpw.pth.tar", "prepare_data.sh"),
    ("spin_model_checkpoint.pth.tar", "prepare_data.sh"),
    ("SMPL_NEUTRAL.pkl", "smplify.is.tue.mpg.de"),
    ("J_regressor_extra.npy", "prepare_data.sh"),
])
def test_missing_file_names_it_and_its_source(data_dir, tmp_path, name, hint):
    with pytest.raises(BackendError) as error:
        load_vibe(folder_without(data_dir, tmp_path, name))
    assert name in error.value.message and hint in error.value.fix


def test_spin_checkpoint_given_as_vibe(data_dir):
    with pytest.raises(BackendError) as error:
        load_vibe(data_dir, checkpoint="spin_model_checkpoint.pth.tar")
    message = error.value.message
    assert "spin_model_checkpoint.pth.tar" in message and "'gen_state_dict'" in message and "model" in message
    assert "prepare_data.sh" in error.value.fix


class NotWeights:
    """A pickled class instance: weights_only loading must refuse it instead of importing this module."""


@pytest.mark.parametrize(("content", "reason"), [
    ({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, "no 'gen_state_dict'"),
    (torch.zeros(3), "it holds: Tensor"),
    ({"gen_state_dict": {"encoder.linear.weight": torch.zeros(2)}, "extra": NotWeights()}, "Python objects"),
    (b"not a checkpoint at all", "not a readable PyTorch checkpoint"),
])
def test_wrong_file_given_as_vibe(data_dir, tmp_path, content, reason):
    folder = folder_without(data_dir, tmp_path, "vibe_model_wo_3dpw.pth.tar")
    path = folder / "vibe_model_wo_3dpw.pth.tar"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(BackendError) as error:
        load_vibe(folder)
    assert reason in error.value.message and str(path) in error.value.message
    assert "VIBE motion model" in error.value.message and "prepare_data.sh" in error.value.fix


def test_checkpoint_missing_a_key_names_it(data_dir, tmp_path):
    folder = folder_without(data_dir, tmp_path, "vibe_model_wo_3dpw.pth.tar")
    write_vibe_checkpoint(folder / "vibe_model_wo_3dpw.pth.tar", drop=("encoder.linear.weight",))
    with pytest.raises(BackendError, match=r"key for key \(missing: encoder\.linear\.weight\)") as error:
        load_vibe(folder)
    assert "unexpected" not in error.value.message


def test_checkpoint_with_wrong_shapes_and_extra_keys_names_them(data_dir, tmp_path):
    folder = folder_without(data_dir, tmp_path, "vibe_model_wo_3dpw.pth.tar")
    state = vibe_generator_state(0)
    state["regressor.fc2.bias"] = torch.zeros(512)
    state["encoder.attention.weight"] = torch.zeros(4)
    torch.save({"gen_state_dict": state}, folder / "vibe_model_wo_3dpw.pth.tar")
    with pytest.raises(BackendError) as error:
        load_vibe(folder)
    assert "unexpected: encoder.attention.weight" in error.value.message
    assert "wrong shape: regressor.fc2.bias (512,) instead of (1024,)" in error.value.message


def test_spin_checkpoint_with_foreign_keys_is_refused(data_dir, tmp_path):
    folder = folder_without(data_dir, tmp_path, "spin_model_checkpoint.pth.tar")
    backbone = {k: v for k, v in resnet50_state(0).items() if not k.startswith("layer4.2.")}
    torch.save({"model": {**backbone, "fc.weight": torch.zeros(1000, 2048)}}, folder / "spin_model_checkpoint.pth.tar")
    with pytest.raises(BackendError) as error:
        load_vibe(folder)
    message = error.value.message
    assert "missing: layer4.2.conv1.weight" in message and "and 10 more" in message
    assert "unexpected: fc.weight" in message and "SPIN" in message


def test_device_choice():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BackendError, match="Unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="CUDA"):
            resolve_device("cuda")
