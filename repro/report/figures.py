"""The report's figures, assembled from collected results and drawn by repro.report.plots.

Per experiment: one results column per intervention (composed side by side in LaTeX, as in the
paper's Figs. 2, 3, 15, 16), error against the concept target per intervention (Figs. 12, 14),
the schedule with the selected run's losses (Fig. 7), and the sweep (Figs. 11, 13). Shared: the
RGB cube (Fig. 8) and the intervention lobes (Figs. 9, 10).

A figure is redrawn only when the stamp of its inputs changed: the result it shows (evaluation
key and model hash, or the sweep's rows, or the schedule), the spec fields that shape it, and
the code that computes and draws it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from repro.method import colors as C
from repro.report.collect import Experiment
from repro.store import keys

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Where drawing starts; every repro module these import decides what a figure shows.
FIGURE_CODE = ("repro.report.figures", "repro.report.plots")
_SAFE = re.compile(r"^[A-Za-z0-9.-]+$")


def _stamp(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_stamp() -> str:
    """A digest of the code that decides what the figures show."""
    return _stamp(*sorted(keys.code_digests(FIGURE_CODE).items()))


def stem(*parts: str) -> str:
    """A figure's file stem: parts joined by hyphens, with only characters safe in a LaTeX
    file name (intervention names like subspace_suppression become subspace-suppression)."""
    name = "-".join(p.replace("_", "-") for p in parts)
    if not _SAFE.match(name):
        raise ValueError(f"figure name {name!r} has characters that are unsafe in a LaTeX file name")
    return name


class Painter:
    """Draws a figure unless its saved stamp matches; `stems` lists every figure it was asked for."""

    def __init__(self, out: Path, log: Callable[[str], None]):
        self.out, self.log, self.code = out, log, code_stamp()
        self.stems: list[str] = []

    def __call__(self, name: str, stamp_parts, draw: Callable[[], Figure]) -> str:
        from repro.report import plots as FG

        stamp = _stamp(self.code, stamp_parts)
        path = self.out / name
        self.stems.append(name)
        if FG.stamp_of(path) != stamp:
            FG.save(draw(), path, stamp)
            self.log(f"figure {name}")
        return name


def _dims(t):
    return tuple(None if d < 0 else d for d in t)


def _cones(iv) -> list:
    """(direction, half angle, dashed) of the intervention's cones, for the latent panels."""
    if iv is None:
        return []
    if iv.kind == "suppression":
        return [(iv.concept, math.radians(iv.falloff.max_angle), True)]
    if iv.kind == "repulsion":
        return [(iv.concept, math.radians(iv.mapper.from_angle), True),
                (iv.concept, math.radians(iv.mapper.to_angle), False)]
    return []


def concept_label(spec, iv) -> str:
    """The axis label of the concept an intervention is measured against."""
    if iv.selectivity_against == "vibrancy":
        return rf"$(S\,V)^{{{iv.selectivity_power:g}}}$"
    concept = "red" if list(spec.evaluation.concept_hsv) == [0.0, 1.0, 1.0] else "concept"
    return rf"$\mathrm{{sim}}_\mathrm{{{concept}}}^{{{iv.selectivity_power:g}}}$"


def sweep_axis_names(minimize: Sequence[str]) -> dict[str, str]:
    """The paper's names for a sweep's axes (the score and the losses it minimised): R^2,
    L_recon, L_concept."""
    losses = [m for m in minimize if m != "val_recon"]
    names = {"score": "$R^2$ (selectivity)", "val_recon": r"$\mathcal{L}_\mathrm{recon}$"}
    for m in losses:
        reg = m.removeprefix("val_")
        names[m] = r"$\mathcal{L}_\mathrm{concept}$" + (f" ({reg})" if len(losses) > 1 else "")
    return names


LATENT_RGB_GRID = 20  # the results and error-vs-target panels show the 20^3 RGB cube


