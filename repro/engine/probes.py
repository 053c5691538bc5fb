"""What the authors' follow-up (sca2 M1) measures of a model besides selectivity, and how it
sorts runs into healthy and failed ones (shared/reference/sca2-m1 README §2.5-2.6, §3.3).

On the score grid, colours split by their selectivity target (similarity^power):
- target: the concept's colours (target > target_above; 7 reds of 512 in the paper's setup),
- others: colours with almost none of it (target < others_below; 337 of 512).
Per intervention: the mean clamped error over each group, at the concept colour itself, and the
score (r^2 of error against target over the whole grid, sca2's score for every intervention).
Of the unedited model: `leak`, the mean |z . latent| over the others (how much of the concept's
latent direction they use), `anchor`, 1 - z . latent at the concept colour (sca2's unweighted
val_anchor), `recon`, the mean clamped error over the validation colours, and `opposite`, the
decoded colour at -latent (what the fallback term trains toward mid-grey).

Health, from sca2's thresholds: catastrophic if the anchor, the reconstruction or the leak is
beyond its bound, else degraded if the leak is beyond a lower bound, else clean.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import numpy as np
import torch

from repro.engine.correlation import pearson
from repro.engine.groups import groups_of
from repro.method import colors as C
from repro.method.model import LatentMap, SphericalAutoencoder

Health = Literal["clean", "degraded", "catastrophic"]
HEALTH: tuple[Health, ...] = ("clean", "degraded", "catastrophic")


class GroupDamage(TypedDict):
    """One intervention's (or the baseline's) error by colour group, and its score."""

    target: float  # mean clamped per-colour MSE over the target colours
    others: float  # ... over the others
    concept: float  # ... at the concept colour itself (pure red)
    all: float  # ... over the whole score grid
    max: float  # the largest error on the score grid
    score: float  # r^2 of the error against the target over the score grid


class Probes(TypedDict):
    """metrics.json's `probes`: the follow-up's measurements of one model."""

    sizes: dict[str, int]  # target, others, all: how many colours of the score grid
    groups: dict[str, GroupDamage]  # "baseline" and each intervention
    details: dict[str, dict[str, float]]  # what an intervention chose (optimal ablation's constant)
    leak: float
    anchor: float
    recon: float
    opposite: list[float]  # clamped decoded colour at -latent
    health: Health
    health_class: int  # the same as a number (0 clean, 1 degraded, 2 catastrophic), for the registry's expressions


def classify(anchor: float, recon: float, leak: float, bounds) -> Health:
    """sca2's health classes (`bounds`: a HealthSpec). A NaN metric counts as beyond its bound."""
    def beyond(x: float, bound: float) -> bool:
        return not x <= bound

    if beyond(anchor, bounds.anchor_above) or beyond(recon, bounds.recon_above) or beyond(leak, bounds.leak_above):
        return "catastrophic"
    if beyond(leak, bounds.degraded_leak_above):
        return "degraded"
    return "clean"


def _errors(model: SphericalAutoencoder, x: torch.Tensor, latent_map: LatentMap | None) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        y, _ = model(x, latent_map)
    return ((y - x) ** 2).mean(dim=-1).numpy().astype(np.float64)


def probe(spec, sets: dict) -> Probes:
    """The follow-up's measurements (spec.evaluation.probes). `sets`: the baseline and each
    intervention as repro.engine.evaluate.intervened() gives them."""
    g = spec.evaluation.probes
    gr = groups_of(spec)
    target, is_target, is_other = gr.target, gr.is_target, gr.is_other
    x = torch.tensor(gr.colors, dtype=torch.float32)
    groups: dict[str, GroupDamage] = {}
    details: dict[str, dict[str, float]] = {}
    for name, applied in sets.items():
        err = _errors(applied.model, x, applied.latent_map)
        grid = err[:-1]
        groups[name] = {"target": float(grid[is_target].mean()) if is_target.any() else float("nan"),
                        "others": float(grid[is_other].mean()) if is_other.any() else float("nan"),
                        "concept": float(err[-1]), "all": float(grid.mean()), "max": float(grid.max()),
                        "score": pearson(target, grid).r2}
        if name != "baseline":
            d = spec.interventions[name].details(applied.model)
            if d:
                details[name] = d
    model = sets["baseline"].model.eval()
    direction = torch.tensor(g.latent, dtype=torch.float32)
    with torch.no_grad():
        z = model.encode(x)
        along = (z @ direction).numpy().astype(np.float64)
        opposite = model.decode(-direction.reshape(1, -1))[0].tolist()
    leak = float(np.abs(along[:-1][is_other]).mean()) if is_other.any() else float("nan")
    anchor = float(1 - along[-1])
    v = torch.tensor(C.validation_colors(spec.validation.colors, spec.validation.grid), dtype=torch.float32)
    recon = float(_errors(model, v, None).mean())
    return {"sizes": {"target": int(is_target.sum()), "others": int(is_other.sum()), "all": len(target)}, "groups": groups,
            "details": details, "leak": leak, "anchor": anchor, "recon": recon, "opposite": opposite,
            "health": (health := classify(anchor, recon, leak, g.health)), "health_class": HEALTH.index(health)}
