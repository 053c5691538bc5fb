"""Figures for the report: matplotlib's PGF backend (typeset by pdflatex, so fonts match the
document) plus a PNG preview of each. Dense scatter layers are rasterised to keep the PGF small.

Every function takes computed data and returns a matplotlib Figure sized for the report's page
(FULL or THIRD of the text width); `save` writes the files. Nothing here touches global state:
the report's settings apply inside `with style():`.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

import matplotlib
import matplotlib.patches as mpatches
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator, NullFormatter

PREAMBLE = r"\usepackage[T1]{fontenc}\usepackage{lmodern}\usepackage{amsmath}"
STYLE = {
    "pgf.texsystem": "pdflatex", "pgf.rcfonts": False, "pgf.preamble": PREAMBLE,
    "font.family": "serif", "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8,
    "legend.fontsize": 7, "xtick.labelsize": 7, "ytick.labelsize": 7, "savefig.dpi": 200,
    "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
    "xtick.major.size": 2.5, "ytick.major.size": 2.5, "xtick.minor.size": 1.5, "ytick.minor.size": 1.5,
    "legend.frameon": False, "svg.hashsalt": "repro", "path.simplify": True,
}
FULL = 6.5  # inches: the report's text width
THIRD = 2.12  # one of three panels side by side

# One colour per schedule track, the same in every experiment.
TRACK_COLORS = {"separate": "#7f7f7f", "anchor": "#d62728", "subspace": "#1f77b4", "anti-anchor": "#ff7f0e",
                "anti-subspace": "#2ca02c", "lr": "#333333"}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
SELECTED, PARETO, OTHER = "#d62728", "#1f77b4", "#9a9a9a"
STAMP = "%% repro-stamp: "


def style():
    """The report's matplotlib settings, for the figures drawn inside it; the caller's rcParams
    are restored on exit (importing this module changes no global state: no pyplot, no backend)."""
    return matplotlib.rc_context(STYLE)


def track_color(name: str) -> str:
    """The colour a dopesheet track is drawn in."""
    if name in TRACK_COLORS:
        return TRACK_COLORS[name]
    return _EXTRA[sum(map(ord, name)) % len(_EXTRA)]


def _layout(fig: Figure) -> ConstrainedLayoutEngine:
    return cast(ConstrainedLayoutEngine, fig.get_layout_engine())  # every figure here is made by figure()


def figure(width: float, height: float) -> Figure:
    """A figure outside pyplot's global registry, with constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    _layout(fig).set(w_pad=0.02, h_pad=0.02, wspace=0.02, hspace=0.02)
    return fig


def tex_label(text: str) -> str:
    """Plain text safe for LaTeX-typeset labels (underscores and friends escaped)."""
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


# ---------------------------------------------------------------------------------------------
# Files


def save(fig: Figure, stem: Path, stamp: str) -> None:
    """Write <stem>.pgf (with its raster sidecars <stem>-img<N>.png) and a <stem>.png preview.

    The .pgf's first line records `stamp` (a hash of the figure's inputs), and it is moved into
    place last: an interrupted save leaves the old .pgf or none, never a fresh-looking stale one.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem.name}.", dir=stem.parent))
    try:
        # Not with_suffix: experiment names contain dots ("ex-2.4.1-results-baseline").
        pgf = tmp / f"{stem.name}.pgf"
        fig.savefig(pgf, backend="pgf")
        fig.savefig(tmp / f"{stem.name}.png", dpi=110, metadata={"Software": None})
        pgf.write_text(STAMP + stamp + "\n" + pgf.read_text())
        for f in sorted(tmp.iterdir()):
            if f != pgf:
                os.replace(f, stem.parent / f.name)
        os.replace(pgf, stem.parent / pgf.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def stamp_of(stem: Path) -> str | None:
    """The stamp a saved figure was drawn from, or None if it is missing or has no preview."""
    try:
        with open(stem.parent / f"{stem.name}.pgf") as f:
            first = f.readline()
    except OSError:
        return None
    if not first.startswith(STAMP) or not (stem.parent / f"{stem.name}.png").exists():
        return None
    return first[len(STAMP):].strip()


# ---------------------------------------------------------------------------------------------
# Stacked results: latent panels, colour slice, error against hue (paper Figs. 2, 3, 15, 16)


def _cone_outline(direction: np.ndarray, half_angle: float, dims: tuple[int, int], n: int = 361) -> np.ndarray:
    """The cone's base circle on the unit sphere, projected onto two latent dims: [n, 2]."""
    u = direction / np.linalg.norm(direction)
    basis = np.linalg.svd(u[None, :])[2][1:]  # orthonormal complement of u, rows
    t = np.linspace(0, 2 * np.pi, n)
    pts = np.cos(half_angle) * u[None, :] + np.sin(half_angle) * (
        np.cos(t)[:, None] * basis[0][None, :] + np.sin(t)[:, None] * basis[1 % len(basis)][None, :])
    return pts[:, list(dims)]


