"""Acceptance: the published numbers in registry/ against full training runs of the selected
seeds (about 5 s each). The numbers themselves live only in the registry."""

import os
import subprocess
import sys

import pytest

from repro import verify as V
from repro.results import read_metrics
from repro.runner import run_one
from repro.spec import load_spec
from tests.conftest import ROOT

pytestmark = pytest.mark.acceptance

@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = os.environ.get("REPRO_TEST_RESULTS") or str(tmp_path_factory.mktemp("results"))
    old = os.environ.get("REPRO_RESULTS")
    os.environ["REPRO_RESULTS"] = path
    yield path
    if old is None:
        del os.environ["REPRO_RESULTS"]
    else:
        os.environ["REPRO_RESULTS"] = old


EXPERIMENTS = sorted({e.experiment for e in V.load_registry()})


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_registry_numbers_reproduce(results, experiment):
    checks = V.verify(V.load_registry(), V.default_source(), quick=True, experiments=[experiment])
    assert checks, f"no registry entries for {experiment}"
    failed = [c for c in checks if c.status not in ("pass", "known discrepancy")]
    assert not failed, V.format_table(failed)


def test_same_seed_same_model(results):
    """Retraining (--force) gives the same bits; the fingerprints against upstream are in
    test_fingerprints.py."""
    spec = load_spec("ex-2.4.1")
    _, first, _ = run_one(spec)
    _, again, reused = run_one(spec, force=True)
    assert not reused and again["model_sha256"] == first["model_sha256"]


def test_a_wrong_registry_value_fails_by_name(results, tmp_path):
    reg = tmp_path / "registry"
    reg.mkdir()
    text = (ROOT / "registry" / "numbers.toml").read_text()
    wrong = text.replace("value = 0.1882771998643875", "value = 0.1892771998643875")
    assert wrong != text
    (reg / "numbers.toml").write_text(wrong)
    env = {**os.environ, "REPRO_REGISTRY": str(reg), "REPRO_RESULTS": results, "REPRO_TABLES": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "repro.cli", "verify", "ex-2.4.1-notebook", "--quick"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 1
    assert "nb.max_error.suppression" in out.stderr and "FAIL" in out.stdout


def test_metrics_contract_of_the_paper_run(results):
    path, m, _ = run_one(load_spec("ex-2.4.1"))
    assert read_metrics(path)["model_sha256"] == m["model_sha256"]
    assert m["label_counts"]["total"] == 96064
    assert m["timings"]["train_s"] > 0
