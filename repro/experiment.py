"""From a spec to a trained model and its metrics: the engine's objects built from data."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from repro import colors as C
from repro.evaluate import concept_target, infer, pearson
from repro.interventions import BezierMapper, BoundedFalloff, LinearMapper, Repulsion, SubspaceSuppression, Suppression
from repro.model import SphericalAutoencoder, build_model, fingerprint
from repro.regularizers import Regularizer
from repro.replay import every_n_epochs, every_n_steps, plan_batches
from repro.spec import InterventionSpec, Spec
from repro.surgery import ablate, prune
from repro.train import Progress, TrainResult, ValidationSet, train

# Cubes of thousands of colours are evaluated in big batches (upstream used 64; the batch size
# can move results by an ulp, far below the printed precision of max errors and correlations).
# The table's 17 colours and the 512-colour score keep upstream's batches of 64.
BIG_BATCH = 8192
LATENT_INTERVENTIONS = ("suppression", "repulsion", "subspace-suppression")
SURGERY = ("ablation", "pruning")


def label_probabilities(spec: Spec, rgb: np.ndarray) -> dict[str, torch.Tensor]:
    """p(label) per colour, computed in float64 then cast to float32 (as upstream)."""
    out = {}
    for name, lab in spec.labels.items():
        p = C.ATTRIBUTES[lab.attribute](rgb) ** lab.power * lab.scale
        out[name] = torch.tensor(p, dtype=torch.float32)
    return out


def validation_set(spec: Spec) -> ValidationSet:
    v = spec.validation
    rgb = C.cell_centres_with_corners(v.grid) if v.colors == "cell-centres" else C.rgb_cube(v.grid).reshape(-1, 3)
    labels = {name: torch.tensor(C.ATTRIBUTES[lab.attribute](rgb) == 1, dtype=torch.float32)
              for name, lab in spec.labels.items() if lab.validation == "exact"}
    return ValidationSet(torch.tensor(rgb, dtype=torch.float32), labels, v.batch_size)


def regularizers(spec: Spec) -> list[Regularizer]:
    return [
        Regularizer(
            name=name, kind=r.kind, labels=r.labels, validate=r.validate,
            direction=torch.tensor(r.direction, dtype=torch.float32) if r.direction else None,
            dims=tuple(r.dims or ()), power=r.power, shift=r.shift,
        )
        for name, r in spec.regularizers.items()
    ]


def schedule_of(spec: Spec) -> dict[str, list[float]]:
    """Every dopesheet property per timeline row; lr defaults to 1e-8 as upstream's did."""
    schedule = spec.sheet.realize()
    if "lr" not in schedule:
        schedule["lr"] = [1e-8] * len(spec.sheet)
    return schedule


def train_spec(spec: Spec, progress: Progress | None = None) -> tuple[TrainResult, str]:
    """Train one seed. All randomness flows from one generator seeded with spec.seed."""
    g = torch.Generator().manual_seed(spec.seed)
    rgb = C.rgb_cube(spec.data.grid).reshape(-1, 3)
    colors = torch.tensor(rgb, dtype=torch.float32)
    probs = label_probabilities(spec, rgb)
    m = spec.model
    model = build_model(m.latent_dim, m.hidden_width, m.hidden_layers, g)
    init_sha = fingerprint(model)
    sheet = spec.sheet
    n_steps = len(sheet)
    v = spec.validation
    validates = every_n_steps(v.every) if v.unit == "steps" else every_n_epochs(v.every)
    plan = plan_batches(g, len(rgb), probs, n_steps, spec.data.batch_size, spec.data.loader_workers, validates)
    result = train(model, colors, plan, regularizers(spec), schedule_of(spec), n_steps, validation_set(spec), progress)
    return result, init_sha


# ---------------------------------------------------------------------------------------------
# Interventions and evaluation


def _angle(deg: float) -> float:
    return math.cos(math.radians(deg))


def intervention(iv: InterventionSpec, seed: int) -> Callable:
    """A latent map (for suppression, repulsion, subspace suppression)."""
    if iv.kind == "suppression":
        f = iv.falloff
        return Suppression(torch.tensor(iv.concept, dtype=torch.float32),
                           BoundedFalloff(_angle(f.max_angle), f.strength, f.power))
    if iv.kind == "repulsion":
        mp = iv.mapper
        cls = LinearMapper if mp.kind == "linear" else BezierMapper
        return Repulsion(torch.tensor(iv.concept, dtype=torch.float32),
                         cls(_angle(mp.from_angle), _angle(mp.to_angle)),
                         generator=torch.Generator().manual_seed(seed))
    if iv.kind == "subspace-suppression":
        return SubspaceSuppression(tuple(iv.dims))
    raise ValueError(iv.kind)


