import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SPECS = Path(__file__).resolve().parent / "specs"

torch.set_num_threads(1)


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """Point the result cache at a fresh directory."""
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture(scope="session")
def shared_results(tmp_path_factory):
    """A result cache shared by the acceptance tests of one session (runs are reused)."""
    path = Path(os.environ.get("REPRO_TEST_RESULTS", tmp_path_factory.mktemp("results")))
    return path
