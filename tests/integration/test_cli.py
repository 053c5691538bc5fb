"""`repro` end to end on a 201-step version of ex-2.4.1 (a few seconds per run)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from repro.base import machine
from repro.method.model import fingerprint
from repro.store.results import load_model
from repro.config.spec import load_spec
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
    assert "201/201 steps" in out.stderr
    assert "Per-colour reconstruction error" in out.stdout and "Δ suppression" in out.stdout
    [train_dir] = list((tmp_path / "quick").iterdir())
    [eval_dir] = list(train_dir.glob("eval-*"))
    assert sorted(p.name for p in train_dir.iterdir() if not p.name.startswith(("eval-", "score-"))) == [
        "dopesheet.csv", "env.json", "losses.npy", "model.pt", "spec.toml", "training.json"]
    assert sorted(p.name for p in eval_dir.iterdir()) == ["env.json", "metrics.json", "per_color.csv", "spec.toml"]
    m = json.loads((eval_dir / "metrics.json").read_text())
    for key in ("experiment", "seed", "training_key", "evaluation_key", "label_counts", "val_losses", "max_error",
                "per_color", "selectivity", "score", "timings", "model_sha256"):
        assert key in m
    assert m["training_key"] == train_dir.name and eval_dir.name == f"eval-{m['evaluation_key']}"
    assert m["seed"] == 3 and m["steps"] == 201
    assert set(m["max_error"]) == {"baseline", "suppression", "repulsion", "ablation"}
    assert len(m["per_color"]) == 17 and set(m["per_color"][0]["suppression"]) == {"mse", "delta"}
    assert {"power", "similarity", "cube", "r", "r2", "p"} <= set(m["selectivity"]["ablation"])
    assert m["label_counts"]["total"] == 201 * 64
    env = json.loads((train_dir / "env.json").read_text())
    assert env["torch"].startswith("2.13.0") and env["threads"] == machine.THREADS and env["platform"]
    # The saved weights are the model: loaded back with weights_only=True, same fingerprint.
    model = load_model(train_dir, load_spec(QUICK))
    assert fingerprint(model) == m["model_sha256"]
    losses = np.load(train_dir / "losses.npy")
    assert losses.shape == (201,) and losses.dtype == np.float32 and np.isfinite(losses).all()
    assert (eval_dir / "per_color.csv").read_text().splitlines()[0].startswith("name,hex,baseline,suppression,")
    # The directory holds what it takes to run it again: its spec and its dopesheet.
    rerun = repro("run", str(train_dir / "spec.toml").replace("spec.toml", "spec.toml"), "-q", results=tmp_path / "b",
                  check=False)
    assert rerun.returncode == 2 and "dopesheet" in rerun.stderr  # spec.toml names the original sheet ...
    (train_dir / "copy").mkdir()
    (train_dir / "copy" / "quick.csv").write_bytes((train_dir / "dopesheet.csv").read_bytes())
    (train_dir / "copy" / "quick.toml").write_text((train_dir / "spec.toml").read_text())
    again_elsewhere = repro("run", str(train_dir / "copy" / "quick.toml"), "-q", results=tmp_path / "b")
    assert m["model_sha256"] in again_elsewhere.stdout  # ... and with the copy beside it, it gives the same model

    again = repro("run", QUICK, results=tmp_path)
    assert "reusing the cached model" in again.stderr
    forced = repro("run", QUICK, "--force", "-q", results=tmp_path)
    assert "reusing" not in forced.stderr
    assert json.loads((eval_dir / "metrics.json").read_text())["model_sha256"] == m["model_sha256"]
    other = repro("run", QUICK, "--seed", "4", "-q", results=tmp_path)
    assert len([p for p in (tmp_path / "quick").iterdir() if p.is_dir()]) == 2, other.stderr


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
    (["run", "ex-9"], "Available: ex-2.10.1, ex-2.10.1-c58da07, ex-2.4.1,"),
    (["run", "ex-2.4.1", "--seed", str(2**63)], "seed: must lie in 0..2^63-1"),
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
    from repro.store import results as R
    from repro.pipeline.runner import run_one

    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))

    def broken_save(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(R, "_npy", broken_save)
    with pytest.raises(KeyboardInterrupt):
        run_one(load_spec(QUICK))
    # Nothing that counts as a result, and no temporary file, is left behind.
    assert not list(tmp_path.rglob("training.json")) and not list(tmp_path.rglob("*.tmp"))
