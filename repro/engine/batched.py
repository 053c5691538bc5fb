"""Train many seeds as one computation: parameters stacked along a seed dimension, one
`torch.func.vmap(grad(...))` per step, each seed with its own replayed batches and labels.

Every seed still gets exactly the model `repro.engine.train.train` gives it, at the thread count
results are made with (checked bit for bit in tests/integration/test_batched.py, and by
bench/check_batched.py for all 60 seeds of every experiment):

- the vmapped kernels compute each seed's slice with the arithmetic the per-seed loop uses,
  weight gradients included (at one thread, vmap's batched products round each seed's slice as
  the per-seed `mm` does), and the regulariser terms the per-seed loop skips (no positive label
  in the batch) add exact zeros;
- a layer whose weight gradient this platform computes in row blocks (repro.engine.rowsplit: upstream's
  two MKL threads; the 5-D bottleneck's [5, 64] x [64, 16] product on amd-avx512) is not left to
  vmap, because no batched kernel reproduces those blocks. vmap returns the gradient at that
  layer's output (through a zero "tap" subtracted from it: exact, and its gradient is minus the
  output's) and the layer's input, and every seed's weight gradient is then the same pair of
  2-D `mm`s the per-seed loop calls, on tensors of the same shapes and strides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import grad, vmap

from repro.base.errors import ReproError
from repro.base.progress import Progress
from repro.method.model import GELUS, SphericalAutoencoder
from repro.method.regularizers import Regularizer
from repro.engine.replay import BatchPlan
from repro.engine.trajectory import TrajectoryProbe
from repro.engine.rowsplit import row_split, weight_grad
from repro.method.adam import FastAdam
from repro.engine.train import (TrainResult, ValidationSet, _weight, count_labels, decode_with_fixed,
                                first_non_finite, validate)


def _linear_names(model: SphericalAutoencoder, part: str) -> list[str]:
    return [f"{part}.{n}" for n, m in getattr(model, part).named_children() if isinstance(m, torch.nn.Linear)]


def _mlp(h: Tensor, layers: list[str], weight: dict, bias: dict, tap: dict, inputs: list, gelu: str) -> Tensor:
    """One seed's encoder or decoder as in training mode, recording the input of each tapped layer."""
    for i, name in enumerate(layers):
        if name in tap:
            inputs.append(h)
            h = F.linear(h, weight[name], bias[name]) - tap[name]
        else:
            h = F.linear(h, weight[name], bias[name])
        if i < len(layers) - 1:
            h = F.gelu(h, approximate=gelu)
    return h


