"""Interventions at the bottleneck (paper §3, App. C.1): maps on unit latents Z [B, E].

- suppression: remove the component along concept c, gated by a falloff of the alignment.
  Vectors get shorter (off the sphere); nothing renormalises them.
- repulsion: rotate aligned vectors away from c, on the sphere, to a mapped alignment.
- subspace suppression: zero chosen dimensions (no renormalisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from repro.base.schema import Problems, Strict, finite, latent_dims, unit_vector


@dataclass(frozen=True)
class BoundedFalloff:
    """h(x) = b ((x - a) / (1 - a))^p for x > a, else 0. With p = 0 it is the gate b."""

    a: float
    b: float
    power: float = 1.0
    eps: float = 1e-8

    def __call__(self, x: Tensor) -> Tensor:
        if self.a > 1 - self.eps:
            return x
        ramp = self.b * ((x - self.a) / (1 - self.a)) ** self.power
        return torch.where(x > self.a, ramp, torch.zeros_like(x))


@dataclass(frozen=True)
class LinearMapper:
    """Maps alignment [a, 1] linearly onto [a, b]; identity at or below a (a ramp, as upstream)."""

    a: float
    b: float

    def __post_init__(self):
        if not self.a < self.b:
            raise ValueError(f"LinearMapper needs a < b, got a={self.a}, b={self.b}")

    def __call__(self, x: Tensor) -> Tensor:
        y = self.a + (self.b - self.a) * (x - self.a) / (1 - self.a)
        return torch.where(x > self.a, y, x)


class BezierMapper:
    """Cubic Bezier from (a, a) to (1, b) with start slope 1 and end slope 0; identity below a."""

    def __init__(self, a: float, b: float, start_slope: float = 1.0, end_slope: float = 0.0,
                 control_distance: float = 1 / math.sqrt(2)):
        if not a < b <= 1:
            raise ValueError(f"BezierMapper needs a < b <= 1, got a={a}, b={b}")
        self.a, self.b = a, b
        s1, s2 = start_slope, end_slope
        if abs(s1 - s2) < 1e-8:
            ix, iy = (a + 1) / 2, (a + b) / 2
        else:
            ix = (a * (s1 - 1) + b - s2) / (s1 - s2)
            iy = s1 * (ix - a) + a
        p0, p3, i = torch.tensor([a, a]), torch.tensor([1.0, b]), torch.tensor([ix, iy])
        d = control_distance
        self.points = (p0, p0 + d * (i - p0), p3 + d * (i - p3), p3)  # float32, as upstream

    def _curve(self, t: Tensor, k: int) -> Tensor:
        p0, p1, p2, p3 = (p[k] for p in self.points)
        u = 1 - t
        return u**3 * p0 + 3 * u**2 * t * p1 + 3 * u * t**2 * p2 + t**3 * p3

    def _slope(self, t: Tensor, k: int) -> Tensor:
        p0, p1, p2, p3 = (p[k] for p in self.points)
        u = 1 - t
        return 3 * u**2 * (p1 - p0) + 6 * u * t * (p2 - p1) + 3 * t**2 * (p3 - p2)

    def __call__(self, x: Tensor) -> Tensor:
        t = ((x - self.a) / (1 - self.a)).clamp(0.01, 0.99)
        for _ in range(10):
            err = self._curve(t, 0) - x
            if err.abs().max() < 1e-6:
                break
            t = (t - err / (self._slope(t, 0) + 1e-8)).clamp(0, 1)
        return torch.where(x > self.a, self._curve(t, 1), x)


def alignment(z: Tensor, concept: Tensor) -> Tensor:
    """z . c per row.  [B, E], [E] -> [B]"""
    return torch.einsum("...e,e->...", z, concept)


@dataclass(frozen=True)
class Suppression:
    """Remove from each latent its component along the concept, gated by the falloff of its alignment."""

    concept: Tensor
    falloff: BoundedFalloff

    def __call__(self, z: Tensor) -> Tensor:
        d = alignment(z, self.concept)
        gate = self.falloff(d.clamp(0, 1))
        return z - torch.einsum("...,e->...e", gate * d, self.concept)


@dataclass(frozen=True)
class Repulsion:
    """Rotate rows with z . c > 0 to alignment mapper(z . c), keeping unit norm.

    A row parallel to c has no perpendicular direction to rotate into; upstream picks a random
    one there, so a call takes the generator to draw it from (it never fires in the paper's runs).
    """

    concept: Tensor
    mapper: LinearMapper | BezierMapper
    eps: float = 1e-8

    def __call__(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        c = self.concept
        d = alignment(z, c)
        d_pos = d.clamp(0, 1)
        target = self.mapper(d_pos)
        v_perp = z - torch.einsum("...,e->...e", d_pos, c)
        norm = torch.linalg.vector_norm(v_perp, dim=-1, keepdim=True)
        degenerate = (norm < self.eps).squeeze(-1)
        if degenerate.any():
            if generator is None:
                raise ValueError("a latent lies on the concept direction: repulsion needs a generator to pick "
                                 "a random direction away from it")
            r = torch.randn(int(degenerate.sum()), z.shape[-1], generator=generator)
            r = r - torch.einsum("...,e->...e", alignment(r, c), c)
            r = r / torch.linalg.vector_norm(r, dim=-1, keepdim=True)
            v_perp = v_perp.clone()
            v_perp[degenerate] = r
            norm = torch.linalg.vector_norm(v_perp, dim=-1, keepdim=True)
        u = v_perp / norm
        t = target.clamp(-1 + self.eps, 1 - self.eps)
        rotated = torch.einsum("...,e->...e", t, c) + torch.sqrt(1 - t**2).unsqueeze(-1) * u
        return torch.where((d > 0).unsqueeze(-1), rotated, z)


@dataclass(frozen=True)
class SubspaceSuppression:
    """Zero the latent dimensions `dims` (after normalisation; no renormalisation)."""

    dims: tuple[int, ...]

    def __call__(self, z: Tensor) -> Tensor:
        out = z.clone()
        out[..., list(self.dims)] = 0
        return out


# ---------------------------------------------------------------------------------------------
# The kinds a spec can name: each declares its fields, its checks and how it is applied.

LatentMap = Callable[[Tensor], Tensor]


def _cos(degrees: float) -> float:
    return math.cos(math.radians(degrees))


class InterventionKind(Strict):
    """Common to every intervention: how its selectivity is measured (paper App. C.3)."""

    selectivity_power: float
    selectivity_against: Literal["similarity", "vibrancy"]

    def problems(self, spec) -> Problems:
        yield from finite("selectivity_power", self.selectivity_power, 0.0, what="a finite number >= 0")

    def apply(self, model, generator: torch.Generator, spec=None):
        """(model, latent map or None): surgery edits a copy of the model, the others map z.
        `spec`: the experiment, for an edit chosen on its colours (optimal ablation)."""
        return model, self.latent_map(generator)

    def details(self, edited) -> dict[str, float]:
        """What this intervention chose, read from the model it left (`apply`'s): optimal ablation's
        constant; nothing for the others."""
        return {}

    def latent_map(self, generator: torch.Generator) -> LatentMap:
        """The map z -> z' this intervention applies at the bottleneck."""
        raise NotImplementedError


class FalloffSpec(Strict):
    """How suppression's strength falls off with the angle to the concept."""

    max_angle: float  # degrees: the gate opens for alignment > cos(max_angle)
    strength: float
    power: float


class SuppressionSpec(InterventionKind):
    """Remove the component along `concept`, gated by a falloff of the alignment."""

    kind: Literal["suppression"]
    concept: list[float]
    falloff: FalloffSpec

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from unit_vector("concept", self.concept, spec.model.latent_dim)
        yield from finite("falloff.max_angle", self.falloff.max_angle, 0.0, 180.0, "an angle in [0, 180] degrees")
        yield from finite("falloff.strength", self.falloff.strength, 0.0, 1.0, "a strength in [0, 1]")
        yield from finite("falloff.power", self.falloff.power, 0.0, what="a finite number >= 0")

    def latent_map(self, generator: torch.Generator) -> LatentMap:
        """Suppression with this falloff."""
        f = self.falloff
        return Suppression(torch.tensor(self.concept, dtype=torch.float32),
                           BoundedFalloff(_cos(f.max_angle), f.strength, f.power))


class MapperSpec(Strict):
    """How repulsion maps an alignment to a smaller one."""

    kind: Literal["linear", "bezier"]
    from_angle: float  # degrees: alignments above cos(from_angle) are remapped
    to_angle: float  # ... onto [cos(from_angle), cos(to_angle)]


class RepulsionSpec(InterventionKind):
    """Rotate latents aligned with `concept` away from it, to a mapped alignment."""

    kind: Literal["repulsion"]
    concept: list[float]
    mapper: MapperSpec

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from unit_vector("concept", self.concept, spec.model.latent_dim)
        m = self.mapper
        if not (math.isfinite(m.from_angle) and math.isfinite(m.to_angle) and 0 <= m.to_angle < m.from_angle <= 180):
            yield "mapper", ("needs 0 <= to_angle < from_angle <= 180 degrees (it rotates alignments above "
                             "cos(from_angle) towards cos(to_angle))")

    def latent_map(self, generator: torch.Generator) -> LatentMap:
        """Repulsion with this mapper (a random perpendicular drawn from `generator` where needed)."""
        m = self.mapper
        mapper = (LinearMapper if m.kind == "linear" else BezierMapper)(_cos(m.from_angle), _cos(m.to_angle))
        repulsion = Repulsion(torch.tensor(self.concept, dtype=torch.float32), mapper)
        return lambda z: repulsion(z, generator)


class SubspaceSuppressionSpec(InterventionKind):
    """Zero the latent dimensions `dims` after normalisation."""

    kind: Literal["subspace-suppression"]
    dims: list[int]

    def problems(self, spec) -> Problems:
        yield from super().problems(spec)
        yield from latent_dims("dims", self.dims, spec.model.latent_dim)

    def latent_map(self, generator: torch.Generator) -> LatentMap:
        """Subspace suppression of these dimensions."""
        return SubspaceSuppression(tuple(self.dims))

