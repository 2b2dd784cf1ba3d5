"""OpenVINO in place of torch eager: same numbers as eager for VIBE and TCMR, the cache, and every fallback."""

import logging
import os
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from backend import openvino_runtime
from backend.errors import BackendError
from backend.estimators import use_runtime
from backend.models.resnet import ResNet50Features, normalize_imagenet
from backend.models.temporal import VibeGenerator
from backend.openvino_runtime import ParityError, UnrolledGRU, cache_root, compile_module
from backend.smpl_layer import load_smpl_layer
from backend.tcmr import load_tcmr
from backend.vibe import VibeModel, load_vibe
from tests.test_tcmr import write_tcmr_checkpoint

TOLERANCE = 1e-4


def crops(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, 224, 224, 3), dtype=np.uint8)


def assert_same_outputs(fast: dict, eager: dict) -> None:
    assert fast.keys() == eager.keys()
    for key in eager:
        difference = np.abs(np.asarray(fast[key], dtype=np.float64) - np.asarray(eager[key], dtype=np.float64))
        assert difference.max() <= TOLERANCE, f"{key} differs by {difference.max():.2g}"


# ---------------------------------------------------------------- the official architectures, eager against OpenVINO

def test_vibe_on_openvino_gives_eager_numbers(vibe_data_dir, monkeypatch):
    eager, fast = load_vibe(vibe_data_dir), load_vibe(vibe_data_dir)
    use_runtime(fast, "openvino")
    assert fast.runtime == "openvino" and eager.runtime == "torch"
    images = normalize_imagenet(crops(5, seed=1))
    features = eager.extract_features(images)
    assert_same_outputs({"features": fast.extract_features(images)}, {"features": features})
    sequences = features.reshape(1, 5, -1)  # one GRU sequence of 5 frames (traced on 4)
    assert_same_outputs(fast.regress(sequences), eager.regress(sequences))
    for model in (eager, fast):
        monkeypatch.setattr(model, "sequence_chunk", 3)  # GRU restarts: sequences of 3 and 3 frames
    assert_same_outputs(fast.estimate(crops(6, seed=2)), eager.estimate(crops(6, seed=2)))


def test_tcmr_on_openvino_gives_eager_numbers(vibe_data_dir, tmp_path):
    checkpoint = write_tcmr_checkpoint(tmp_path / "tcmr_demo_model.pth.tar")
    eager, fast = load_tcmr(vibe_data_dir, checkpoint), load_tcmr(vibe_data_dir, checkpoint)
    use_runtime(fast, "auto")
    assert fast.runtime == "openvino"
    fast.generator.window_batch = eager.generator.window_batch = 7  # windows in batches of 7 and 3
    assert_same_outputs(fast.estimate(crops(10, seed=3)), eager.estimate(crops(10, seed=3)))


def test_cli_runtimes_write_the_same_motion(vibe_data_dir, tmp_path, capsys):
    from backend.cli import main
    from smpl_rig.motion import load_motion
    from tests.videos import moving_people, write_video

    frames, _ = moving_people(14, 240, 320, [((30, 30), (120, 40))], person_height=190)
    clip = write_video(tmp_path / "clip.mp4", frames, fps=24)
    motions = {}
    for runtime in ("torch", "openvino"):
        args = [clip, "--out", tmp_path / runtime, "--data-dir", vibe_data_dir, "--estimator", "vibe",
                "--min-frames", "5", "--runtime", runtime]
        assert main([str(a) for a in args]) == 0
        motions[runtime] = load_motion(tmp_path / runtime / "motion.npz").people[1]
    torch_run, openvino_run = motions["torch"], motions["openvino"]
    assert len(torch_run.frame_ids) >= 10
    for field in ("pose", "betas", "cam", "joints3d"):
        np.testing.assert_allclose(getattr(openvino_run, field), getattr(torch_run, field), atol=TOLERANCE)
    assert '"runtime": "openvino"' in capsys.readouterr().out


# ---------------------------------------------------------------- compile_module on small modules

