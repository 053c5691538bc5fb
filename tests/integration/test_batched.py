"""Seeds trained together (vmap over stacked parameters) get exactly the models, label counts
and validation losses they get when trained one at a time, at the thread count results are made
with (bench/check_batched.py checks every seed of every sweep)."""

import pytest
import torch

from repro.engine import data as D
from repro.base import machine
from repro.engine import rowsplit
from repro.engine.batched import train_many
from repro.method.model import fingerprint
from repro.config.spec import load_spec
from repro.engine.train import train
from tests.conftest import SPECS
from tests.integration.test_train import FIVE_D

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("overrides, splits", [
    ([], None),
    (FIVE_D, None),
    # The row blocks that stand in for two threads on amd-avx512, forced here whatever the
    # platform: the per-seed hook and the batched loop must compute the same blocks (at width 20,
    # where on intel-avx512 too they round differently from the whole product, so a loop that
    # ignored the table fails here).
    ([*FIVE_D, "model.hidden_width=20"], {5: 4, 20: 8}),
    # The follow-up's decoder term (sca2's fallback): its fixed latent rides along in the
    # decoder's batch in both loops; and the port's deviations (tanh GELU, the last row applied).
    (("quick-fallback", []), None),
    (("quick-fallback", ['model.gelu="tanh"', 'final_row="applied"']), None),
], ids=["4-D", "5-D", "5-D-row-split", "fallback", "fallback-port"])
def test_batched_equals_one_at_a_time(overrides, splits, monkeypatch):
    if splits is not None:
        monkeypatch.setattr(rowsplit, "_table", lambda: splits)
        assert rowsplit.row_split(5, 20) == 4
    name, overrides = overrides if isinstance(overrides, tuple) else ("quick", overrides)
    spec = load_spec(str(SPECS / f"{name}.toml"), overrides)
    seeds = [0, 1, 5]
    with machine.pinned():
        colors, models, plans = D.initial_models_and_plans(spec, seeds)
        batched = train_many(models, colors, plans, D.regularizers(spec), D.schedule_of(spec), len(spec.sheet),
                             D.validation_set(spec))
    for s, b in zip(seeds, batched):
        colors, [model], [plan] = D.initial_models_and_plans(spec, [s])
        with machine.pinned():
            single = train(model, colors, plan, D.regularizers(spec), D.schedule_of(spec), len(spec.sheet),
                           D.validation_set(spec))
        assert fingerprint(b.model) == fingerprint(single.model)
        assert b.label_counts == single.label_counts
        assert b.val_history == single.val_history
        assert torch.equal(b.losses, single.losses)


def test_a_trajectory_is_recorded_alike_by_both_loops_and_stored_with_its_events(tmp_path, monkeypatch):
    """The follow-up's trajectory (validation.trajectory = 5): recording it changes no bit of the model,
    both loops record the same points, and a run stores them (trajectory.npy, sealed in training.json)
    with the steps it anchored and lost its anchor, which metrics.json repeats."""
    import json

    import numpy as np

    from repro.engine.trajectory import probe_of
    from repro.pipeline.runner import run_one
    from repro.store import layout

    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    spec = load_spec(str(SPECS / "quick-fallback.toml"), ["validation.trajectory=5"])
    plain = load_spec(str(SPECS / "quick-fallback.toml"))
    probe = probe_of(spec)
    with machine.pinned():
        colors, models, plans = D.initial_models_and_plans(spec, [0, 1])
        batched = train_many(models, colors, plans, D.regularizers(spec), D.schedule_of(spec), len(spec.sheet),
                             D.validation_set(spec), None, probe)
        results = []
        for s, sp in ((0, spec), (0, plain)):
            colors, [model], [plan] = D.initial_models_and_plans(sp, [s])
            results.append(train(model, colors, plan, D.regularizers(sp), D.schedule_of(sp), len(sp.sheet),
                                 D.validation_set(sp), trajectory=probe_of(sp)))
    single, without = results
    assert fingerprint(single.model) == fingerprint(without.model) == fingerprint(batched[0].model)
    assert single.trajectory.shape == (41, 3) and without.trajectory is None  # steps 0, 5, ..., 200
    assert np.array_equal(single.trajectory, batched[0].trajectory)
    path, metrics, _ = run_one(spec)
    stored = np.load(path.parent / layout.TRAJECTORY)
    record = json.loads((path.parent / layout.TRAINING).read_text())
    assert layout.TRAJECTORY in record["files"] and stored.shape == (41, 3)
    assert metrics["trajectory"] == record["trajectory"] and record["trajectory"]["every"] == 5
    assert set(record["trajectory"]) == {"every", "anchored", "lost"}