def latent_panel(ax, latents, recon, true, dims, cones=()):
    """Latents seen down their `dims` (x, y, depth), near points on top; fill is the true colour,
    the ring the reconstruction; the unit circle for scale."""
    i, j, k = dims
    n = len(latents)
    depth = latents[:, k] if k is not None else np.zeros(n)
    order = np.argsort(depth, kind="stable")
    x = latents[order, i] if i is not None else np.zeros(n)
    y = latents[order, j] if j is not None else np.zeros(n)
    ax.add_patch(mpatches.Circle((0, 0), 1, color="#eeeeee", zorder=0))
    ax.scatter(x, y, s=3.2, c=np.clip(true[order], 0, 1), edgecolors=np.clip(recon[order], 0, 1),
               linewidths=0.5, rasterized=True, zorder=1)
    ax.add_patch(mpatches.Circle((0, 0), 1, fill=False, color="#00000055", lw=0.6, zorder=2))
    for direction, half_angle, dashed in cones:
        if half_angle <= 0 or i is None or j is None:
            continue
        pts = _cone_outline(np.asarray(direction, float), half_angle, (i, j))
        ax.plot(pts[:, 0], pts[:, 1], color="black", lw=0.6, ls=(0, (3, 2)) if dashed else "-", zorder=3)
    ax.set_xlim(-1.06, 1.06)
    ax.set_ylim(-1.06, 1.06)
    ax.set_aspect("equal")
    ax.axis("off")
    label = ", ".join(r"\cdot" if d is None else f"z_{d}" for d in dims)  # a pruned dimension (math mode: no en dash)
    ax.set_title(f"$({label})$", fontsize=6, pad=1)


def stacked_results(latents, recon, true, slice_recon, slice_true, slice_values, loss_hues, loss_curves,
                    loss_colors, max_error, latent_dims, cones=()):
    """One column of a results figure. slice_*: [V, H, 3] at S = 1; loss_curves: {V: mse[H]} at
    S = 1, coloured by loss_colors [H, 3]; the error axis runs to max_error, shared by the
    experiment's panels."""
    fig = figure(THIRD, 2.55)
    gs = fig.add_gridspec(3, 2, height_ratios=(2.5, 1.2, 1.3))
    for c, dims in enumerate(latent_dims):
        latent_panel(fig.add_subplot(gs[0, c]), latents, recon, true, dims, cones)
    ax = fig.add_subplot(gs[1, :])
    nv, nh = slice_recon.shape[:2]
    for v in range(nv):
        for h in range(nh):
            ax.add_patch(mpatches.Rectangle((h - 0.5, v - 0.5), 1, 1, color=np.clip(slice_recon[v, h], 0, 1), lw=0))
            ax.add_patch(mpatches.Rectangle((h - 0.17, v - 0.17), 0.34, 0.34, color=np.clip(slice_true[v, h], 0, 1),
                                            lw=0))
    ax.set_xlim(-0.5, nh - 0.5)
    ax.set_ylim(-0.5, nv - 0.5)
    ax.set_yticks([0, nv - 1], [f"{slice_values[0]:g}", f"{slice_values[-1]:g}"])
    ax.set_ylabel("$V$", labelpad=3)
    ax.set_xticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax = fig.add_subplot(gs[2, :])
    for mse in loss_curves.values():
        pts = np.stack([loss_hues, mse], axis=1)
        segs = np.stack([pts[:-1], pts[1:]], axis=1)
        ax.add_collection(LineCollection(segs, colors=np.clip(loss_colors[:-1], 0, 1), linewidths=1.0,
                                         capstyle="round"))
    ax.set_xlim(loss_hues[0], loss_hues[-1])
    ax.set_ylim(0, max_error * 1.05 if max_error > 0 else 1)
    ax.set_xticks([0, 1 / 3, 2 / 3, 1], ["R", "G", "B", "R"])
    ax.yaxis.set_major_locator(MaxNLocator(3))
    ax.set_ylabel("MSE", labelpad=3)
    ax.tick_params(axis="y", labelsize=6)
    return fig


