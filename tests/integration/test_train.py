"""The optimised training loop computes exactly what a plain PyTorch loop written the way
upstream's Lightning module computes it (nn.Module forward, torch.optim.Adam, every term
evaluated, torch.isclose and index assignment in `separate`): same weights, bit for bit."""

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from repro.engine import data as D
from repro.method.model import fingerprint
from repro.config.spec import load_spec
from tests.conftest import ROOT, SPECS

# The 5-D, two-layer architecture of ex-2.9.1 on the short schedule.
FIVE_D = ["model.latent_dim=5", "model.hidden_layers=2", "regularizers.anchor.direction=[1.0, 0.0, 0.0, 0.0, 0.0]",
          "interventions.suppression.concept=[1.0, 0.0, 0.0, 0.0, 0.0]",
          "interventions.repulsion.concept=[1.0, 0.0, 0.0, 0.0, 0.0]"]

pytestmark = pytest.mark.integration


def upstream_separate(z, power, shift):
    e = z[:, ...]  # upstream selects its channels (all of them) through a view
    e = e / (torch.norm(e, dim=-1, keepdim=True) + 1e-8)
    c = torch.matmul(e, e.T)
    c[torch.isclose(c, torch.ones_like(c))] = 0.0
    if shift:
        c = (c + 1.0) / 2.0
    return torch.sum(c**power, dim=-1)


def plain_loop(spec, n_steps):
    colors, [model], [plan] = D.initial_models_and_plans(spec, [spec.seed])
    schedule = D.schedule_of(spec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-8)
    model.train()
    for k in range(n_steps):
        row = min(k, len(spec.sheet) - 2)
        x = colors[plan.index[k]]
        y, z = model(x)
        total = F.mse_loss(y, x).mean()
        for name, kind in spec.regularizers.items():
            w = schedule[name][row]
            if w == 0:
                continue
            if kind.kind == "separate":
                term = upstream_separate(z, kind.power, kind.shift).mean()
            else:
                term = kind.build(name).term(z, plan.labels[k])
                if term is None:
                    continue
            total += term * w
        opt.zero_grad(set_to_none=True)
        total.backward()
        for group in opt.param_groups:
            group["lr"] = schedule["lr"][row]
        opt.step()
    return fingerprint(model)


@pytest.mark.parametrize("name, steps", [(str(SPECS / "quick.toml"), 201), ("ex-2.4.1-notebook", 400)])
def test_fast_loop_equals_plain_loop(name, steps):
    spec = load_spec(name)
    from repro.engine import train as T

    colors, [model], [plan] = D.initial_models_and_plans(spec, [spec.seed])
    T.train(model, colors, plan, D.regularizers(spec), D.schedule_of(spec), steps)  # the first `steps` steps
    assert fingerprint(model) == plain_loop(spec, steps)


NO_THREAD = """
import os, sys
from repro.engine import data as D
from repro.base import machine
from repro.engine.batched import train_many
from repro.config.spec import load_spec
from repro.engine.train import train
spec = load_spec(sys.argv[1], sys.argv[2:])
threads = lambda: len(os.listdir("/proc/self/task"))
before = threads()
with machine.pinned():
    colors, models, plans = D.initial_models_and_plans(spec, [0, 1])
    args = (D.regularizers(spec), D.schedule_of(spec), 60, D.validation_set(spec))
    train(models[0], colors, plans[0], *args)
    train_many(models, colors, plans, *args)
print(before, threads())
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through Linux's /proc")
def test_training_starts_no_thread():
    """Results are made at one thread: training (per seed and batched, 5-D) enters no OpenMP
    parallel region, so the process never starts a second thread that could spin while another
    process wants the core (at two threads this test sees two more)."""
    out = subprocess.run([sys.executable, "-c", NO_THREAD, str(SPECS / "quick.toml"), *FIVE_D], capture_output=True,
                         text=True, cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"})
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split())
    assert after == before, f"training started {after - before} threads"
