"""A three-seed sweep of the 201-step spec: inline, local processes and a Dask LocalCluster give
the same models, records and selection; an interrupted sweep resumes from its cache."""

import json
import os
import subprocess
import sys

import pytest

from repro.pipeline.executors import make_executor
from repro.config.spec import load_spec
from repro.pipeline.sweep import run_sweep
from tests.conftest import ROOT, SPECS

pytestmark = pytest.mark.integration
QUICK = str(SPECS / "quick.toml")


def sweep_with(executor, results, monkeypatch, **kw):
    monkeypatch.setenv("REPRO_RESULTS", str(results))
    ex = make_executor(executor, 2)
    try:
        return run_sweep(load_spec(QUICK), [0, 1, 2], ex, evaluate_selected=False, **kw)[1]
    finally:
        ex.shutdown()


def comparable(summary):
    return [{k: v for k, v in r.items() if k != "runtime_s"} for r in summary["runs"]], summary["selected_seed"]


def test_executors_agree(tmp_path, monkeypatch):
    inline = sweep_with("inline", tmp_path / "inline", monkeypatch)
    local = sweep_with("local", tmp_path / "local", monkeypatch)
    assert comparable(inline) == comparable(local)
    pytest.importorskip("distributed")
    dask = sweep_with("dask", tmp_path / "dask", monkeypatch)
    assert comparable(dask) == comparable(inline)
    assert inline["pareto_count"] == len(inline["pareto_seeds"]) >= 1


def test_workers_train_at_one_thread(monkeypatch):
    """Local and Dask workers make results with the thread count the training key records,
    whatever the driver's own setting."""
    from repro.base import machine

    pytest.importorskip("distributed")
    for executor in ("local", "dask"):
        ex = make_executor(executor, jobs=2)
        try:
            seen = {ex.submit(_threads_in_pinned).result(timeout=60) for _ in range(4)}
        finally:
            ex.shutdown()
        assert seen == {machine.THREADS}, executor


def _threads_in_pinned() -> int:
    import torch

    from repro.base import machine

    with machine.pinned():
        return torch.get_num_threads()


def test_sweep_resumes_from_cache(tmp_path, monkeypatch):
    first = sweep_with("inline", tmp_path, monkeypatch)
    again = sweep_with("inline", tmp_path, monkeypatch)
    assert again["timings"]["trained"] == 0 and again["timings"]["cached"] == 3
    assert comparable(first) == comparable(again)


def test_the_selected_runs_evaluation_keeps_the_sweep_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    from repro.pipeline.runner import run_one

    spec = load_spec(QUICK)
    run_one(spec.with_seed(2))  # a seed trained by `repro run` counts as cached
    _, first = run_sweep(spec, [0, 1, 2])  # evaluates the selected seed with run_one
    assert first["timings"]["trained"] == 2 and first["timings"]["cached"] == 1
    _, again = run_sweep(spec, [0, 1, 2])
    assert again["timings"]["trained"] == 0 and again["selected_seed"] == first["selected_seed"]
    assert comparable(first) == comparable(again)


def test_sweep_cli_and_errors(tmp_path):
    env = {**os.environ, "REPRO_RESULTS": str(tmp_path)}

    def repro(*args):
        return subprocess.run([sys.executable, "-m", "repro.cli", *args], capture_output=True, text=True,
                              cwd=ROOT, env=env)

    out = repro("sweep", QUICK, "--seeds", "0-1", "--executor", "inline")
    assert out.returncode == 0, out.stderr
    assert "2/2 seeds" in out.stderr and "selected seed" in out.stdout
    [sweep] = [p for p in (tmp_path / "quick").iterdir() if p.name.startswith("sweep-")]
    summary = json.loads((sweep / "summary.json").read_text())
    for key in ("experiment", "seeds", "selected_seed", "pareto_seeds", "stats", "timings"):
        assert key in summary
    assert (sweep / "runs.csv").read_text().startswith("seed,score")
    for args, message in [(("--seeds", "5-2"), "goes backwards"), (("--executor", "slurm"), "Invalid value"),
                          (("--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"), "cannot reach")]:
        bad = repro("sweep", QUICK, *args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr


def test_a_workers_score_is_the_score_of_the_stored_model(tmp_path, monkeypatch):
    """Workers score the models they train; the driver caches that value. It must be what
    scoring the stored model gives."""
    from repro.base import machine
    from repro.engine.evaluate import score
    from repro.pipeline.runner import cached_training

    summary = sweep_with("local", tmp_path, monkeypatch)
    spec = load_spec(QUICK)
    for row in summary["runs"]:
        seed_spec = spec.with_seed(row["seed"])
        with machine.pinned():
            assert score(seed_spec, cached_training(seed_spec).model) == row["score"]


def test_a_local_dask_cluster_beside_another_says_nothing_about_ports():
    # Its scheduler serves HTTP on 8787 even without a dashboard; with that port taken (another
    # cluster, another test) distributed warned on stderr, where a sweep's progress belongs.
    import socket
    import warnings

    from repro.pipeline.executors import running

    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        taken.bind(("127.0.0.1", 8787))
    except OSError:
        pass  # already taken by someone else: the case under test all the same
    taken.listen()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with running("dask", 1):
                pass
    finally:
        taken.close()
    assert not [w for w in seen if "already in use" in str(w.message)], [str(w.message) for w in seen]