def apply(model: SphericalAutoencoder, iv: InterventionSpec, seed: int):
    """(model, latent map) that realise an intervention: surgery edits weights, others hook z."""
    if iv.kind == "ablation":
        return ablate(model, iv.dims), None
    if iv.kind == "pruning":
        return prune(model, iv.dims), None
    return model, intervention(iv, seed)


def loss_cube(spec: Spec) -> C.HsvCube:
    lc = spec.evaluation.loss_cube
    s = slice(None, None, lc.stride)
    h = np.linspace(-1 / 12, 1 + 1 / 12, lc.hues)[s]
    return C.hsv_cube(h, np.linspace(0, 1, lc.saturations)[s], np.linspace(0, 1, lc.values)[s])


def score(spec: Spec, model: SphericalAutoencoder) -> float:
    """Selectivity of the scoring intervention on the score grid: r^2 (used to pick runs)."""
    sc = spec.score
    rgb = C.rgb_cube(sc.grid).reshape(-1, 3)
    m, z_map = apply(model, spec.interventions[sc.intervention], spec.seed)
    mse = infer(m, rgb, z_map).mse
    target = concept_target(rgb, sc.against, sc.power, spec.evaluation.concept_hsv, "angular")
    return pearson(target, mse).r2


def evaluate(spec: Spec, model: SphericalAutoencoder) -> dict:
    """Per-colour table, max errors and selectivity of every intervention."""
    ev = spec.evaluation
    named = C.named_colors()
    named_rgb = np.array([c.rgb for c in named])
    cube = loss_cube(spec)
    corr_rgb = cube.rgb.reshape(-1, 3) if ev.correlation_cube == "loss" else C.rgb_cube(20).reshape(-1, 3)
    corr_name = ("hsv-loss-cube-%dx%dx%d" % cube.shape) if ev.correlation_cube == "loss" else "rgb-20"

    sets = {"baseline": (model, None)}
    for name, iv in spec.interventions.items():
        sets[name] = apply(model, iv, spec.seed)

    per_color = {c.name: {"name": c.name, "hex": c.hex} for c in named}
    max_error, selectivity = {}, {}
    baseline_named = None
    for name, (m, z_map) in sets.items():
        mse_named = infer(m, named_rgb, z_map).mse.astype(np.float64)
        if name == "baseline":
            baseline_named = mse_named
            for c, v in zip(named, mse_named):
                per_color[c.name]["baseline"] = float(v)
        else:
            for c, v, b in zip(named, mse_named, baseline_named):
                per_color[c.name][name] = {"mse": float(v), "delta": float(np.float32(v) - np.float32(b))}
        max_error[name] = float(infer(m, cube.rgb, z_map, BIG_BATCH).mse.max())
        if name != "baseline":
            iv = spec.interventions[name]
            target = concept_target(corr_rgb, iv.selectivity_against, iv.selectivity_power, ev.concept_hsv, ev.similarity)
            corr = pearson(target, infer(m, corr_rgb, z_map, BIG_BATCH).mse)
            selectivity[name] = {
                "power": iv.selectivity_power,
                "similarity": f"{ev.similarity}-hemi" if iv.selectivity_against == "similarity" else "vibrancy",
                "cube": corr_name, "r": corr.r, "r2": corr.r2, "p": corr.p,
            }
    return {"per_color": list(per_color.values()), "max_error": max_error, "selectivity": selectivity}


def run_metrics(spec: Spec, progress: Progress | None = None) -> tuple[dict, SphericalAutoencoder]:
    """Train, score and evaluate one seed; returns the metrics contract (see README)."""
    result, init_sha = train_spec(spec, progress)
    t0 = time.perf_counter()
    model = result.model
    model.eval()
    metrics = {
        "experiment": spec.name,
        "seed": spec.seed,
        "steps": len(spec.sheet),
        "label_counts": result.label_counts,
        "val_losses": result.val_history[-1][1] if result.val_history else {},
        "val_history": [{"step": s, **v} for s, v in result.val_history],
        "final_loss": result.final_loss,
        "score": score(spec, model),
    }
    metrics.update(evaluate(spec, model))
    metrics["timings"] = {"train_s": result.train_s, "eval_s": time.perf_counter() - t0}
    metrics["init_sha256"] = init_sha
    metrics["model_sha256"] = fingerprint(model)
    return metrics, model
