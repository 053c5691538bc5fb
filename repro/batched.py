"""Train many seeds as one computation: parameters stacked along a seed dimension, one
`torch.func.vmap(grad(...))` per step, each seed with its own replayed batches and labels.

Every seed still gets exactly the model `repro.train.train` gives it (checked bit for bit in
tests/integration/test_batched.py, and measured on ex-2.4.1 and ex-2.9.1 over all 1501 steps):
the vmapped kernels compute each seed's slice with the same arithmetic, and the regulariser
terms that the per-seed loop skips (no positive label in the batch) contribute exact zeros.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call, grad, vmap

from repro.model import SphericalAutoencoder
from repro.regularizers import Regularizer
from repro.replay import BatchPlan
from repro.train import FastAdam, TrainResult, ValidationSet, _weight, count_labels, first_non_finite, validate


def train_many(
    models: Sequence[SphericalAutoencoder],
    colors: Tensor,
    plans: Sequence[BatchPlan],
    regularizers: Sequence[Regularizer],
    schedule,
    n_steps: int,
    validation: ValidationSet | None = None,
    progress: Callable[[int, int], None] | None = None,  # (steps done, steps total), every 50 steps
) -> list[TrainResult]:
    """Train len(models) seeds together; returns one TrainResult per seed (in order)."""
    t0 = time.perf_counter()
    template = models[0]
    names = [n for n, _ in template.named_parameters()]
    stacked = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).contiguous() for n in names}
    last_row = len(schedule["lr"]) - 2
    label_names = list(plans[0].labels[0]) if plans[0].labels else []

    def loss_fn(p, x, labels, terms):
        y, z = functional_call(template, p, (x,))
        total = F.mse_loss(y, x)
        for r, w in terms:
            term = r.term(z, labels)
            if term is not None:
                total = total + term * w
        return total, total

    opt = FastAdam(list(stacked.values()))
    losses = torch.empty(len(models), n_steps, dtype=torch.float32)
    val_history: list[list[tuple[int, dict[str, float]]]] = [[] for _ in models]
    template.train()
    checked = 0
    diverged: list[tuple[int, float] | None] = [None] * len(models)
    for k in range(n_steps):
        row = min(k, last_row)
        x = torch.stack([colors[p.index[k]] for p in plans])
        labels = {name: torch.stack([p.labels[k][name] for p in plans]) for name in label_names}
        terms = [(r, w) for r in regularizers if (w := _weight(schedule, r, row)) != 0.0]
        grads, total = vmap(grad(lambda p, x, lab, terms=terms: loss_fn(p, x, lab, terms), has_aux=True))(stacked, x, labels)
        opt.step(schedule["lr"][row], [grads[n] for n in names])
        losses[:, k] = total.detach()
        if validation is not None and any(k in p.validate_after for p in plans):
            for i, p in enumerate(plans):
                if k in p.validate_after:
                    val_history[i].append((k + 1, validate(_unstack(template, stacked, i), validation, regularizers)))
        if (k + 1) % 50 == 0 or k + 1 == n_steps:
            for i in range(len(models)):  # a diverged seed is recorded and trains on (as NaN) beside the others
                if diverged[i] is None:
                    diverged[i] = first_non_finite(losses[i], checked, k + 1)
            checked = k + 1
            if progress is not None:
                progress(k + 1, n_steps)
    elapsed = time.perf_counter() - t0
    out = []
    for i, p in enumerate(plans):
        model = _unstack(template, stacked, i)
        out.append(TrainResult(model, count_labels(p, regularizers, schedule, n_steps), val_history[i],
                               float(losses[i, -1]), elapsed / len(models), losses[i].clone(), diverged[i]))
    return out


def _unstack(template: SphericalAutoencoder, stacked: dict[str, Tensor], i: int) -> SphericalAutoencoder:
    """Seed i's model as an ordinary module (a copy of its slice)."""
    m = template
    with torch.device("meta"):
        model = SphericalAutoencoder(m.latent_dim, m.encoder[0].out_features, sum(
            isinstance(x, torch.nn.Linear) for x in m.encoder) - 1)
    model.load_state_dict({n: v[i].clone() for n, v in stacked.items()}, assign=True)
    return model
