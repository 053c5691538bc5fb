"""The training loop: Adam on reconstruction MSE plus scheduled regulariser terms.

Step k uses schedule row min(k, L - 2): upstream advanced its timeline after each step but
never past the second-to-last row, so the last keyframe row is never applied. The learning
rate is written into Adam right before every step; a weight of exactly 0 skips its term.

The loop is eager autograd with the same kernels, in the same order, as upstream's Lightning
module, so a seed gives upstream's weights on the same platform. Speed comes only from
removing Python overhead around those kernels (see `fast_adam_step`, `_Forward`), never from
changing the arithmetic; tests/test_train.py checks this loop against a plain one bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from repro.base.errors import TrainingDiverged
from repro.base.progress import Progress
from repro.method.adam import FastAdam
from repro.method.model import GELUS, SphericalAutoencoder
from repro.method.regularizers import Regularizer
from repro.engine.replay import BatchPlan
from repro.engine.trajectory import TrajectoryProbe
from repro.engine.rowsplit import row_split, weight_grad


@dataclass
class ValidationSet:
    """Validation colours, their exact labels and the batch size validation runs with."""

    colors: Tensor  # float32 [N, 3]
    labels: dict[str, Tensor]  # exact labels, float32 [N]
    batch_size: int

    def at(self, plan: BatchPlan, step: int) -> ValidationSet:
        """What the validation after `step` sees: every colour, or the colours it drew (in the
        order drawn, repeats kept) when the plan samples them."""
        idx = plan.val_samples.get(step)
        if idx is None:
            return self
        return ValidationSet(self.colors[idx], {k: v[idx] for k, v in self.labels.items()}, self.batch_size)


@dataclass
class TrainResult:
    """A trained model and what its training recorded."""

    model: SphericalAutoencoder
    label_counts: dict[str, int]
    val_history: list[tuple[int, dict[str, float]]]
    final_loss: float
    train_s: float
    losses: Tensor = field(repr=False)
    diverged: tuple[int, float] | None = None  # (step, loss) where the loss first became non-finite
    trajectory: np.ndarray | None = field(default=None, repr=False)  # float32 [points, 3] (repro.engine.trajectory)


def validate(model: SphericalAutoencoder, data: ValidationSet, regs: Sequence[Regularizer]) -> dict[str, float]:
    """Validation losses as Lightning logged them: batch-size-weighted means over the batches
    (float32 accumulation). Regulariser terms are reported unweighted and never summed."""
    was_training = model.training
    model.eval()
    sums: dict[str, Tensor] = {}
    count = 0
    with torch.no_grad():
        for i in range(0, len(data.colors), data.batch_size):
            x = data.colors[i:i + data.batch_size]
            labels = {k: v[i:i + data.batch_size] for k, v in data.labels.items()}
            y, z = model(x)
            values = {"val_recon": F.mse_loss(y, x)}
            for r in regs:
                if r.validate:
                    t = r.term(z, labels)
                    if t is not None:
                        values[f"val_{r.name}"] = t
            for k, v in values.items():
                sums[k] = sums.get(k, torch.zeros((), dtype=torch.float32)) + v * len(x)
            count += len(x)
    model.train(was_training)
    return {k: float(v / count) for k, v in sums.items()}


class _Forward:
    """model(x) in training mode through F.linear / F.gelu directly (the kernels nn.Linear and
    nn.GELU call), skipping nn.Module dispatch on every layer. A layer whose weight gradient
    this platform computes in row blocks (repro.engine.rowsplit) gets it from a hook on its output's
    gradient; autograd still computes that layer's input and bias gradients with its own
    kernels, and skips the weight's because the weight it sees is detached."""

    def __init__(self, model: SphericalAutoencoder):
        def layers(seq):
            return [(m.weight, m.bias, row_split(m.out_features, m.in_features))
                    for m in seq if isinstance(m, torch.nn.Linear)]

        self.enc, self.dec = layers(model.encoder), layers(model.decoder)
        self.gelu = GELUS[model.gelu]
        self.widths = [w.shape[0] for w, _, _ in self.dec[:-1]]  # the decoder layers a GELU follows

    def _mlp(self, h: Tensor, layers) -> Tensor:
        last = len(layers) - 1
        for i, (w, b, split) in enumerate(layers):
            if split is None:
                h = F.linear(h, w, b)
            else:
                x = h
                h = F.linear(x, w.detach(), b)
                h.register_hook(lambda g, w=w, x=x, split=split: _set_grad(w, weight_grad(g, x.detach(), split)))
            if i < last:
                h = F.gelu(h, approximate=self.gelu)
        return h

    def __call__(self, x: Tensor, fixed: Sequence[Tensor] = ()) -> tuple[Tensor, Tensor, list[Tensor]]:
        """(y, z, the decoder's outputs at the `fixed` latents [1, E] each). The fixed latents
        (decoder terms) ride along as extra rows of the decoder's batch, as in the batched loop."""
        z = F.normalize(self._mlp(x, self.enc), dim=-1)
        y, y_fixed = decode_with_fixed(lambda v: self._mlp(v, self.dec), z, fixed, self.widths)
        return y, z, y_fixed


