"""Seeds trained together (vmap over stacked parameters) get exactly the models, label counts
and validation losses they get when trained one at a time, at the thread count results are made
with (bench/check_batched.py checks every seed of every sweep)."""

import pytest
import torch

from repro import data as D
from repro import machine
from repro.batched import train_many
from repro.model import fingerprint
from repro.spec import load_spec
from repro.train import train
from tests.conftest import SPECS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name, overrides", [
    (str(SPECS / "quick.toml"), []),
    # The 5-D, two-layer architecture of ex-2.9.1 on the short schedule.
    (str(SPECS / "quick.toml"), ["model.latent_dim=5", "model.hidden_layers=2",
                                 "regularizers.anchor.direction=[1.0, 0.0, 0.0, 0.0, 0.0]",
                                 "interventions.suppression.concept=[1.0, 0.0, 0.0, 0.0, 0.0]",
                                 "interventions.repulsion.concept=[1.0, 0.0, 0.0, 0.0, 0.0]"]),
])
def test_batched_equals_one_at_a_time(name, overrides):
    spec = load_spec(name, overrides)
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
