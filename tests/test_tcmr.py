"""TCMR: temporal encoder against an independent numpy reference, checkpoint layout and loading, demo windowing."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import BackendError
from backend.models.resnet import normalize_imagenet
from backend.models.tcmr import TemporalEncoder, demo_windows
from backend.tcmr import load_tcmr
from tests.checkpoints_synthetic import make_data_dir, regressor_state, smpl_module_state
from tests.test_vibe_model import np_gru

DOC = Path(__file__).resolve().parents[1] / "docs" / "tcmr_checkpoint.md"


# ---------------------------------------------------------------- synthetic checkpoint in the official layout

def documented_encoder_shapes() -> dict[str, tuple[int, ...]]:
    """`encoder.*` key -> shape from the table in docs/tcmr_checkpoint.md (written out from the official code)."""
    rows = re.findall(r"^\| `(encoder\.[\w.]+)` \| \(([\d, ]+)\) \|", DOC.read_text(), flags=re.MULTILINE)
    return {key: tuple(int(n) for n in dims.split(",") if n.strip()) for key, dims in rows}


def tcmr_generator_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """`gen_state_dict` of the demo model: the documented encoder keys (PyTorch-like init ranges), VIBE's regressor
    keys and the official SMPL layer's buffers."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in documented_encoder_shapes().items():
        bound = 1 / (shape[1] if len(shape) == 2 else 1024) ** 0.5
        state[key] = (torch.rand(shape, generator=gen) * 2 - 1) * bound
    return {**state, **regressor_state(gen, "regressor."), **smpl_module_state("regressor.smpl.")}


def write_tcmr_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """tcmr_demo_model.pth.tar layout: the entries TCMR's trainer saves, `performance` a numpy scalar as it writes."""
    path = Path(path)
    generator = tcmr_generator_state(seed)
    torch.save({"epoch": 30, "gen_state_dict": generator, "performance": np.float64(41.1),
                "gen_optimizer": {"state": {}, "param_groups": [{"lr": 5e-5, "params": list(range(len(generator)))}]}},
               path, _use_new_zipfile_serialization=False)
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = make_data_dir(tmp_path_factory.mktemp("tcmr"))
    write_tcmr_checkpoint(folder / "tcmr_demo_model.pth.tar")
    return folder


@pytest.fixture(scope="module")
def model(data_dir):
    return load_tcmr(data_dir, device="cpu")


# ---------------------------------------------------------------- independent numpy reference of the encoder