# ATen's elementwise kernels (GELU's tanh form among them) take elements in vector chunks of up to
# 64 floats and the rest one by one, which rounds differently: a decoder batch whose every layer
# has a whole number of chunks per seed rounds alike alone (per-seed loop) and stacked (batched).
CHUNK_FLOATS = 64


def with_fixed_rows(batch: int, fixed: Sequence[Tensor], widths: Sequence[int]) -> list[Tensor]:
    """The decoder terms' fixed latents [1, E] to append to a batch of `batch` latents, the last
    repeated until the output of every decoder layer a GELU follows (`widths`) fills whole chunks. The repeats get no
    gradient: only the first len(fixed) rows feed a term."""
    rows = list(fixed)
    if not rows:
        return rows
    while any(((batch + len(rows)) * w) % CHUNK_FLOATS for w in widths):
        rows.append(rows[-1])
    return rows


def decode_with_fixed(decode, z: Tensor, fixed: Sequence[Tensor], widths: Sequence[int]) -> tuple[Tensor, list[Tensor]]:
    """The decoder's outputs for the batch's latents z and for each fixed latent [1, E] (decoder
    terms), in one pass: the fixed rows ride along in the decoder's batch (both loops alike)."""
    if not fixed:
        return decode(z), []
    out = decode(torch.cat([z, *with_fixed_rows(len(z), fixed, widths)]))
    return out[:len(z)], list(out[len(z):len(z) + len(fixed)].split(1))


def _set_grad(w: Tensor, g: Tensor) -> None:
    w.grad = g  # each step starts with no gradient (FastAdam clears it), so nothing accumulates


def _gate(r: Regularizer, labels: Mapping[str, Tensor]) -> bool | None:
    """None: the term is skipped (no gating label in the batch). False: it is exactly 0 with
    zero gradient (no positive sample), so leaving it out changes no bit. True: compute it."""
    if r.labels is None:
        return True
    present = [(labels[k], a) for k, a in r.labels.items() if k in labels]
    if not present:
        return None
    return any(bool((lab * a).clamp(0, 1).gt(0).any()) for lab, a in present)


def count_labels(plan: BatchPlan, regs: Sequence[Regularizer], schedule: Mapping[str, Sequence[float]],
                 n_steps: int) -> dict[str, int]:
    """Positive labels as upstream's callback counted them: only labels that some regulariser
    with a non-zero weight uses at that step. `_any`: samples with any such label positive;
    `total_active`: samples seen on steps that use some label. A label's count appears once it
    is first used (labels used from the same step in name order), as the callback added them."""
    last_row = len(schedule["lr"]) - 2
    names = list(plan.flat_labels)
    used: dict[int, list[str]] = {}  # schedule row -> labels used there
    for row in range(min(n_steps, last_row + 1)):
        used[row] = sorted({lab for r in regs if r.labels is not None and _weight(schedule, r, row) != 0.0
                            for lab in r.labels if lab in names})
    step_labels = [used[min(k, last_row)] for k in range(n_steps)]
    order: list[str] = []
    for labels in step_labels:
        order += [a for a in labels if a not in order]
    sizes = torch.tensor(plan.sizes[:n_steps])
    step_of = torch.arange(n_steps).repeat_interleave(sizes)
    counts: dict[str, int] = {}
    positive_any = torch.zeros(len(step_of), dtype=torch.bool)
    for a in order:
        on_step = torch.tensor([a in labels for labels in step_labels])
        positive = (plan.flat_labels[a][:len(step_of)] > 0) & on_step[step_of]
        counts[a] = int(positive.sum())
        positive_any |= positive
    total_active = sum(m for m, labels in zip(plan.sizes, step_labels) if labels)
    return {**counts, "_any": int(positive_any.sum()), "total": int(sizes.sum()), "total_active": total_active}