# ---------------------------------------------------------------------------------------------
# Error against the concept target (paper Figs. 12, 14)


def error_vs_target(target, mse, colors, xlabel, r2):
    """Reconstruction error against similarity to the concept, with the fit's R²."""
    fig = figure(THIRD, 1.65)
    ax = fig.add_subplot()
    alpha = 0.1 + 0.9 * (np.clip(target, 0, 1) + np.clip(mse / max(mse.max(), 1e-12), 0, 1)) / 2
    rgba = np.concatenate([np.clip(colors, 0, 1), alpha[:, None]], axis=1)
    ax.scatter(target, mse, s=2, c=rgba, rasterized=True, linewidths=0)
    slope, intercept = np.polyfit(target, mse, 1)
    xs = np.array([target.min(), target.max()])
    ax.plot(xs, slope * xs + intercept, "k--", lw=0.7, label=f"$R^2 = {r2:.3f}$")
    ax.set_xlabel(xlabel, labelpad=1)
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.set_ylabel("MSE", labelpad=3)
    ax.legend(loc="upper left", handlelength=1.5)
    return fig


# ---------------------------------------------------------------------------------------------
# Schedules and training curves (paper Fig. 7)


def dopesheet(realized: dict[str, list[float]], keys: dict[str, list[tuple[int, float]]],
              val_history: list[dict], train_loss: np.ndarray):
    """Regulariser weights, learning rate, and the selected run's losses against the step."""
    fig = figure(FULL, 2.35)
    a1, a2, a3 = fig.subplots(3, 1, sharex=True, height_ratios=(2, 0.8, 1.6))
    steps = np.arange(len(realized["lr"]))
    top = 0.0
    for name, values in realized.items():
        ax = a2 if name == "lr" else a1
        ax.plot(steps, values, lw=1.1, color=track_color(name), label=tex_label(name))
        ks = keys.get(name, [])
        ax.plot([k for k, _ in ks], [v for _, v in ks], "o", ms=2.6, mfc="black", mec="white", mew=0.4, zorder=3)
        if name != "lr":
            top = max(top, max(values))
    a1.set_ylim(-0.04 * top, 1.2 * top)
    a2.set_ylim(-0.01, 1.25 * max(realized["lr"]))
    a1.set_ylabel("weight")
    a2.set_ylabel("LR")
    a3.plot(np.arange(len(train_loss)), train_loss, lw=0.4, color="#c8c8c8", label="training loss", zorder=1)
    hist_steps = [h["step"] for h in val_history]
    for k in [k for k in val_history[0] if k != "step"] if val_history else []:
        name = k.removeprefix("val_")
        color = "black" if name == "recon" else track_color(name)
        values = [h[k] if h[k] > 0 else np.nan for h in val_history]  # a log axis: zero is off the scale
        a3.plot(hist_steps, values, "o-", ms=2.2, lw=0.9, color=color, label=tex_label(k))
    a3.set_yscale("log")
    _log_ticks(a3.yaxis, *a3.get_ylim())
    a3.set_ylabel("loss")
    a3.set_xlabel("step")
    a3.set_xlim(0, len(steps) - 1)
    for ax in (a1, a2, a3):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, handlelength=1.4)
    return fig


# ---------------------------------------------------------------------------------------------
# Sweeps (paper Figs. 11, 13)


def _log_axis(ax, v: np.ndarray) -> None:
    """A log x axis around the positive values of v, with legible ticks."""
    ax.set_xscale("log")
    lo, hi = np.nanmin(v[v > 0]), np.nanmax(v)
    ax.set_xlim(lo / 1.4, hi * 1.4)
    _log_ticks(ax.xaxis, lo / 1.4, hi * 1.4)


def _log_ticks(axis, lo: float, hi: float) -> None:
    """Legible log ticks: decades, or 1-2-5 (or every integer) within a short range."""
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 0
    subs = (1.0,) if decades >= 1.8 else (1.0, 2.0, 5.0) if decades >= 0.7 else tuple(range(1, 10))
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    axis.set_major_formatter(LogFormatterSciNotation(base=10, labelOnlyBase=False))
    axis.set_minor_formatter(NullFormatter())


def _jitter(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.22, 0.22, n)


