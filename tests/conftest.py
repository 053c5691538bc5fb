import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from repro.base import machine

ROOT = Path(__file__).resolve().parent.parent
SPECS = Path(__file__).resolve().parent / "specs"

torch.set_num_threads(machine.THREADS)  # the count results are made with


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """Point the result cache at a fresh directory."""
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


# The result cache the acceptance and report tests share. `pipeline` fills it once per session the
# way a user does, with `repro paper` (every sweep on two local workers, every noise band, every
# claim, the report), before any test reads it; the tests then check what it holds, so nothing
# is trained twice for the same key. It is a content-keyed cache, so tests can only add correct
# entries to it. REPRO_TEST_RESULTS points it elsewhere. With pytest-xdist (make test) the tests
# that use it run on one worker, in order, and every other test is shared out beside them.
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


PIPELINE_TESTS = ("tests/acceptance/", "tests/paper/test_paper.py::TestTheReport")


def pytest_xdist_make_scheduler(config, log):
    """The pipeline's tests as one unit of work for one worker (they share one session
    fixture, which must run once); every other test on its own."""
    from xdist.scheduler import LoadScopeScheduling

    class PipelineTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "pipeline" if nodeid.startswith(PIPELINE_TESTS) else nodeid

    return PipelineTogether(config, log)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, shared_results):
    """`repro paper` built into a temporary directory from the shared results cache (computed
    where missing: from a fresh clone, every sweep, band and claim), with a copy of its drawn
    figures; the cache then holds everything the acceptance tests check."""
    tmp = tmp_path_factory.mktemp("report")
    shutil.copytree(ROOT / "paper", tmp / "paper", ignore=shutil.ignore_patterns("build"))
    shutil.copytree(ROOT / "figures", tmp / "figures", ignore=shutil.ignore_patterns(".*"))
    env = {**os.environ, "REPRO_RESULTS": str(shared_results), "REPRO_PAPER": str(tmp / "paper"),
           "REPRO_FIGURES": str(tmp / "figures"), "REPRO_TABLES": str(tmp / "tables")}
    cmd = [sys.executable, "-m", "repro.cli", "paper"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    pdf = tmp / "paper" / "build" / "main.pdf"
    assert out.stdout.strip() == str(pdf)
    return {"tmp": tmp, "env": env, "cmd": cmd, "pdf": pdf, "sha": hashlib.sha256(pdf.read_bytes()).hexdigest(),
            "results": shared_results}
