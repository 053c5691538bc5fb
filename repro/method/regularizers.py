"""Regularisers that place concepts in latent space (paper §2.2-2.3).

Each maps unit latents Z [B, E] to a per-sample loss [B]. Label-gated terms (anchor, subspace)
average over the labelled samples of the batch only; the others average over every sample.
One acts on the decoder instead (the authors' follow-up, sca2 ex-2.9.2): `fallback` asks the
decoder to map a fixed latent (the concept's opposite pole) to a fixed colour (mid-grey), so that
an edit sending the concept there has a known outcome.

The arithmetic mirrors upstream op for op (z / (||z|| + 1e-8), the in-place zeroing in
`separate`, the order of the label-weighted mean): training is chaotic enough that a different
but equivalent formula gives a different model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from repro.base.schema import Problems, Strict, finite, latent_dims, unit_vector

# pydantic warns that a field named "validate" shadows its deprecated BaseModel.validate.
warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)

EPS = 1e-8


def _unit(z: Tensor) -> Tensor:
    return z / (torch.norm(z, dim=-1, keepdim=True) + EPS)


def anchor(z: Tensor, direction: Tensor) -> Tensor:
    """1 - cos(z, v): 0 at the anchor, 1 orthogonal, 2 opposite.  [B, E] -> [B]"""
    return 1 - (_unit(z) * _unit(direction)).sum(dim=-1)


def anti_anchor(z: Tensor, direction: Tensor) -> Tensor:
    """max(cos(z, v), 0): clears the hemisphere around v.  [B, E] -> [B]"""
    return torch.clamp((_unit(z) * _unit(direction)).sum(dim=-1), min=0)


def _dims(n: int, dims: tuple[int, ...], inside: bool) -> list[int]:
    return [i for i in range(n) if (i in dims) == inside]


def subspace(z: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Sum of z_i^2 outside `dims`: attracts to the subspace spanned by `dims`.  [B, E] -> [B]"""
    keep = _dims(z.shape[-1], dims, inside=False)
    if not keep:
        return torch.zeros(z.shape[:-1], dtype=z.dtype)
    return (z[..., keep] ** 2).sum(dim=-1)