def sweep(runs: list[dict], metrics: dict[str, str], log: set[str], selected: int, pareto: list[int]):
    """Top: each metric over the seeds, a box with every seed on it; bottom: the score against
    each validation loss. The selected seed is a star, the other Pareto members filled dots."""
    names = list(metrics)
    losses = [m for m in names if m != "score"]
    fig = figure(FULL, 2.45)
    gs = fig.add_gridspec(2, max(len(names), len(losses)), height_ratios=(1, 1.7))
    seeds = np.array([r["seed"] for r in runs])
    is_sel = seeds == selected
    is_par = np.isin(seeds, pareto) & ~is_sel
    rest = ~(is_sel | is_par)

    def values(m):
        return np.array([np.nan if r.get(m) is None else float(r[m]) for r in runs])

    for c, m in enumerate(names):
        ax = fig.add_subplot(gs[0, c])
        v = values(m)
        ok = np.isfinite(v)
        ax.boxplot(v[ok], orientation="horizontal", widths=0.6, showfliers=False, medianprops={"color": "black", "lw": 0.8},
                   boxprops={"lw": 0.6}, whiskerprops={"lw": 0.6}, capprops={"lw": 0.6})
        y = 1 + _jitter(len(v))
        ax.scatter(v[rest], y[rest], s=5, facecolors="none", edgecolors=OTHER, linewidths=0.5, zorder=3)
        ax.scatter(v[is_par], y[is_par], s=7, color=PARETO, zorder=4, linewidths=0)
        ax.scatter(v[is_sel], y[is_sel], s=30, marker="*", color=SELECTED, zorder=5, linewidths=0)
        ax.set_yticks([])
        if m in log:
            _log_axis(ax, v)
        ax.set_xlabel(metrics[m], labelpad=1)
    score = values("score")
    first = None
    for c, m in enumerate(losses):
        ax = fig.add_subplot(gs[1, c], sharey=first)
        first = first or ax
        v = values(m)
        ax.scatter(v[rest], score[rest], s=6, facecolors="none", edgecolors=OTHER, linewidths=0.5, label="other seeds")
        ax.scatter(v[is_par], score[is_par], s=9, color=PARETO, linewidths=0, label="Pareto front")
        ax.scatter(v[is_sel], score[is_sel], s=40, marker="*", color=SELECTED, linewidths=0, label="selected")
        if m in log:
            _log_axis(ax, v)
        ax.set_xlabel(metrics[m], labelpad=1)
        if c == 0:
            ax.set_ylabel(metrics["score"])
        else:
            ax.tick_params(labelleft=False)
    handles = [Line2D([], [], ls="", marker="o", mfc="none", mec=OTHER, ms=3.5, label="other seeds"),
               Line2D([], [], ls="", marker="o", color=PARETO, ms=3.5, label="Pareto front"),
               Line2D([], [], ls="", marker="*", color=SELECTED, ms=7, label=f"selected (seed {selected})")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    return fig


# ---------------------------------------------------------------------------------------------
# Interventions on 2-D unit vectors (paper Figs. 9, 10)


def _circle(ax):
    ax.add_patch(mpatches.Circle((0, 0), 1, fill=False, color="#999999", lw=0.5))
    ax.annotate("", xy=(1.28, 0), xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "lw": 0.6, "color": "black",
                                                            "mutation_scale": 6})
    ax.text(1.3, 0.08, r"$\hat v$", fontsize=7)
    ax.set_aspect("equal")
    ax.set_xlim(-1.3, 1.45)
    ax.set_ylim(-1.3, 1.3)
    ax.axis("off")


def suppression_lobes(configs: dict[str, tuple[Callable, Callable]]):
    """configs: title -> (strength h(alpha), map z -> z'). Top: each unit vector joined to its
    suppressed image (blue), the strength as a lobe (orange); bottom: strength against alignment."""
    fig = figure(FULL, 2.75)
    _layout(fig).set(wspace=0.09)
    axes = fig.subplots(2, len(configs), height_ratios=(1.35, 1))
    theta = np.linspace(-np.pi, np.pi, 73)
    z = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    fine = np.linspace(-np.pi, np.pi, 721)
    alpha = np.linspace(-1, 1, 401)
    for c, (title, (strength, fn)) in enumerate(configs.items()):
        ax = axes[0, c]
        _circle(ax)
        h = strength(np.clip(np.cos(fine), 0, 1)) * (np.cos(fine) > 0)
        ax.fill(h * np.cos(fine), h * np.sin(fine), color="#ff7f0e", alpha=0.35, lw=0)
        ax.plot(h * np.cos(fine), h * np.sin(fine), color="#ff7f0e", lw=0.7)
        out = fn(z)
        for a, b in zip(z, out):
            ax.plot([a[0], b[0]], [a[1], b[1]], color="#888888", lw=0.4)
        ax.plot(out[:, 0], out[:, 1], ".", ms=2.2, color="#1f77b4")
        ax.set_title(title, fontsize=7)
        ax = axes[1, c]
        ax.plot(alpha, strength(np.clip(alpha, 0, 1)) * (alpha > 0), color="#ff7f0e", lw=1.1)
        _lobe_profile_axes(ax, c, (-0.05, 1.1), r"alignment $\hat z\cdot\hat v$", r"strength $h$")
    return fig


