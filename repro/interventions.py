"""Interventions at the bottleneck (paper §3, App. C.1): maps on unit latents Z [B, E].

- suppression: remove the component along concept c, gated by a falloff of the alignment.
  Vectors get shorter (off the sphere); nothing renormalises them.
- repulsion: rotate aligned vectors away from c, on the sphere, to a mapped alignment.
- subspace suppression: zero chosen dimensions (no renormalisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


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
    one there, so `generator` makes that explicit (it never fires in the paper's runs).
    """

    concept: Tensor
    mapper: LinearMapper | BezierMapper
    generator: torch.Generator | None = None
    eps: float = 1e-8

    def __call__(self, z: Tensor) -> Tensor:
        c = self.concept
        d = alignment(z, c)
        d_pos = d.clamp(0, 1)
        target = self.mapper(d_pos)
        v_perp = z - torch.einsum("...,e->...e", d_pos, c)
        norm = torch.linalg.vector_norm(v_perp, dim=-1, keepdim=True)
        degenerate = (norm < self.eps).squeeze(-1)
        if degenerate.any():
            r = torch.randn(int(degenerate.sum()), z.shape[-1], generator=self.generator)
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
