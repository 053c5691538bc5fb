"""`repro` end to end on a 201-step version of ex-2.4.1 (a few seconds per run)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from repro.model import fingerprint
from repro.results import load_model
from repro.spec import load_spec
from tests.conftest import ROOT, SPECS

pytestmark = pytest.mark.integration
QUICK = str(SPECS / "quick.toml")


def repro(*args, results, check=True):
    env = {**os.environ, "REPRO_RESULTS": str(results)}
    out = subprocess.run([sys.executable, "-m", "repro.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_run_writes_a_complete_result_and_reuses_it(tmp_path):
    out = repro("run", QUICK, results=tmp_path)
    assert "step 201/201" in out.stderr
    assert "Per-colour reconstruction error" in out.stdout and "Δ suppression" in out.stdout
    [run_dir] = list((tmp_path / "quick").iterdir())
    assert sorted(p.name for p in run_dir.iterdir()) == ["env.json", "metrics.json", "model.pt", "per_color.csv", "spec.toml"]
    m = json.loads((run_dir / "metrics.json").read_text())
    for key in ("experiment", "seed", "spec_hash", "label_counts", "val_losses", "max_error", "per_color",
                "selectivity", "score", "timings", "model_sha256"):
        assert key in m
    assert m["spec_hash"] == run_dir.name and m["seed"] == 3 and m["steps"] == 201
    assert set(m["max_error"]) == {"baseline", "suppression", "repulsion", "ablation"}
    assert len(m["per_color"]) == 17 and set(m["per_color"][0]["suppression"]) == {"mse", "delta"}
    assert {"power", "similarity", "cube", "r", "r2", "p"} <= set(m["selectivity"]["ablation"])
    assert m["label_counts"]["total"] == 201 * 64
    env = json.loads((run_dir / "env.json").read_text())
    assert env["torch"].startswith("2.13.0") and env["threads"] == 1
    # The saved weights are the model: loaded back with weights_only=True, same fingerprint.
    model = load_model(run_dir, load_spec(QUICK))
    assert fingerprint(model) == m["model_sha256"]
    assert (run_dir / "per_color.csv").read_text().splitlines()[0].startswith("name,hex,baseline,suppression,")

    again = repro("run", QUICK, results=tmp_path)
    assert "reusing the cached result" in again.stderr
    forced = repro("run", QUICK, "--force", "-q", results=tmp_path)
    assert "reusing" not in forced.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["model_sha256"] == m["model_sha256"]
    other = repro("run", QUICK, "--seed", "4", "-q", results=tmp_path)
    assert len(list((tmp_path / "quick").iterdir())) == 2, other.stderr


def test_same_seed_same_bits(tmp_path):
    a = repro("run", QUICK, "-q", results=tmp_path / "a")
    b = repro("run", QUICK, "-q", results=tmp_path / "b")
    sha = [line for line in a.stdout.splitlines() if line.startswith("Model sha256")]
    assert sha and sha == [line for line in b.stdout.splitlines() if line.startswith("Model sha256")]


def test_divergence_names_the_step_and_writes_nothing(tmp_path):
    out = repro("run", str(SPECS / "diverge.toml"), results=tmp_path, check=False)
    assert out.returncode == 2
    assert "diverged" in out.stderr and "at step" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "diverge").exists() or not any((tmp_path / "diverge").iterdir())


@pytest.mark.parametrize("args, message", [
    (["run", "ex-9"], "Available: ex-2.10.1, ex-2.4.1"),
    (["run", "ex-2.4.1", "--set", "model.latent_dims=5"], "did you mean model.latent_dim"),
    (["run", "ex-2.4.1", "--set", "data.grid=big"], "expected an integer"),
    (["show", "nope"], "unknown experiment"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    out = repro(*args, results=tmp_path, check=False)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_list_and_show(tmp_path):
    out = repro("list", results=tmp_path)
    assert "ex-2.4.1-notebook" in out.stdout
    out = repro("show", "ex-2.4.1", results=tmp_path)
    assert "[model]" in out.stdout and "| 1425 |" in out.stdout and "1501 steps" in out.stdout


def test_a_crash_while_writing_leaves_no_partial_result(tmp_path, monkeypatch):
    from repro import results as R
    from repro.runner import run_one

    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))

    def broken_save(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(R.torch, "save", broken_save)
    torch.set_num_threads(1)
    with pytest.raises(KeyboardInterrupt):
        run_one(load_spec(QUICK))
    assert list((tmp_path / "quick").iterdir()) == []
