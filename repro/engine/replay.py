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
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import Tensor


def int64_draw(g: torch.Generator) -> int:
    """What a DataLoader iterator or RandomSampler draws as a seed: two 32-bit outputs."""
    return int(torch.empty((), dtype=torch.int64).random_(generator=g).item())


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF)


@dataclass(frozen=True)
class BatchPlan:
    """Everything training reads from the random streams, precomputed: the steps' samples and
    labels one after another, cut into steps by `sizes`."""

    flat_index: Tensor  # int64 [sum(sizes)]: every step's sample indices, in step order
    flat_labels: dict[str, Tensor]  # {label: float32 [sum(sizes)] of 0/1}, aligned with flat_index
    sizes: tuple[int, ...]  # samples per step
    validate_after: frozenset[int]  # steps after which a validation ran (and drew V)
    draws: int  # int64 draws made on G (B, S, V and S_v)
    # with a sampled validation: per validation step, the indices of the colours it drew
    val_samples: Mapping[int, Tensor] = field(default_factory=dict)

    @cached_property
    def index(self) -> list[Tensor]:
        """Per step: int64 [m] sample indices."""
        return list(self.flat_index.split(self.sizes))

    @cached_property
    def labels(self) -> list[dict[str, Tensor]]:
        """Per step: {label: float32 [m] of 0/1}."""
        names = list(self.flat_labels)
        steps = zip(*(self.flat_labels[n].split(self.sizes) for n in names))
        return [dict(zip(names, step)) for step in steps] if names else [{} for _ in self.sizes]

    @property
    def uniform(self) -> bool:
        """Every step has the same number of samples (so the steps stack as rows)."""
        return len(set(self.sizes)) == 1

    def rows(self, flat: Tensor) -> Tensor:
        """A flat per-sample tensor as [n_steps, m] (only when `uniform`)."""
        return flat.view(len(self.sizes), -1)


def plan_batches(
    g: torch.Generator,
    n_samples: int,
    probs: Mapping[str, Tensor],
    n_steps: int,
    batch_size: int,
    workers: int,
    validates: Callable[[int, int, int, int], bool],
    val_sample: tuple[int, int] | None = None,
) -> BatchPlan:
    """Replay `n_steps` batches. `validates(step, epoch, batch, batches_per_epoch)` says
    whether a validation follows that step (it draws V from G). With `val_sample` = (n, N) each
    validation also draws the seed of a RandomSampler and n indices of N colours (validation_sample).

    A worker's generator is read only by that worker, so its label draws for the whole epoch
    (its batches in order, each label in label order) are one `rand` call: CPU `uniform_`
    fills serially, so one call of n draws gives the bits of consecutive calls summing to n
    (tests/unit/test_replay.py checks this against the batch-by-batch replay). All draws are
    kept in the order they were made and gathered into step order once at the end. Without
    workers the labels come from G between validation draws, so they are drawn per batch.
    """
    nb = -(-n_samples // batch_size)
    names = list(probs)
    sizes_epoch = [min(batch_size, n_samples - b * batch_size) for b in range(nb)]
    indices: list[Tensor] = []  # per epoch: the sample indices of the batches it trained on
    uniforms: list[Tensor] = []  # every label draw, in the order drawn
    drawn = 0  # draws in `uniforms` so far
    starts: dict[str, list[int]] = {name: [0] * n_steps for name in names}  # step's draws in `uniforms`
    sizes: list[int] = []
    val_steps: set[int] = set()
    val_samples: dict[int, Tensor] = {}
    draws = 0
    k = e = 0
    while k < n_steps:
        base = int64_draw(g)
        sampler_seed = int64_draw(g)
        draws += 2
        idx = torch.randint(high=n_samples, size=(n_samples,), dtype=torch.int64,
                            generator=_generator(sampler_seed))
        batches = min(nb, n_steps - k)
        for w in range(workers):
            mine = range(w, batches, workers)
            if not len(mine):
                continue
            n = sum(sizes_epoch[b] for b in mine) * len(names)
            uniforms.append(torch.rand(n, generator=_generator(base + w)))
            for b in mine:
                for name in names:
                    starts[name][k + b] = drawn
                    drawn += sizes_epoch[b]
        for b in range(batches):
            if workers == 0:
                for name in names:
                    uniforms.append(torch.rand(sizes_epoch[b], generator=g))
                    starts[name][k] = drawn
                    drawn += sizes_epoch[b]
            if validates(k, e, b, nb):
                int64_draw(g)
                draws += 1
                val_steps.add(k)
                if val_sample is not None:
                    val_samples[k] = validation_sample(g, *val_sample)
                    draws += 1
            k += 1
        indices.append(idx[:sum(sizes_epoch[:batches])])
        sizes += sizes_epoch[:batches]
        e += 1
    flat_index = torch.cat(indices)
    flat_labels = {}
    if names:
        every = torch.cat(uniforms)
        counts = torch.tensor(sizes)
        within = torch.arange(len(flat_index)) - (counts.cumsum(0) - counts).repeat_interleave(counts)
        for name in names:
            u = every[torch.tensor(starts[name]).repeat_interleave(counts) + within]
            flat_labels[name] = (u < probs[name][flat_index]).float()
    return BatchPlan(flat_index, flat_labels, tuple(sizes), frozenset(val_steps), draws, val_samples)


def validation_sample(g: torch.Generator, n: int, n_colors: int) -> Tensor:
    """What a validation iterator over torch's RandomSampler(replacement=True, num_samples=n)
    draws, after the iterator's own base seed V: the sampler seeds a private generator with one
    int64 draw of G, then takes the indices in calls of 32 (tests/unit/test_replay.py compares
    this with torch's sampler itself)."""
    private = _generator(int64_draw(g))
    calls = [32] * (n // 32) + ([n % 32] if n % 32 else [])
    return torch.cat([torch.randint(high=n_colors, size=(c,), dtype=torch.int64, generator=private)
                      for c in calls])


def every_n_steps(n: int) -> Callable[[int, int, int, int], bool]:
    """Lightning's val_check_interval counted over all batches: after steps n-1, 2n-1, ..."""
    return lambda k, e, b, nb: (k + 1) % n == 0


def every_n_epochs(n: int) -> Callable[[int, int, int, int], bool]:
    """check_val_every_n_epoch: after the last batch of epochs n-1, 2n-1, ..."""
    return lambda k, e, b, nb: b == nb - 1 and (e + 1) % n == 0