def _np_gru_direction(x, params, name):
    """One layer, one direction, through VIBE's numpy GRU; `name` is e.g. 'gru_cur.{}_l1_reverse'."""
    weights = {f"d.{w}_l0": params[name.format(w)] for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    return np_gru(x, weights, "d", 1)


def _np_gru(x, params, prefix, num_layers, bidirectional):
    """Stacked GRU; a bidirectional layer concatenates a reverse direction that reads the sequence backwards."""
    for layer in range(num_layers):
        out = _np_gru_direction(x, params, f"{prefix}.{{}}_l{layer}")
        if bidirectional:
            backward = _np_gru_direction(x[:, ::-1], params, f"{prefix}.{{}}_l{layer}_reverse")[:, ::-1]
            out = np.concatenate([out, backward], axis=-1)
        x = out
    return x


def _np_linear(x, params, prefix):
    return x @ params[f"{prefix}.weight"].T + params[f"{prefix}.bias"]


def _np_encoder(windows, params, num_layers):
    """The official forward written out: three GRU views, ReLU + linear, tanh-MLP attention, weighted sum."""
    mid = windows.shape[1] // 2
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    current = _np_gru(windows, params, "gru_cur", num_layers, True)[:, mid]
    past = _np_gru(windows[:, :mid], params, "gru_bef", num_layers, False)[:, -1]
    future = _np_gru(windows[:, :mid:-1], params, "gru_aft", num_layers, False)[:, -1]
    views = np.stack([
        _np_linear(relu(past), params, "linear_bef"),
        _np_linear(relu(current), params, "linear_cur"),
        _np_linear(relu(future), params, "linear_aft"),
    ], axis=1)
    a = _np_linear(views, params, "attention.fc").reshape(len(windows), -1)
    for i in (0, 2, 4):
        a = np.tanh(_np_linear(a, params, f"attention.attention.{i}"))
    scores = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    return (views * scores[:, :, None]).sum(axis=1), scores


@pytest.mark.parametrize("seq_len", [16, 7])
def test_encoder_matches_numpy_reference(seq_len):
    torch.manual_seed(0)
    encoder = TemporalEncoder(seq_len=seq_len, hidden_size=5, num_layers=2, feature_size=6, attention_hidden=4).double()
    for p in encoder.parameters():
        torch.nn.init.uniform_(p, -0.8, 0.8)  # large enough that every gate and the attention are far from linear
    windows = np.random.default_rng(1).normal(size=(3, seq_len, 6))
    params = {k: v.numpy() for k, v in encoder.state_dict().items()}

    fused, scores = encoder(torch.from_numpy(windows))
    ref_fused, ref_scores = _np_encoder(windows, params, num_layers=2)

    np.testing.assert_allclose(scores.detach().numpy(), ref_scores, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fused.detach().numpy(), ref_fused, rtol=1e-10, atol=1e-12)
    assert not np.allclose(ref_scores, 1 / 3, atol=1e-3)  # the attention really weighs the views


def test_encoder_rejects_windows_of_the_wrong_length():
    encoder = TemporalEncoder(hidden_size=5, num_layers=1, feature_size=6, attention_hidden=4)
    with pytest.raises(ValueError, match=r"\(B, 16, F\)"):
        encoder(torch.zeros(2, 15, 6))


# ---------------------------------------------------------------- demo windowing

def _official_windows(num_frames, seq_len=16):
    """The official FeatureDataset's list, rebuilt: real windows [i, i+15], then 8 single-frame entries in front and
    7 at the back; a single-frame entry expands to that frame repeated seq_len times."""
    half = seq_len // 2
    spans = [(i, i + seq_len - 1) for i in range(num_frames - seq_len + 1)]
    spans = [(k, k) for k in range(half)] + spans + [(k, k) for k in range(num_frames - half + 1, num_frames)]
    return np.array([[a] * seq_len if a == b else list(range(a, b + 1)) for a, b in spans])


@pytest.mark.parametrize("num_frames", [15, 16, 17, 40])
def test_official_edge_windows_equal_the_official_list(num_frames):
    windows = demo_windows(num_frames, edges="official")
    np.testing.assert_array_equal(windows, _official_windows(num_frames))
    assert windows.shape == (num_frames, 16)
    assert (windows[0] == 0).all() and (windows[-1] == num_frames - 1).all()


def test_official_windows_centre_each_frame_where_a_full_window_fits():
    windows = demo_windows(30, edges="official")
    np.testing.assert_array_equal(windows[8], np.arange(16))
    np.testing.assert_array_equal(windows[22], np.arange(14, 30))
    np.testing.assert_array_equal(windows[23], np.full(16, 23))
    np.testing.assert_array_equal(demo_windows(5, edges="official"), np.repeat(np.arange(5)[:, None], 16, axis=1))


def test_padded_windows_repeat_the_first_and_last_frames():
    windows = demo_windows(30)
    np.testing.assert_array_equal(windows[0], [0] * 8 + list(range(8)))
    np.testing.assert_array_equal(windows[3], [0] * 5 + list(range(11)))
    np.testing.assert_array_equal(windows[8], np.arange(16))
    np.testing.assert_array_equal(windows[29], list(range(21, 30)) + [29] * 7)
    np.testing.assert_array_equal(demo_windows(3)[1], [0] * 7 + [0, 1, 2] + [2] * 6)
    assert (windows[:, 8] == np.arange(30)).all()  # every frame sits at the mid position


# ---------------------------------------------------------------- loading the official layout

def test_load_tcmr_takes_every_checkpoint_weight(model, data_dir):
    state = tcmr_generator_state(0)
    own = model.generator.state_dict()
    loaded = {k: v for k, v in state.items() if not k.startswith("regressor.smpl.")}
    assert set(own) == set(loaded)
    for key, value in loaded.items():
        assert torch.equal(own[key], value), key
    assert (model.name, model.version) == ("tcmr", "tcmr_demo_model")


def _expect_error(data_dir, checkpoint, *phrases):
    with pytest.raises(BackendError) as info:
        load_tcmr(data_dir, checkpoint=checkpoint)
    text = f"{info.value.message} {info.value.fix}"
    for phrase in phrases:
        assert phrase in text, text


def test_missing_or_unreadable_checkpoint_names_file_and_download(data_dir, tmp_path):
    _expect_error(data_dir, "nowhere.pth.tar", "nowhere.pth.tar", "TCMR", "get_base_data.sh")
    garbage = tmp_path / "tcmr_demo_model.pth.tar"
    garbage.write_text("not a checkpoint")
    _expect_error(data_dir, garbage, str(garbage), "not a readable PyTorch checkpoint", "get_base_data.sh")


def test_vibe_or_spin_file_given_as_tcmr_says_what_is_wrong(data_dir):
    _expect_error(data_dir, "vibe_model_wo_3dpw.pth.tar", "does not match tcmr_demo_model.pth.tar key for key",
                  "missing: encoder.gru_cur.weight_ih_l0", "unexpected: encoder.gru.weight_ih_l0", "get_base_data.sh")
    _expect_error(data_dir, "spin_model_checkpoint.pth.tar", "no 'gen_state_dict'", "get_base_data.sh")


# ---------------------------------------------------------------- regress and estimate on the loaded model

def test_regress_gives_each_frame_the_output_of_its_demo_window(model):
    frames = 17  # full windows for frames 8 and 9 only
    features = torch.randn(2, frames, 2048, generator=torch.Generator().manual_seed(3))
    model.generator.window_batch = 5  # several window batches, each mixing both sequences
    out = model.regress(features)

    assert out["theta"].shape == (2, frames, 85) and out["verts"].shape == (2, frames, 6890, 3)
    assert out["kp_3d"].shape == (2, frames, 49, 3) and out["rotmat"].shape == (2, frames, 24, 3, 3)
    checks = [(0, 8, range(16))] + [(1, t, window) for t, window in (
        (0, [0] * 8 + list(range(8))), (7, [0] + list(range(15))), (8, range(16)), (9, range(1, 17)),
        (10, list(range(2, 17)) + [16]), (16, list(range(8, 17)) + [16] * 7))]
    for seq, t, window in checks:
        with torch.inference_mode():
            fused, _ = model.generator.encoder(features[seq, list(window)][None])
            expected = model.generator.regressor(fused)
        for key in ("theta", "verts", "kp_3d", "rotmat"):
            torch.testing.assert_close(out[key][seq, t], expected[key][0], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(out["theta"][1, 8], out["theta"][1, 9], atol=1e-3)  # the windows really differ
    with pytest.raises(ValueError, match="at least one frame"):
        model.regress(features[:, :0])


def test_estimate_follows_the_estimator_contract(model):
    crops = np.random.default_rng(4).integers(0, 256, size=(6, 224, 224, 3), dtype=np.uint8)
    result = model.estimate(crops)
    theta = model.regress(model.extract_features(normalize_imagenet(crops))[None])["theta"][0].numpy()

    assert {k: v.shape for k, v in result.items()} == {
        "pose": (6, 72), "betas": (6, 10), "cam": (6, 3), "joints3d": (6, 49, 3), "pelvis": (6, 3)}
    np.testing.assert_allclose(result["pose"], theta[:, 3:75], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result["cam"], theta[:, :3], rtol=1e-4, atol=1e-5)


def test_pipeline_chunks_give_tcmr_the_same_windows_as_one_long_tracklet(model, monkeypatch):
    from backend import pipeline

    monkeypatch.setattr(pipeline, "CHUNK", 12)
    crops = np.random.default_rng(8).integers(0, 256, size=(30, 224, 224, 3), dtype=np.uint8)
    feeder = pipeline.ChunkFeeder(model, len(crops))
    for row, crop in enumerate(crops):
        feeder.add(row, crop)
    assert [rows[0] for rows, _ in feeder.results] == [0, 12]  # 12 rows, then the last 18 (within 12 + 7)
    chunked = np.concatenate([out["pose"] for _, out in feeder.results])
    np.testing.assert_allclose(chunked, model.estimate(crops)["pose"], atol=1e-5)