def results_panel(spec, sets: dict, name: str, max_error: float):
    """One column of a results figure (the baseline or one intervention): the latents of the
    20^3 RGB cube, reconstructions of a hue slice, and error curves over the loss cube.
    `sets`: evaluate.intervened(spec, model); `max_error`: the error axis's top."""
    from repro.report import plots as FG
    from repro.engine.evaluate import BIG_BATCH, infer, loss_cube

    iv = spec.interventions.get(name)
    m, z_map = sets[name].model, sets[name].latent_map
    latent_rgb = C.rgb_cube(LATENT_RGB_GRID).reshape(-1, 3)
    hues = C.arange_cyclic(1 / 12)
    slice_cube = C.hsv_cube(hues, np.array([1.0]), np.linspace(0.25, 1, 4))
    loss = loss_cube(spec)
    s_index = loss.s.shape[0] - 1
    v_count = loss.v.shape[0]
    v_rows = list(range(v_count - 1, -1, v_count // -5))[:5]
    lat = infer(m, latent_rgb, z_map, BIG_BATCH)
    sl = infer(m, slice_cube.rgb, z_map)
    mse = infer(m, loss.rgb, z_map, BIG_BATCH).mse.reshape(loss.shape)
    dims = spec.figures.pruned_latent_dims if iv is not None and iv.kind == "pruning" else spec.figures.latent_dims
    return FG.stacked_results(
        lat.latents, lat.recon, latent_rgb,
        sl.recon.reshape(len(hues), 4, 3).transpose(1, 0, 2), slice_cube.rgb[:, 0].transpose(1, 0, 2),
        slice_cube.v, loss.h, {float(loss.v[v]): mse[:, s_index, v] for v in v_rows},
        loss.rgb[:, s_index, v_rows[0]], max_error, [_dims(d) for d in dims], _cones(iv))


def target_panel(spec, sets: dict, name: str, r2: float):
    """Each colour's error under intervention `name` against what it should follow (its
    similarity to the concept, or vibrancy), over the 20^3 RGB cube, with the stored R^2."""
    from repro.report import plots as FG
    from repro.engine.evaluate import BIG_BATCH, infer, target_of

    m, z_map = sets[name].model, sets[name].latent_map
    latent_rgb = C.rgb_cube(LATENT_RGB_GRID).reshape(-1, 3)
    return FG.error_vs_target(target_of(spec, name, latent_rgb), infer(m, latent_rgb, z_map, BIG_BATCH).mse,
                              latent_rgb, concept_label(spec, spec.interventions[name]), r2)


def experiment_figures(e: Experiment, paint: Painter) -> dict:
    """{"results": {intervention: stem} (baseline first), "targets": {...}, "dopesheet", "sweep"}."""
    from repro.report import plots as FG
    from repro.engine.evaluate import intervened

    spec, metrics = e.spec, e.metrics
    result: dict[str, Any] = {"results": {}, "targets": {}}
    shown = (metrics["evaluation_key"], metrics["model_sha256"], spec.figures.model_dump())
    sets: dict = {}

    def applied() -> dict:  # the models evaluate() measured: one rule for what interventions draw
        if not sets:
            sets.update(intervened(spec, e.model))
        return sets

    max_error = max(metrics["max_error"].values()) or 1.0  # one error scale for the experiment's panels
    for name in ["baseline", *spec.interventions]:
        def draw_results(name: str = name):
            return results_panel(spec, applied(), name, max_error)

        result["results"][name] = paint(stem(spec.name, "results", name), (shown, name, max_error), draw_results)
    for name in spec.interventions:
        def draw_target(name: str = name):
            return target_panel(spec, applied(), name, metrics["selectivity"][name]["r2"])

        result["targets"][name] = paint(stem(spec.name, "error-vs-target", name), (shown, name), draw_target)

    sheet = spec.sheet
    history = e.training["val_history"]

    def draw_sheet():
        keys = {t.name: [(k.step, k.value) for k in t.keys] for t in sheet.tracks}
        return FG.dopesheet(sheet.realize(), keys, history, e.losses())

    result["dopesheet"] = paint(stem(spec.name, "dopesheet"),
                                (sheet.realize(), e.training["model_sha256"], history), draw_sheet)
    result["sweep"] = None
    if e.sweep is not None:
        s = e.sweep
        axes = sweep_axis_names(spec.sweep.minimize)
        shown_sweep = (s["runs"], s["selected_seed"], s["pareto_seeds"], axes)
        result["sweep"] = paint(stem(spec.name, "sweep"), shown_sweep, lambda: FG.sweep(
            s["runs"], axes, set(axes) - {"score"}, s["selected_seed"], s["pareto_seeds"]))
    return result


# ---------------------------------------------------------------------------------------------
# Figures of the method, shared by all experiments


def _as_numpy(fn):
    import torch

    return lambda x: fn(torch.tensor(np.asarray(x), dtype=torch.float32)).numpy()


def common_figures(paint: Painter) -> dict[str, str]:
    """The figures of the method shared by all experiments."""
    import torch

    from repro.report import plots as FG
    from repro.method.interventions import BezierMapper, BoundedFalloff, LinearMapper, Repulsion, Suppression

    e0 = torch.tensor([1.0, 0.0])
    cos = lambda deg: math.cos(math.radians(deg))  # noqa: E731
    out = {"rgb-cube": paint("rgb-cube", (), lambda: FG.rgb_cube(C.rgb_cube(8).reshape(-1, 3)))}

    def suppression():
        configs = {}
        for title, f in ((r"$a=\cos 90^\circ,\ b=1,\ p=0$", BoundedFalloff(cos(90), 1.0, 0.0)),
                         (r"$a=\cos 90^\circ,\ b=1,\ p=1$", BoundedFalloff(cos(90), 1.0, 1.0)),
                         (r"$a=\cos 90^\circ,\ b=1,\ p=3$", BoundedFalloff(cos(90), 1.0, 3.0)),
                         (r"$a=\cos 45^\circ,\ b=0.8,\ p=1$", BoundedFalloff(cos(45), 0.8, 1.0))):
            configs[title] = (_as_numpy(f), _as_numpy(Suppression(e0, f)))
        return FG.suppression_lobes(configs)

    def repulsion():
        configs = {}
        for a, b in ((90, 60), (45, 30)):
            for kind, mapper in (("linear", LinearMapper(cos(a), cos(b))), (r"B\'ezier", BezierMapper(cos(a), cos(b)))):
                r = Repulsion(e0, mapper)
                configs[f"{kind}\n" + rf"$a=\cos {a}^\circ,\ b=\cos {b}^\circ$"] = (
                    _as_numpy(mapper), _as_numpy(lambda z, r=r: r(z, torch.Generator().manual_seed(0))))
        return FG.repulsion_lobes(configs)

    out["suppression-lobes"] = paint("suppression-lobes", (), suppression)
    out["repulsion-lobes"] = paint("repulsion-lobes", (), repulsion)
    return out


# ---------------------------------------------------------------------------------------------
# The authors' follow-up (sca2)

FOLLOWUP_VARIANTS = (("base", "sca2-2.9.2-base"), ("fallback", "sca2-2.9.2-fallback"))
FOLLOWUP_EDITS = ("zero", "oa", "oa-nontarget", "reflect", "redirect")


def followup_figures(paint: Painter, statistics: Sequence[Any], jobs: int | None = None,
                     log: Callable[[str], None] | None = None) -> list[str]:
    """The follow-up's fallback-control figure: per variant and edit, every run's score and pure
    red's damage, with the values the reports printed (the registry's statistics). Reads every
    seed's evaluation (cached by the verification)."""
    from repro.config.spec import load_spec, parse_seeds
    from repro.pipeline.sweep import evaluate_all

    per_variant = {}
    for variant, name in FOLLOWUP_VARIANTS:
        try:
            spec = load_spec(name)
        except Exception:  # noqa: BLE001 - an installation without the follow-up's specs draws nothing
            return []
        per_variant[variant] = evaluate_all(spec, parse_seeds(spec.sweep.seeds), log=log)
    printed: dict[str, dict[str, tuple[float, str]]] = {"score": {}, "concept": {}}
    for st in statistics:
        m = re.fullmatch(r"sca2\.ex-2\.9\.2\.(base|fallback)_([a-z-]+)\.(score|red_pure)\.(median|mean)", st.id)
        if m and st.value is not None and m.group(2) in FOLLOWUP_EDITS:
            panel = "score" if m.group(3) == "score" else "concept"
            key = f"{m.group(1)}\n{m.group(2)}"
            if m.group(4) == "median" or key not in printed[panel]:  # a median is shown over a mean
                printed[panel][key] = (st.value, m.group(4))

    def values(field: str) -> list[tuple[str, np.ndarray]]:
        return [(f"{variant}\n{edit}", np.array([dict(ms["probes"]["groups"][edit])[field]
                                                 for _, ms in sorted(per_variant[variant].items())]))
                for variant, _ in FOLLOWUP_VARIANTS for edit in FOLLOWUP_EDITS]

    parts = [(x, s, per_variant[v][s]["model_sha256"], per_variant[v][s]["evaluation_key"])
             for v, x in FOLLOWUP_VARIANTS for s in sorted(per_variant[v])]

    def draw():
        from repro.report import plots as FG

        return FG.followup_strips([
            ("score ($R^2$, sim$^3$)", values("score"), printed["score"], []),
            ("pure red's error", values("concept"), printed["concept"],
             [(0.25, "mid-grey: 1/4"), (1 / 3, "a uniform colour: 1/3")]),
        ])

    return [paint("followup-fallback-control", (parts, sorted((k, sorted(v.items())) for k, v in printed.items())),
                  draw)]


def followup_timing(paint: Painter, log: Callable[[str], None] | None = None) -> list[str]:
    """The follow-up's failure-timing figure (sca2 ex-2.9.3's trajectory arm, here the base variant):
    every run's recorded trajectory, coloured by its health."""
    from repro.config.spec import load_spec, parse_seeds
    from repro.engine.data import schedule_of
    from repro.pipeline.runner import cached_training
    from repro.pipeline.sweep import evaluate_all
    from repro.store import layout

    try:
        spec = load_spec(FOLLOWUP_VARIANTS[0][1])
    except Exception:  # noqa: BLE001 - an installation without the follow-up's specs draws nothing
        return []
    every = spec.validation.trajectory
    if every is None:
        return []
    seeds = parse_seeds(spec.sweep.seeds)
    metrics = evaluate_all(spec, seeds, log=log)
    runs, parts = [], []
    for s in seeds:
        trained = cached_training(spec.with_seed(s), log)
        if trained is None or s not in metrics or not (trained.path / layout.TRAJECTORY).exists():
            continue
        runs.append((np.load(trained.path / layout.TRAJECTORY), metrics[s]["probes"]["health"]))
        parts.append((s, trained.record["model_sha256"], metrics[s]["probes"]["health"]))
    if not runs:
        return []
    lr = np.array(schedule_of(spec)["lr"])
    steps = np.arange(len(runs[0][0])) * every
    plateau = (int(np.argmax(lr >= lr.max() - 1e-12)), int(len(lr) - np.argmax(lr[::-1] >= lr.max() - 1e-12) - 1))

    def draw():
        from repro.report import plots as FG

        return FG.failure_timing(steps, runs, lr, plateau)

    return [paint("followup-failure-timing", (parts, every), draw)]
