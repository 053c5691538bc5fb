"""Evaluation: per-colour reconstruction error, and how selectively an intervention hits a concept.

Per-colour MSE is the mean over the three channels of (clamped output - input)^2. Selectivity
is the Pearson correlation between that error and the colour's similarity to the concept
(or its vibrancy) raised to a power: a selective intervention hurts colours in proportion to
how much of the concept they contain (paper App. C.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from repro.colors import hsv_similarity, rgb_to_hsv
from repro.model import LatentMap, SphericalAutoencoder


@dataclass
class Inference:
    recon: np.ndarray  # float32 [N, 3]
    latents: np.ndarray  # float32 [N, E], after the intervention
    mse: np.ndarray  # float32 [N]


def infer(model: SphericalAutoencoder, rgb: np.ndarray, intervene: LatentMap | None = None,
          batch_size: int = 64) -> Inference:
    """Run the model in eval mode over colours [..., 3] in batches of 64, as upstream did."""
    x_all = torch.tensor(np.asarray(rgb).reshape(-1, 3), dtype=torch.float32)
    model.eval()
    ys, zs = [], []
    with torch.no_grad():
        for i in range(0, len(x_all), batch_size):
            y, z = model(x_all[i:i + batch_size], intervene)
            ys.append(y)
            zs.append(z)
    y, z = torch.cat(ys), torch.cat(zs)
    mse = F.mse_loss(y, x_all, reduction="none").mean(dim=-1)
    return Inference(y.numpy(), z.numpy(), mse.numpy())


@dataclass(frozen=True)
class Correlation:
    r: float
    p: float

    @property
    def r2(self) -> float:
        return self.r * self.r


def pearson(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Pearson r and its two-sided p-value (scipy.stats.pearsonr's arithmetic, in float64)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    n = len(x)
    xm, ym = x - x.mean(), y - y.mean()
    nx, ny = np.linalg.norm(xm), np.linalg.norm(ym)
    if nx == 0 or ny == 0:
        return Correlation(math.nan, math.nan)
    r = float(np.clip(np.dot(xm / nx, ym / ny), -1.0, 1.0))
    return Correlation(r, _pearson_p(r, n))


def _pearson_p(r: float, n: int) -> float:
    # Under H0, (r + 1) / 2 ~ Beta(n/2 - 1, n/2 - 1); p = 2 * sf(|r|) = 2 * I_{(1-|r|)/2}(a, a).
    from scipy.special import betainc  # imported lazily: scipy costs import time on every run

    a = n / 2 - 1
    return float(min(1.0, 2 * betainc(a, a, 0.5 * (1 - abs(r)))))


def concept_target(rgb: np.ndarray, against: str, power: float, anchor_hsv=(0.0, 1.0, 1.0),
                   mode: str = "angular") -> np.ndarray:
    """What the error should follow: similarity to the concept colour, or vibrancy, ^ power."""
    hsv = rgb_to_hsv(rgb)
    if against == "similarity":
        base = hsv_similarity(hsv, np.asarray(anchor_hsv, dtype=np.float64), hemi=True, mode=mode)
    elif against == "vibrancy":
        base = hsv[..., 1] * hsv[..., 2]
    else:
        raise ValueError(f"selectivity target {against!r} is not 'similarity' or 'vibrancy'")
    return base**power