def repulsion_lobes(configs: dict[str, tuple[Callable, Callable]]):
    """configs: title -> (mapping m(alpha), map z -> z'). Top: each unit vector joined to its
    rotated image along a chord; bottom: m against alignment, the shaded gap the reduction."""
    fig = figure(FULL, 2.75)
    _layout(fig).set(wspace=0.09)
    axes = fig.subplots(2, len(configs), height_ratios=(1.35, 1))
    theta = np.linspace(-np.pi, np.pi, 73)
    z = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    alpha = np.linspace(-1, 1, 401)
    for c, (title, (mapping, fn)) in enumerate(configs.items()):
        ax = axes[0, c]
        _circle(ax)
        out = fn(z)
        moved = np.linalg.norm(out - z, axis=1) > 1e-6
        for a, b in zip(z[moved], out[moved]):
            ax.plot([a[0], b[0]], [a[1], b[1]], color="#888888", lw=0.4)
        ax.plot(out[:, 0], out[:, 1], ".", ms=2.2, color="#1f77b4")
        ax.set_title(title, fontsize=7)
        ax = axes[1, c]
        m = mapping(alpha)
        ax.plot(alpha, alpha, color="#999999", lw=0.5, ls="--")
        ax.fill_between(alpha, m, alpha, where=alpha > m, color="#ff7f0e", alpha=0.35, lw=0)
        ax.plot(alpha, m, color="#1f77b4", lw=1.1)
        _lobe_profile_axes(ax, c, (-1.05, 1.05), r"alignment $\alpha$", r"$m(\alpha)$")
    return fig


def _lobe_profile_axes(ax, column: int, ylim: tuple[float, float], xlabel: str, ylabel: str) -> None:
    """The lobes' bottom row: one y label for the row, at its left."""
    ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel, labelpad=1)
    if column == 0:
        ax.set_ylabel(ylabel)
    else:
        ax.tick_params(labelleft=False)


# ---------------------------------------------------------------------------------------------
# The RGB training cube (paper Fig. 8)


