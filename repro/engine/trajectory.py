"""A run's trajectory: what the authors' follow-up (sca2 ex-2.9.3) records while training, every
few steps, to see when red anchors and when a failing run loses it.

After the update of every `every`-th step (0, every, 2 every, ...): z . latent at the concept colour
(pure red's alignment with its anchor), the leak (mean |z . latent| over the score grid's colours
with almost none of the concept: sca2's OTHERS) and the mean clamped reconstruction error over the
score grid, all of the model in evaluation mode. "Anchored" is the first recorded step with the
alignment above 0.9; "lost" the first recorded step after that with it below 0.7 (sca2's reading).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from repro.engine.groups import groups_of

ANCHORED, LOST = 0.9, 0.7
COLUMNS = ("alignment", "leak", "recon")


@dataclass(frozen=True)
class TrajectoryProbe:
    """What a trajectory point is measured on: the score grid's colours then the concept colour."""

    colors: Tensor  # float32 [N + 1, 3]
    others: Tensor  # bool [N]: the grid colours with almost none of the concept
    latent: Tensor  # float32 [E]: the concept's direction
    every: int

    def due(self, step: int) -> bool:
        """Whether a point is recorded after this step's update."""
        return step % self.every == 0

    def point(self, z: Tensor, y: Tensor) -> list[float]:
        """(alignment, leak, recon) from the latents z [N + 1, E] and clamped outputs y [N + 1, 3]."""
        along = z @ self.latent
        grid, x = y[:-1], self.colors[:-1]
        return [float(along[-1]), float(along[:-1][self.others].abs().mean()), float(((grid - x) ** 2).mean())]


def probe_of(spec) -> TrajectoryProbe | None:
    """The spec's trajectory probe (validation.trajectory steps apart), or None."""
    every, probes = spec.validation.trajectory, spec.evaluation.probes
    if every is None or probes is None:
        return None
    g = groups_of(spec)
    return TrajectoryProbe(torch.tensor(g.colors, dtype=torch.float32), torch.tensor(g.is_other),
                           torch.tensor(probes.latent, dtype=torch.float32), every)


def events(points: np.ndarray, every: int) -> dict[str, int]:
    """The steps a run anchored (alignment first above 0.9) and lost its anchor (first below 0.7
    after), -1 for never (a number, so that the registry's expressions can read and compare it)."""
    align = points[:, 0]
    up = np.flatnonzero(align > ANCHORED)
    anchored = int(up[0]) if len(up) else None
    lost = None
    if anchored is not None:
        down = np.flatnonzero(align[anchored:] < LOST)
        lost = int(anchored + down[0]) if len(down) else None
    return {"anchored": -1 if anchored is None else anchored * every, "lost": -1 if lost is None else lost * every}