def anti_subspace(z: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Sum of z_i^2 inside `dims`: repels every sample from those dimensions.  [B, E] -> [B]"""
    keep = _dims(z.shape[-1], dims, inside=True)
    if not keep:
        return torch.zeros(z.shape[:-1], dtype=z.dtype)
    return (z[..., keep] ** 2).sum(dim=-1)


# torch.isclose(c, 1) is |c - 1| <= atol + |rtol * 1| evaluated in float32; the same test in
# two ops instead of eight (it runs every training step).
_ISCLOSE_TO_ONE = (torch.tensor(1e-5, dtype=torch.float32) * 1.0).abs() + 1e-8


def separate(z: Tensor, power: float = 100.0, shift: bool = True) -> Tensor:
    """In-batch angular repulsion: sum_j ((1 + cos_ij) / 2)^p.  [B, E] -> [B]

    Pairs with cos ~ 1 (self and duplicate samples) are zeroed before the shift, so each still
    contributes 0.5^p (upstream's arithmetic, kept because it changes the gradient path).

    The latents are read through a view (`z[:, ...]`, upstream's channel selection): the
    gradients of the norm and of the division then meet at the view and reach z as one
    contribution. Using z directly sends them to z separately, and the float sum at z, grouped
    differently, changes the trained model in the last bit (rng-replay.md §12.1).
    """
    e = z[:, ...]
    e = e / (torch.norm(e, dim=-1, keepdim=True) + EPS)
    c = torch.matmul(e, e.T)
    # torch.where, not an in-place masked_fill_: the same values and the same (zero) gradient
    # through the masked entries, and it also runs under vmap (repro.engine.batched).
    c = torch.where((c.detach() - 1).abs() <= _ISCLOSE_TO_ONE, torch.zeros_like(c), c)
    if shift:
        c = (c + 1) / 2
    return (c**power).sum(dim=1)


def fallback(y: Tensor, target: Tensor) -> Tensor:
    """Mean over channels of (y - target)^2: the decoder's unclamped output y [1, 3] at a fixed
    latent against the colour it should give there.  -> []"""
    return ((y - target) ** 2).mean()


PerSample = Callable[[Tensor], Tensor]  # [B, E] -> [B]


@dataclass(frozen=True)
class Regularizer:
    """A named loss term with its label gating. `labels` None: every sample counts. A decoder
    term (`at_latent` set) has no per-sample loss: it reads the decoder at that latent."""

    name: str
    labels: Mapping[str, float] | None
    validate: bool
    per_sample: PerSample | None
    at_latent: Tensor | None = None  # [1, E]
    target: Tensor | None = None  # [1, 3]

    @property
    def on_decoder(self) -> bool:
        """Whether the term reads the decoder at a fixed latent rather than the batch's latents."""
        return self.at_latent is not None

    def decoder_term(self, y: Tensor) -> Tensor:
        """The decoder term, given the decoder's training-mode output y [1, 3] at `at_latent`."""
        assert self.target is not None
        return fallback(y, self.target)

    def affinity(self, labels: Mapping[str, Tensor]) -> Tensor | None:
        """Per-sample gate w in [0, 1]: sum of label * affinity; None if no gating label exists."""
        present = [labels[k] * a for k, a in (self.labels or {}).items() if k in labels]
        if not present:
            return None
        return torch.stack(present, dim=0).sum(dim=0).clamp(0.0, 1.0)

    def reduce(self, loss: Tensor, labels: Mapping[str, Tensor]) -> Tensor | None:
        """Per-sample loss [B] -> batch term: the mean over every sample, or for a gated term
        the mean over its labelled samples (0 if none); None when no gating label exists."""
        if self.labels is None:
            return loss.mean()
        w = self.affinity(labels)
        if w is None:
            return None
        return (loss * w).sum() / (w.sum() + EPS)

    def term(self, z: Tensor, labels: Mapping[str, Tensor]) -> Tensor | None:
        """The batch loss, or None when none of the gating labels exist in this batch."""
        assert self.per_sample is not None, "a decoder term is computed by decoder_term"
        return self.reduce(self.per_sample(z), labels)


# ---------------------------------------------------------------------------------------------
# The kinds a spec can name: each declares its fields, its checks and how it is built.


class _Kind(Strict):
    labels: dict[str, float] | None = None  # None: every sample counts
    # also report it on the validation set (val_<name>); the spec's word, which shadows a
    # deprecated pydantic classmethod of that name
    validate: bool  # type: ignore[assignment]

    def problems(self, spec) -> Problems:
        for lab, affinity in (self.labels or {}).items():
            if lab not in spec.labels:
                yield f"labels.{lab}", f"names label {lab!r}; defined labels: {', '.join(spec.labels) or '(none)'}"
            yield from finite(f"labels.{lab}", affinity, 0.0, 1.0, "an affinity in [0, 1]")

    def loss(self) -> PerSample:
        raise NotImplementedError

    def build(self, name: str) -> Regularizer:
        return Regularizer(name, self.labels, self.validate, self.loss())


class AnchorSpec(_Kind):
    """Pulls samples to a direction: 1 - cos(z, direction)."""

    kind: Literal["anchor"]
    direction: list[float]

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from unit_vector("direction", self.direction, spec.model.latent_dim)

    def loss(self) -> PerSample:
        """The per-sample anchor loss toward this direction."""
        d = torch.tensor(self.direction, dtype=torch.float32)
        return lambda z: anchor(z, d)


class AntiAnchorSpec(AnchorSpec):
    """Clears the hemisphere around a direction: max(cos(z, direction), 0)."""

    kind: Literal["anti-anchor"]  # type: ignore[assignment]  # a kind of its own, with the anchor's fields

    def loss(self) -> PerSample:
        """The per-sample anti-anchor loss away from this direction."""
        d = torch.tensor(self.direction, dtype=torch.float32)
        return lambda z: anti_anchor(z, d)


class SubspaceSpec(_Kind):
    """Attracts samples to the subspace spanned by `dims`: sum of z_i^2 outside them."""

    kind: Literal["subspace"]
    dims: list[int]

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from latent_dims("dims", self.dims, spec.model.latent_dim)

    def loss(self) -> PerSample:
        """The per-sample subspace loss for these dimensions."""
        dims = tuple(self.dims)
        return lambda z: subspace(z, dims)


class AntiSubspaceSpec(SubspaceSpec):
    """Repels samples from the dimensions `dims`: sum of z_i^2 inside them."""

    kind: Literal["anti-subspace"]  # type: ignore[assignment]  # a kind of its own, with the subspace's fields

    def loss(self) -> PerSample:
        """The per-sample anti-subspace loss for these dimensions."""
        dims = tuple(self.dims)
        return lambda z: anti_subspace(z, dims)


class SeparateSpec(_Kind):
    """In-batch angular repulsion: sum_j ((1 + cos_ij) / 2)^power."""

    kind: Literal["separate"]
    power: float
    shift: bool

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from finite("power", self.power, 0.0, what="a finite number > 0")

    def loss(self) -> PerSample:
        """The per-sample separation loss with this power and shift."""
        power, shift = self.power, self.shift
        return lambda z: separate(z, power, shift)



class FallbackSpec(_Kind):
    """The decoder maps the fixed latent `latent` to the colour `target`: mean squared error of its
    unclamped output there (sca2's fallback control: latent -e0, mid-grey). Its weight is
    scheduled like any term's; a constant weight is one keyframe (schedule.NAME.0 = w)."""

    kind: Literal["fallback"]
    latent: list[float]
    target: list[float]

    def problems(self, spec) -> Problems:
        if self.labels is not None:
            yield "labels", "a decoder term reads no batch, so it takes no labels"
        if self.validate:
            yield "validate", "must be false: a decoder term has no per-sample loss to validate"
        yield from unit_vector("latent", self.latent, spec.model.latent_dim)
        if len(self.target) != 3 or not all(math.isfinite(x) and 0 <= x <= 1 for x in self.target):
            yield "target", f"must be a colour: three numbers in [0, 1], got {self.target}"

    def build(self, name: str) -> Regularizer:
        """The term with its fixed latent and target colour."""
        return Regularizer(name, None, False, None, torch.tensor([self.latent], dtype=torch.float32),
                           torch.tensor([self.target], dtype=torch.float32))
