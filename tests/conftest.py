"""Shared fixtures: one synthetic official-layout data folder per test session (it is a few hundred MB)."""

import pytest

from tests.checkpoints_synthetic import make_data_dir


@pytest.fixture(scope="session")
def vibe_data_dir(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("vibe_data"))
