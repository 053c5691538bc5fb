"""Random-number replay of upstream's data pipeline, without DataLoader or worker processes.

Upstream trained through Lightning with `DataLoader(num_workers=4, RandomSampler(replacement=
True), collate_fn=stochastic_labels)`. What that consumed, in order, from the seeded generator
G (reference/rng-replay.md, verified bit for bit):

    model init (one draw per parameter)
    per epoch:  B_e (worker base seed), S_e (sampler seed)      two int64 draws
    after every validation:  V (validation loader base seed)   one int64 draw

Sample indices come from a generator seeded with S_e; batch b's labels come from worker
b mod 4, whose generator is seeded with B_e + w and persists across that worker's batches.
Labels are drawn per label in label order: rand(m) < p.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor


def int64_draw(g: torch.Generator) -> int:
    """What a DataLoader iterator or RandomSampler draws as a seed: two 32-bit outputs."""
    return int(torch.empty((), dtype=torch.int64).random_(generator=g).item())


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF)


@dataclass(frozen=True)
class BatchPlan:
    """Everything training reads from the random streams, precomputed."""

    index: list[Tensor]  # per step: int64 [m] sample indices
    labels: list[dict[str, Tensor]]  # per step: {label: float32 [m] of 0/1}
    validate_after: frozenset[int]  # steps after which a validation ran (and drew V)
    draws: int  # int64 draws made on G (B, S and V)


def plan_batches(
    g: torch.Generator,
    n_samples: int,
    probs: Mapping[str, Tensor],
    n_steps: int,
    batch_size: int,
    workers: int,
    validates: Callable[[int, int, int, int], bool],
) -> BatchPlan:
    """Replay `n_steps` batches. `validates(step, epoch, batch, batches_per_epoch)` says
    whether a validation follows that step (it draws V from G)."""
    nb = -(-n_samples // batch_size)
    index, labels, val_steps = [], [], set()
    draws = 0
    k = e = 0
    while k < n_steps:
        base = int64_draw(g)
        sampler_seed = int64_draw(g)
        draws += 2
        idx = torch.randint(high=n_samples, size=(n_samples,), dtype=torch.int64,
                            generator=_generator(sampler_seed))
        worker_g = [_generator(base + w) for w in range(max(workers, 1))]
        for b in range(nb):
            if k == n_steps:
                break
            i = idx[b * batch_size:(b + 1) * batch_size]
            # With workers each batch's labels come from its worker's stream; without, from G.
            lg = worker_g[b % workers] if workers > 0 else g
            labels.append({name: (torch.rand(len(i), generator=lg) < p[i]).float() for name, p in probs.items()})
            index.append(i)
            if validates(k, e, b, nb):
                int64_draw(g)
                draws += 1
                val_steps.add(k)
            k += 1
        e += 1
    return BatchPlan(index, labels, frozenset(val_steps), draws)


def every_n_steps(n: int) -> Callable[[int, int, int, int], bool]:
    """Lightning's val_check_interval counted over all batches: after steps n-1, 2n-1, ..."""
    return lambda k, e, b, nb: (k + 1) % n == 0


def every_n_epochs(n: int) -> Callable[[int, int, int, int], bool]:
    """check_val_every_n_epoch: after the last batch of epochs n-1, 2n-1, ..."""
    return lambda k, e, b, nb: b == nb - 1 and (e + 1) % n == 0
