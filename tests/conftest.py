"""Shared fixtures: one synthetic official-layout data folder per test session (it is a few hundred MB), and one
temporary folder for OpenVINO's converted models (never the user's cache; a model converted once is reused)."""

import pytest

from backend.openvino_runtime import CACHE_ENV
from tests.checkpoints_synthetic import make_data_dir


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("model_cache")
    patch.setenv(CACHE_ENV, str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def vibe_data_dir(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("vibe_data"))
