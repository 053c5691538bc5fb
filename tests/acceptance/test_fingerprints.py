"""Acceptance: the models repro trains are upstream's models, bit for bit, on this platform.

registry/fingerprints.toml holds the fingerprints of upstream's own runs (rng-replay.md §12)
per CPU platform. Every experiment's selected seed that has a reference here is trained by
`repro run` (per-seed loop, a fresh process) and by the batched loop of a sweep on two local
workers, and both must give the reference. The batched model is the one the session's
`repro paper` trained in its sweep (the shared cache, `pipeline`); an experiment without a sweep
there, or whose seed the cache holds from the per-seed loop, gets a four-seed `repro sweep` of its
own. A platform without any reference skips with the reason; initial weights are platform
independent and always checked.
"""

import json
import os
import subprocess
import sys

import pytest

from repro.fidelity import upstream
from repro.engine.data import initial_models_and_plans
from repro.base.machine import current_platform
from repro.method.model import fingerprint
from repro.config.spec import load_spec
from tests.conftest import ROOT

pytestmark = pytest.mark.acceptance

REFS = upstream.references()
PLATFORM = current_platform().id


@pytest.mark.parametrize("experiment", sorted(upstream.initial()))
def test_initial_weights_are_upstreams(experiment):
    spec = load_spec(experiment)
    _, [model], _ = initial_models_and_plans(spec, [spec.seed])
    assert fingerprint(model) == upstream.initial()[experiment]


def _repro(args, results):
    out = subprocess.run([sys.executable, "-m", "repro.cli", *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "REPRO_RESULTS": str(results)})
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def test_this_platform_has_references():
    if REFS is None:
        pytest.skip(f"no upstream fingerprints for platform {PLATFORM}; registry/fingerprints.toml has "
                    f"{', '.join(upstream.known_platforms())}")
    assert REFS.trained


@pytest.mark.parametrize("experiment", sorted(REFS.trained) if REFS else [])
def test_trained_models_are_upstreams_per_seed_and_batched(experiment, tmp_path, pipeline):
    spec = load_spec(experiment)
    sha = REFS.trained[experiment]
    run = _repro(["run", experiment, "-q"], tmp_path / "run")
    assert f"Model sha256: {sha}" in run.stdout, f"{PLATFORM} ({REFS.source}): {run.stdout[-400:]}"
    assert json.loads(next((tmp_path / "run").glob("*/*/training.json")).read_text())["loop"] == "per-seed"
    # The batched loop as users run it: a sweep on two local workers.
    records = [json.loads(p.read_text()) for p in (pipeline["results"] / experiment).glob("*/training.json")]
    mine = [r for r in records if r["training_key"] == _training_key(spec)]
    if mine and mine[0]["loop"] == "batched":
        assert mine[0]["model_sha256"] == sha, f"{PLATFORM}: the report's sweep trained another model"
        return
    others = [s for s in (0, 1, 2, 3) if s != spec.seed][:3]
    seeds = ",".join(str(s) for s in sorted([spec.seed, *others]))
    _repro(["sweep", experiment, "--seeds", seeds, "--executor", "local", "--jobs", "2"], tmp_path / "sweep")
    [summary] = (tmp_path / "sweep").glob("*/sweep-*/summary.json")
    runs = {r["seed"]: r for r in json.loads(summary.read_text())["runs"]}
    assert runs[spec.seed]["model_sha256"] == sha
    assert json.loads(summary.read_text())["timings"]["trained"] == 4  # all four trained batched, none reused


def _training_key(spec) -> str:
    from repro.store import keys

    return keys.digest(keys.training_inputs(spec))
