"""Acceptance: the published numbers in registry/ against full training runs of the selected
seeds, judged with their measured float-noise bands (repro verify --quick: the run-level
entries; the sweep statistics and claims are checked by the report's build, tests/paper).
The numbers themselves live only in the registry. The runs, sweeps and bands are the ones the
session's `repro paper` computed (the shared cache, `pipeline`)."""

import json
import os
import subprocess
import sys

import pytest

from repro.fidelity import verify as V
from repro.fidelity.registry import load_registry
from repro.pipeline.workspace import Workspace
from repro.report.terminal import format_table
from repro.store.results import read_metrics
from repro.pipeline.runner import run_one
from repro.config.spec import load_spec
from tests.conftest import ROOT

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="module")
def results(pipeline):
    return str(pipeline["results"])


EXPERIMENTS = sorted({e.experiment for e in load_registry().entries})


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_registry_numbers_reproduce(results, experiment):
    report = V.verify(load_registry(), Workspace(), [experiment], quick=True)
    assert report["checked"], f"no registry entries for {experiment}"
    assert not report["failed"], format_table([c for c in report["entries"] if c["status"] == "FAIL"])
    # Every run-level entry of this experiment was judged with a measured band.
    assert all(c["spread"] is not None for c in report["entries"] if c["path"].startswith("run:")
               and c["status"] != "discrepancy")


def test_same_seed_same_model(results, tmp_path, monkeypatch):
    """Retraining (--force) gives the same bits; the fingerprints against upstream are in
    test_fingerprints.py. The retraining goes to a cache of its own: the report's tests rebuild
    from the shared one and expect it unchanged."""
    spec = load_spec("ex-2.4.1")
    _, first, _ = run_one(spec)
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    _, again, reused = run_one(spec, force=True)
    assert not reused and again["model_sha256"] == first["model_sha256"]


def _verify_with(registry_text: dict, results, tmp_path, *args):
    reg = tmp_path / "registry"
    reg.mkdir()
    for f in (ROOT / "registry").glob("*.toml"):
        (reg / f.name).write_text(registry_text.get(f.name, f.read_text()))
    env = {**os.environ, "REPRO_REGISTRY": str(reg), "REPRO_RESULTS": results}
    return subprocess.run([sys.executable, "-m", "repro.cli", "verify", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_a_wrong_registry_value_fails_by_name(results, tmp_path):
    text = (ROOT / "registry" / "numbers.toml").read_text()
    wrong = text.replace("value = 0.1882771998643875", "value = 0.1892771998643875")
    assert wrong != text
    out = _verify_with({"numbers.toml": wrong}, results, tmp_path, "ex-2.4.1-notebook", "--quick")
    assert out.returncode == 1, out.stderr[-2000:]
    assert "nb.max_error.suppression" in out.stderr and "FAIL" in out.stdout
    # the criteria are printed with the verdicts, and the listing goes to a CSV beside the report
    assert "Statuses of the numbers:" in out.stdout and "not testable  within noise, but the band" in out.stdout
    csv = open(os.path.join(results, "verification-partial.csv")).read().splitlines()
    assert csv[0].startswith("id,experiment,source") and any(r.startswith("nb.max_error.suppression,") for r in csv)
    # A partial verification goes to its own file and never replaces the full one.
    partial = json.loads(open(os.path.join(results, "verification-partial.json")).read())
    assert not partial["complete"] and partial["scope"] == {"experiments": ["ex-2.4.1-notebook"], "quick": True}
    full = os.path.join(results, "verification.json")
    assert not os.path.exists(full) or json.loads(open(full).read())["complete"]


def test_an_impossible_claim_fails_by_name(results, tmp_path):
    text = (ROOT / "registry" / "claims.toml").read_text()
    wrong = text.replace('predicate = "{selectivity.suppression.r2} >= 0.985"', 'predicate = "{selectivity.suppression.r2} >= 1.5"')
    assert wrong != text
    numbers = (ROOT / "registry" / "numbers.toml").read_text()
    discrepancies = numbers[numbers.index("[[discrepancy]]"):]  # the claims name some of them
    reg = {"claims.toml": wrong, "numbers.toml": discrepancies, "tables.toml": ""}
    out = _verify_with(reg, results, tmp_path, "ex-2.4.1")
    assert out.returncode == 1, out.stderr[-2000:]
    assert "claim anchored.suppression.tracks_similarity (ex-2.4.1)" in out.stderr


def test_metrics_contract_of_the_paper_run(results):
    path, m, _ = run_one(load_spec("ex-2.4.1"))
    assert read_metrics(path)["model_sha256"] == m["model_sha256"]
    assert m["label_counts"]["total"] == 96064
    assert m["timings"]["train_s"] > 0