def rgb_cube(colors: np.ndarray):
    """Two orthographic views of the cube with its black-white diagonal vertical: from the warm
    side (red at the centre) and from the cool side (cyan at the centre)."""
    fig = figure(FULL * 0.7, 2.3)
    axes = fig.subplots(1, 2)
    up = np.ones(3) / math.sqrt(3)
    corners = {"K": (0, 0, 0), "R": (1, 0, 0), "G": (0, 1, 0), "B": (0, 0, 1), "Y": (1, 1, 0), "C": (0, 1, 1),
               "M": (1, 0, 1), "W": (1, 1, 1)}
    for ax, (facing, title) in zip(axes, (((1, 0, 0), "front (warm)"), ((0, 1, 1), "back (cool)"))):
        toward = np.asarray(facing, float) - 0.5
        toward = toward - (toward @ up) * up
        toward /= np.linalg.norm(toward)  # horizontal direction to the viewer
        right = np.cross(up, toward)
        p = colors - 0.5
        x, y, d = p @ right, p @ up, p @ toward
        order = np.argsort(d, kind="stable")
        ax.scatter(x[order], y[order], s=30, c=colors[order], edgecolors="#00000030", linewidths=0.3,
                   rasterized=True)
        for name, c in corners.items():
            pc = np.asarray(c, float) - 0.5
            if pc @ toward < -0.3:
                continue  # hidden behind the cube
            out = np.array([pc @ right, pc @ up])
            out = out / (np.linalg.norm(out) or 1)
            ax.annotate(name, (pc @ right, pc @ up), xytext=(8 * out[0], 8 * out[1]), textcoords="offset points",
                        fontsize=6.5, ha="center", va="center", color="#333333",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
        ax.set_aspect("equal")
        ax.set_xlim(-0.92, 0.92)
        ax.set_ylim(-0.98, 0.98)
        ax.axis("off")
        ax.set_title(title, fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------------
# The authors' follow-up (sca2)


def followup_strips(panels: list[tuple[str, list[tuple[str, np.ndarray]], dict[str, tuple[float, str]],
                                       list[tuple[float, str]]]]):
    """One strip plot per panel: per condition every run's value (dots), its median (a bar), and
    the follow-up's printed value where it printed one (a diamond: median, or mean with an open
    marker); reference lines (value, label) across. panels: (axis label, [(condition, values)],
    {condition: (printed value, "median" | "mean")}, [(reference, label)])."""
    fig = figure(FULL, 1.75 * len(panels))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (label, conditions, printed, references) in zip(axes, panels):
        for i, (name, values) in enumerate(conditions):
            v = np.asarray(values, dtype=float)
            ax.scatter(i + _jitter(len(v), i), v, s=5, facecolors="none", edgecolors=OTHER, linewidths=0.5, zorder=3)
            ax.plot([i - 0.3, i + 0.3], [np.median(v)] * 2, color="black", lw=1.0, zorder=4)
            if name in printed:
                value, what = printed[name]
                ax.scatter([i + 0.38], [value], s=22, marker="D", zorder=5, linewidths=0.8,
                           facecolors=SELECTED if what == "median" else "none", edgecolors=SELECTED)
        for k, (value, text) in enumerate(sorted(references)):  # the lower label below its line
            ax.axhline(value, color="#777777", lw=0.6, ls="--", zorder=1)
            below = k == 0 and len(references) > 1
            ax.annotate(text, (len(conditions) - 0.5, value), xytext=(2, -1 if below else 1), textcoords="offset points",
                        fontsize=6, color="#555555", va="top" if below else "bottom", ha="right")
        ax.set_xticks(range(len(conditions)), [c for c, _ in conditions], fontsize=6.5)
        ax.set_xlim(-0.6, len(conditions) - 0.4)
        ax.set_ylabel(label)
    handles = [Line2D([], [], ls="", marker="o", mfc="none", mec=OTHER, ms=3.5, label="our runs"),
               Line2D([], [], color="black", lw=1.0, label="our median"),
               Line2D([], [], ls="", marker="D", color=SELECTED, ms=4, label="their median"),
               Line2D([], [], ls="", marker="D", mfc="none", mec=SELECTED, ms=4, label="their mean")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4)
    return fig


def failure_timing(steps: np.ndarray, runs: list[tuple[np.ndarray, str]], lr: np.ndarray, plateau: tuple[int, int]):
    """sca2 ex-2.9.3's 'when failures happen': per run, pure red's alignment with its anchor (top)
    and the leak (bottom) over training, clean runs in grey and failing ones in colour, with the
    learning rate's plateau shaded and the 0.9 / 0.7 lines that define anchored and lost.
    runs: (points [steps, 3], health)."""
    colors = {"catastrophic": SELECTED, "degraded": "#ff7f0e"}
    fig = figure(FULL, 3.4)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for ax in (top, bottom):
        ax.axvspan(*plateau, color="#f2e6c9", zorder=0, lw=0)
    for points, health in sorted(runs, key=lambda r: r[1] != "clean", reverse=False):
        c = colors.get(health, "#bbbbbb")
        lw, z = (0.9, 3) if health != "clean" else (0.4, 2)
        top.plot(steps, points[:, 0], color=c, lw=lw, zorder=z)
        bottom.plot(steps, points[:, 1], color=c, lw=lw, zorder=z)
    for y in (0.9, 0.7):
        top.axhline(y, color="#777777", lw=0.5, ls="--", zorder=1)
    top.set_ylabel("pure red's alignment\n$z\\cdot e_0$")
    bottom.set_ylabel("leak")
    bottom.set_xlabel("step")
    right = top.twinx()
    right.plot(np.arange(len(lr)), lr, color="#1f77b4", lw=0.6, ls=":")
    right.set_ylabel("learning rate", color="#1f77b4")
    right.tick_params(axis="y", colors="#1f77b4")
    handles = [Line2D([], [], color="#bbbbbb", lw=0.8, label="clean"),
               Line2D([], [], color=colors["degraded"], lw=1.0, label="degraded (leak)"),
               Line2D([], [], color=colors["catastrophic"], lw=1.0, label="catastrophic"),
               Line2D([], [], color="#1f77b4", lw=0.8, ls=":", label="learning rate")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4)
    return fig