class Heads(nn.Module):
    """Outputs of every structure the models use: a dict, a tuple, a tensor."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.linear = nn.Linear(6, 4)

    def forward(self, x: torch.Tensor):
        y = torch.tanh(self.linear(x))
        if self.kind == "dict":
            return {"first": y, "sum": y.sum(dim=-1)}
        return (y, y * 2) if self.kind == "tuple" else y


@pytest.mark.parametrize("kind", ["dict", "tuple", "tensor"])
def test_compiled_module_keeps_the_output_structure_for_any_batch(kind, tmp_path):
    module = Heads(kind).eval()
    fast = compile_module(module, (2, 3, 6), dynamic=(0, 1), cache_dir=tmp_path)
    x = torch.randn(5, 7, 6)
    with torch.inference_mode():
        expected = module(x)
    actual = fast(x)
    assert type(actual) is type(expected)
    if kind == "dict":
        assert list(actual) == ["first", "sum"]
        assert all(torch.allclose(actual[k], expected[k], atol=1e-6) for k in expected)
    elif kind == "tuple":
        assert len(actual) == 2 and all(torch.allclose(a, e, atol=1e-6) for a, e in zip(actual, expected, strict=True))
    else:
        assert torch.allclose(actual, expected, atol=1e-6)


def test_cache_is_reused_and_keyed_by_the_weights(tmp_path, monkeypatch):
    module = Heads("tensor").eval()
    compile_module(module, (2, 6), dynamic=(0,), cache_dir=tmp_path)
    cached = sorted((tmp_path / "openvino").iterdir())
    assert len(cached) == 1 and (cached[0] / "model.xml").is_file() and (cached[0] / "model.bin").is_file()

    def no_conversion(*args):
        raise AssertionError("converted again although the cache holds the model")

    monkeypatch.setattr(openvino_runtime, "_convert", no_conversion)
    again = compile_module(module, (2, 6), dynamic=(0,), cache_dir=tmp_path)
    x = torch.randn(3, 6)
    with torch.inference_mode():
        assert torch.allclose(again(x), module(x), atol=1e-6)
    monkeypatch.undo()
    with torch.no_grad():
        module.linear.bias += 1.0  # other weights: another model
    long_unused = time.time() - (openvino_runtime.UNUSED_DAYS + 1) * 86400
    os.utime(cached[0], (long_unused, long_unused))
    changed = compile_module(module, (2, 6), dynamic=(0,), cache_dir=tmp_path)
    with torch.inference_mode():
        assert torch.allclose(changed(x), module(x), atol=1e-6)
    remaining = list((tmp_path / "openvino").iterdir())
    assert len(remaining) == 1 and remaining[0] != cached[0]  # the new model, and the long unused one removed


@pytest.mark.parametrize(("layers", "bidirectional", "bias"), [(2, True, True), (1, False, False)])
def test_unrolled_gru_equals_torch_gru(layers, bidirectional, bias):
    gru = nn.GRU(5, 7, num_layers=layers, bidirectional=bidirectional, bias=bias, batch_first=True).eval()
    x = torch.randn(3, 6, 5, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected, expected_final = gru(x)
        outputs, final = UnrolledGRU(gru)(x)
    torch.testing.assert_close(outputs, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(final, expected_final, atol=1e-6, rtol=1e-5)


class BatchBranch(nn.Module):
    """Python control flow on the batch size: tracing keeps only the branch of the traced example."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.shape[0] > 2 else x * 3


def test_a_conversion_that_changes_the_numbers_is_refused_and_not_cached(tmp_path):
    with pytest.raises(ParityError, match="differs from torch"):
        compile_module(BatchBranch(), (2, 4), dynamic=(0,), cache_dir=tmp_path)
    assert not any((tmp_path / "openvino").glob("*/model.xml"))


def test_an_unwritable_cache_only_costs_the_next_run_a_conversion(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    module = Heads("tensor").eval()
    with caplog.at_level(logging.WARNING):
        fast = compile_module(module, (2, 6), dynamic=(0,), cache_dir=blocked)
    x = torch.randn(4, 6)
    with torch.inference_mode():
        assert torch.allclose(fast(x), module(x), atol=1e-6)
    assert "could not cache" in caplog.text


def test_cache_folder_is_the_users_not_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(openvino_runtime.CACHE_ENV, str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv(openvino_runtime.CACHE_ENV)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "blender-vibe"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert cache_root() == tmp_path / "local" / "blender-vibe"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cache_root().parts[-3:] == ("Library", "Caches", "blender-vibe")


# ---------------------------------------------------------------- falling back to eager

@pytest.fixture()
def small_vibe(vibe_data_dir) -> VibeModel:
    """VIBE's wrapper around a one-block-per-stage ResNet and a small GRU: quick to convert."""
    generator = VibeGenerator(load_smpl_layer(vibe_data_dir), hidden_size=16, num_layers=1)
    return VibeModel(ResNet50Features(blocks=(1, 1, 1, 1)), generator, torch.device("cpu"), version="small")


def test_without_openvino_auto_runs_eager_and_says_so(small_vibe, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    backbone = small_vibe.backbone
    with caplog.at_level(logging.WARNING):
        use_runtime(small_vibe, "auto")
    assert small_vibe.runtime == "torch" and small_vibe.backbone is backbone
    assert "OpenVINO is not installed" in caplog.text
    with pytest.raises(BackendError) as error:
        use_runtime(small_vibe, "openvino")
    assert "not installed" in error.value.message and "--runtime torch" in error.value.fix


def test_a_part_openvino_cannot_reproduce_leaves_all_of_the_model_on_torch(small_vibe, caplog):
    encoder = small_vibe.generator.encoder
    small_vibe.generator.regressor = BatchBranch()  # converts, but differs from torch on other batch sizes
    with caplog.at_level(logging.WARNING):
        use_runtime(small_vibe, "auto")
    assert small_vibe.runtime == "torch" and small_vibe.generator.encoder is encoder
    assert isinstance(small_vibe.backbone, ResNet50Features)
    assert "ParityError" in caplog.text
    with pytest.raises(BackendError, match="OpenVINO could not run VIBE"):
        use_runtime(small_vibe, "openvino")


def test_torch_runtime_and_unknown_runtimes(small_vibe):
    use_runtime(small_vibe, "torch")
    assert small_vibe.runtime == "torch" and isinstance(small_vibe.backbone, ResNet50Features)
    with pytest.raises(BackendError, match="Unknown runtime"):
        use_runtime(small_vibe, "tensorrt")