def train_many(
    models: Sequence[SphericalAutoencoder],
    colors: Tensor,
    plans: Sequence[BatchPlan],
    regularizers: Sequence[Regularizer],
    schedule,
    n_steps: int,
    validation: ValidationSet | None = None,
    progress: Progress | None = None,  # every 50 steps
    trajectory: TrajectoryProbe | None = None,
) -> list[TrainResult]:
    """Train len(models) seeds together; returns one TrainResult per seed (in order)."""
    t0 = time.perf_counter()
    template = models[0]
    gelu = GELUS[template.gelu]
    names = [n for n, _ in template.named_parameters()]
    stacked = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).contiguous() for n in names}
    encoder, decoder = _linear_names(template, "encoder"), _linear_names(template, "decoder")
    layers = encoder + decoder
    widths = [stacked[f"{n}.weight"].shape[1] for n in decoder[:-1]]  # the decoder layers a GELU follows
    weight = {n: stacked[f"{n}.weight"] for n in layers}
    bias = {n: stacked[f"{n}.bias"] for n in layers}
    last_row = len(schedule["lr"]) - 2
    label_names = list(plans[0].flat_labels)
    rows = all(p.uniform for p in plans)
    if rows:  # every step's batch of every seed at once: [n_steps, S, m]
        index_rows = torch.stack([p.rows(p.flat_index) for p in plans], 1)
        label_rows = {n: torch.stack([p.rows(p.flat_labels[n]) for p in plans], 1) for n in label_names}
    S = len(models)

    def loss_fn(bias, free, tap, fixed, x, labels, terms):
        inputs: list[Tensor] = []
        weight = {**free, **fixed}
        z = F.normalize(_mlp(x, encoder, weight, bias, tap, inputs, gelu), dim=-1)
        # decoder terms' fixed latents ride along as extra rows of the decoder's batch, as in the
        # per-seed loop (no decoder layer is tapped when there are any; checked below)
        fixed = [r.at_latent for r, _ in terms if r.at_latent is not None]
        y, y_fixed = decode_with_fixed(lambda v: _mlp(v, decoder, weight, bias, tap, inputs, gelu), z, fixed, widths)
        total = F.mse_loss(y, x)
        for r, w in terms:
            term = r.decoder_term(y_fixed.pop(0)) if r.on_decoder else r.term(z, labels)
            if term is not None:
                total = total + term * w
        return total, (total, inputs)

    opt = FastAdam([stacked[n] for n in names])
    splits = {n: row_split(*weight[n].shape[1:]) for n in layers}
    tapped = [n for n in layers if splits[n] is not None]
    if any(r.on_decoder for r in regularizers) and any(n in decoder for n in tapped):
        raise ReproError("a decoder term (fallback) on a decoder layer whose weight gradient this platform computes "
                         "in row blocks (repro.engine.rowsplit) is not supported in batched training")
    free = {n: weight[n] for n in layers if n not in tapped}
    fixed = {n: weight[n] for n in tapped}
    weight_grads = {n: torch.empty_like(weight[n]) for n in tapped}
    losses = torch.empty(S, n_steps, dtype=torch.float32)
    val_history: list[list[tuple[int, dict[str, float]]]] = [[] for _ in models]
    checked = 0
    diverged: list[tuple[int, float] | None] = [None] * S
    points: list[list[list[float]]] = [[] for _ in models]

    def evaluated(w, b, x):  # one seed's model in evaluation mode: clamped outputs
        z = F.normalize(_mlp(x, encoder, w, b, {}, [], gelu), dim=-1)
        return _mlp(z, decoder, w, b, {}, [], gelu).clamp(0, 1), z

    for k in range(n_steps):
        row = min(k, last_row)
        if rows:
            x = colors[index_rows[k]]
            labels = {name: label_rows[name][k] for name in label_names}
        else:
            x = torch.stack([colors[p.index[k]] for p in plans])
            labels = {name: torch.stack([p.labels[k][name] for p in plans]) for name in label_names}
        terms = [(r, w) for r in regularizers if (w := _weight(schedule, r, row)) != 0.0]
        tap = {n: torch.zeros(S, x.shape[1], weight[n].shape[1]) for n in tapped}
        (bias_grads, free_grads, tap_grads), (total, inputs) = vmap(grad(
            lambda b, f, t, w, x, lab, terms=terms: loss_fn(b, f, t, w, x, lab, terms), argnums=(0, 1, 2),
            has_aux=True,
        ))(bias, free, tap, fixed, x, labels)
        for n, h in zip(tapped, inputs):
            grad_out = tap_grads[n].neg()  # d loss / d (layer output)
            for i in range(S):
                weight_grad(grad_out[i], h[i], splits[n], out=weight_grads[n][i])
        grads = {**{f"{n}.weight": free_grads[n] for n in free}, **{f"{n}.weight": weight_grads[n] for n in tapped},
                 **{f"{n}.bias": bias_grads[n] for n in layers}}
        opt.step(schedule["lr"][row], [grads[n] for n in names])
        losses[:, k] = total.detach()
        if trajectory is not None and trajectory.due(k):
            with torch.no_grad():
                ys, zs = vmap(evaluated, in_dims=(0, 0, None))(weight, bias, trajectory.colors)
            for i in range(S):
                points[i].append(trajectory.point(zs[i], ys[i]))
        if validation is not None and any(k in p.validate_after for p in plans):
            for i, p in enumerate(plans):
                if k in p.validate_after:
                    val_history[i].append((k + 1, validate(_unstack(template, stacked, i), validation.at(p, k),
                                                           regularizers)))
        if (k + 1) % 50 == 0 or k + 1 == n_steps:
            for i in range(S):  # a diverged seed is recorded and trains on (as NaN) beside the others
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
                               float(losses[i, -1]), elapsed / S, losses[i].clone(), diverged[i],
                               None if trajectory is None else np.array(points[i], dtype=np.float32)))
    return out


def _unstack(template: SphericalAutoencoder, stacked: dict[str, Tensor], i: int) -> SphericalAutoencoder:
    """Seed i's model as an ordinary module (a copy of its slice)."""
    m = template
    with torch.device("meta"):
        model = SphericalAutoencoder(m.latent_dim, m.hidden_width, m.hidden_layers, m.gelu)
    model.load_state_dict({n: v[i].clone() for n, v in stacked.items()}, assign=True)
    return model