def _weight(schedule, r: Regularizer, row: int) -> float:
    return schedule[r.name][row]  # the spec checks that every regulariser is scheduled


def train(
    model: SphericalAutoencoder,
    colors: Tensor,  # float32 [N, 3]
    plan: BatchPlan,
    regularizers: Sequence[Regularizer],
    schedule: Mapping[str, Sequence[float]],  # per timeline row; must include "lr"
    n_steps: int,
    validation: ValidationSet | None = None,
    progress: Progress | None = None,
    check_every: int = 50,
    trajectory: TrajectoryProbe | None = None,
) -> TrainResult:
    """Train one seed's model in place from its batch plan and schedule; raises TrainingDiverged
    on a non-finite loss."""
    t0 = time.perf_counter()
    last_row = len(schedule["lr"]) - 2
    lrs = schedule["lr"]
    # Which terms each step computes, decided up front from the schedule and the labels.
    plan_terms = []
    for k in range(n_steps):
        row = min(k, last_row)
        terms = []
        for r in regularizers:
            w = _weight(schedule, r, row)
            if w == 0.0:
                continue
            gate = _gate(r, plan.labels[k])
            if gate:
                terms.append((r, w))
        plan_terms.append(terms)

    forward = _Forward(model)
    opt = FastAdam(model.parameters())
    losses = torch.empty(n_steps, dtype=torch.float32)
    val_history: list[tuple[int, dict[str, float]]] = []
    points: list[list[float]] = []
    checked = 0
    model.train()
    for k in range(n_steps):
        x = colors[plan.index[k]]
        fixed = [r.at_latent for r, _ in plan_terms[k] if r.at_latent is not None]
        y, z, y_fixed = forward(x, fixed)
        total = F.mse_loss(y, x)
        labels = plan.labels[k]
        for r, w in plan_terms[k]:
            term = r.decoder_term(y_fixed.pop(0)) if r.on_decoder else r.term(z, labels)
            assert term is not None  # plan_terms holds only the terms whose labels are present
            total = total + term * w
        total.backward()
        opt.step(lrs[min(k, last_row)])
        losses[k] = total.detach()

        if validation is not None and k in plan.validate_after:
            val_history.append((k + 1, validate(model, validation.at(plan, k), regularizers)))
        if trajectory is not None and trajectory.due(k):
            points.append(_trajectory_point(model, trajectory))
        if (k + 1) % check_every == 0 or k + 1 == n_steps:
            _check_finite(losses, checked, k + 1)
            checked = k + 1
            if progress is not None:
                progress(k + 1, n_steps, f"loss {float(losses[k]):.3e}")
    counts = count_labels(plan, regularizers, schedule, n_steps)
    return TrainResult(model, counts, val_history, float(losses[-1]), time.perf_counter() - t0, losses,
                       trajectory=None if trajectory is None else np.array(points, dtype=np.float32))


def _trajectory_point(model: SphericalAutoencoder, probe: TrajectoryProbe) -> list[float]:
    """The trajectory point of the model as it is now, in evaluation mode (clamped outputs)."""
    model.eval()
    with torch.no_grad():
        y, z = model(probe.colors)
    model.train()
    return probe.point(z, y)


def first_non_finite(losses: Tensor, start: int, stop: int) -> tuple[int, float] | None:
    """The first step in [start, stop) whose loss is not finite, with that loss, or None."""
    bad = (~torch.isfinite(losses[start:stop])).nonzero()
    if not len(bad):
        return None
    step = start + int(bad[0])
    return step, float(losses[step])


def _check_finite(losses: Tensor, start: int, stop: int) -> None:
    bad = first_non_finite(losses, start, stop)
    if bad is not None:
        raise TrainingDiverged(f"training diverged: the loss is {bad[1]} at step {bad[0]}; no result was written")
