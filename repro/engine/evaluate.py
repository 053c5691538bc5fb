"""Evaluation: per-colour reconstruction error, and how selectively an intervention hits a concept.

Per-colour MSE is the mean over the three channels of (clamped output - input)^2. Selectivity
is the Pearson correlation between that error and the colour's similarity to the concept
(or its vibrancy) raised to a power: a selective intervention hurts colours in proportion to
how much of the concept they contain (paper App. C.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NotRequired, TypedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from repro.method import colors as C
from repro.method.colors import concept_target
from repro.engine.correlation import Correlation, pearson  # noqa: F401  (part of this module's face)
from repro.method.model import LatentMap, SphericalAutoencoder

if TYPE_CHECKING:
    from repro.engine.probes import Probes

# Cubes of thousands of colours are evaluated in big batches (upstream used 64; the batch size
# can move results by an ulp, far below the printed precision of max errors and correlations).
# The table's 17 colours and the 512-colour score keep upstream's batches of 64.
BIG_BATCH = 8192


@dataclass
class Inference:
    """What a model (after an intervention) gives for some colours."""

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


# ---------------------------------------------------------------------------------------------
# A spec's score and full evaluation


class SelectivityRecord(TypedDict):
    """How selectively one intervention hit the concept (metrics.json's selectivity[name])."""

    power: float
    similarity: str  # "angular-hemi" or another similarity, or "vibrancy"
    cube: str  # the colours it was measured on
    r: float
    r2: float
    p: float


class Evaluation(TypedDict):
    """What evaluate() measures of one model (stored in metrics.json; repro.store.records)."""

    per_color: list[dict[str, Any]]  # name, hex, baseline, latent, then {intervention: {mse, delta}}
    max_error: dict[str, float]  # "baseline" and each intervention
    selectivity: dict[str, SelectivityRecord]
    probes: NotRequired[Probes]  # the follow-up's measurements, when the spec asks for them


def _generator(seed: int) -> torch.Generator:
    """Randomness an intervention may draw (repulsion's fallback direction), per evaluation."""
    return torch.Generator().manual_seed(seed)


def loss_cube(spec) -> C.HsvCube:
    """The HSV cube the maximum reconstruction error is measured on."""
    lc = spec.evaluation.loss_cube
    s = slice(None, None, lc.stride)
    h = np.linspace(-1 / 12, 1 + 1 / 12, lc.hues)[s]
    return C.hsv_cube(h, np.linspace(0, 1, lc.saturations)[s], np.linspace(0, 1, lc.values)[s])


def score(spec, model: SphericalAutoencoder) -> float:
    """Selectivity of the scoring intervention on the score grid: r^2 (used to pick runs)."""
    sc = spec.score
    rgb = C.rgb_cube(sc.grid).reshape(-1, 3)
    m, z_map = spec.interventions[sc.intervention].apply(model, _generator(spec.seed), spec)
    mse = infer(m, rgb, z_map).mse
    target = concept_target(rgb, sc.against, sc.power, spec.evaluation.concept_hsv, "angular")
    return pearson(target, mse).r2


@dataclass(frozen=True)
class Intervened:
    """The model as one intervention leaves it: the module (changed by weight surgery) and the
    map applied at the bottleneck (None for surgery and the baseline)."""

    model: SphericalAutoencoder
    latent_map: LatentMap | None


def intervened(spec, model: SphericalAutoencoder) -> dict[str, Intervened]:
    """The baseline and each of the spec's interventions, in spec order, sharing one generator
    seeded with the spec's seed (the report's figures and Run.plot apply them through this too).
    What an intervention draws from it (repulsion's fallback direction, for latents exactly at
    the concept; never the case in the paper's runs) follows the order its map is called in."""
    g = _generator(spec.seed)
    sets = {"baseline": Intervened(model, None)}
    for name, iv in spec.interventions.items():
        sets[name] = Intervened(*iv.apply(model, g, spec))
    return sets


def correlation_cube(spec) -> tuple[np.ndarray, str]:
    """The colours selectivity is measured on [N, 3], and the name the metrics give them."""
    ev = spec.evaluation
    if ev.correlation_cube == "loss":
        cube = loss_cube(spec)
        return cube.rgb.reshape(-1, 3), "hsv-loss-cube-%dx%dx%d" % cube.shape
    return C.rgb_cube(20).reshape(-1, 3), "rgb-20"


def target_of(spec, name: str, rgb: np.ndarray) -> np.ndarray:
    """What intervention `name`'s error should follow on colours `rgb` (its selectivity target)."""
    iv, ev = spec.interventions[name], spec.evaluation
    return concept_target(rgb, iv.selectivity_against, iv.selectivity_power, ev.concept_hsv, ev.similarity)


def evaluate(spec, model: SphericalAutoencoder) -> Evaluation:
    """Per-colour table, max errors and selectivity of every intervention."""
    ev = spec.evaluation
    named = C.named_colors()
    named_rgb = np.array([c.rgb for c in named])
    cube = loss_cube(spec)
    corr_rgb, corr_name = correlation_cube(spec)

    per_color: dict[str, dict[str, Any]] = {c.name: {"name": c.name, "hex": c.hex} for c in named}
    max_error: dict[str, float] = {}
    selectivity: dict[str, SelectivityRecord] = {}
    baseline_named = None
    sets = intervened(spec, model)
    for name, applied in sets.items():
        m, z_map = applied.model, applied.latent_map
        inferred = infer(m, named_rgb, z_map)
        mse_named = inferred.mse.astype(np.float64)
        if name == "baseline":
            baseline_named = mse_named
            for c, v, z in zip(named, mse_named, inferred.latents):
                per_color[c.name]["baseline"] = float(v)
                per_color[c.name]["latent"] = [float(x) for x in z]  # where the colour sits on the sphere
        else:
            assert baseline_named is not None  # the baseline is the first set
            for c, v, b in zip(named, mse_named, baseline_named):
                per_color[c.name][name] = {"mse": float(v), "delta": float(np.float32(v) - np.float32(b))}
        max_error[name] = float(infer(m, cube.rgb, z_map, BIG_BATCH).mse.max())
        if name != "baseline":
            iv = spec.interventions[name]
            corr = pearson(target_of(spec, name, corr_rgb), infer(m, corr_rgb, z_map, BIG_BATCH).mse)
            selectivity[name] = {
                "power": iv.selectivity_power,
                "similarity": f"{ev.similarity}-hemi" if iv.selectivity_against == "similarity" else "vibrancy",
                "cube": corr_name, "r": corr.r, "r2": corr.r2, "p": corr.p,
            }
    out: Evaluation = {"per_color": list(per_color.values()), "max_error": max_error, "selectivity": selectivity}
    if ev.probes is not None:
        from repro.engine.probes import probe

        out["probes"] = probe(spec, sets)
    return out
