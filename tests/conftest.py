import os
from pathlib import Path

import pytest
import torch

from repro import machine

ROOT = Path(__file__).resolve().parent.parent
SPECS = Path(__file__).resolve().parent / "specs"

torch.set_num_threads(machine.THREADS)  # the count results are made with


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """Point the result cache at a fresh directory."""
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


# The result cache the acceptance and report tests share, so that what one trains the next reuses
# (in CI, a fresh clone: the acceptance tests train the selected seeds and their noise bands, the
# report's build then adds the sweeps and reuses the rest). It is a content-keyed cache, so tests
# can only add correct entries to it. REPRO_TEST_RESULTS points it elsewhere.
RESULTS = Path(os.environ.get("REPRO_TEST_RESULTS", ROOT / "results"))


@pytest.fixture(scope="session")
def shared_results():
    """Set REPRO_RESULTS to the shared cache for the tests that use it, and restore it after."""
    old = os.environ.get("REPRO_RESULTS")
    os.environ["REPRO_RESULTS"] = str(RESULTS)
    yield RESULTS
    if old is None:
        del os.environ["REPRO_RESULTS"]
    else:
        os.environ["REPRO_RESULTS"] = old
