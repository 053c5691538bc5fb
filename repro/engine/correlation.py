"""Pearson's correlation, the one selectivity and every score are measured with."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Correlation:
    """A Pearson correlation and its p-value."""

    r: float
    p: float

    @property
    def r2(self) -> float:
        """The squared correlation."""
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
