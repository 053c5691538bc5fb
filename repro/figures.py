"""Figures for the report: matplotlib's PGF backend (typeset by pdflatex, so fonts match the
document) plus a PNG preview of each. Dense scatter layers are rasterised to keep the PGF small.

Every function takes computed data and returns a matplotlib Figure; `save` writes both files.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.patches as mpatches
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

PREAMBLE = r"\usepackage[T1]{fontenc}\usepackage{lmodern}\usepackage{amsmath}"
STYLE = {
    "pgf.texsystem": "pdflatex", "pgf.rcfonts": False, "pgf.preamble": PREAMBLE,
    "font.family": "serif", "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8,
    "legend.fontsize": 7, "xtick.labelsize": 7, "ytick.labelsize": 7, "savefig.dpi": 200,
    "svg.hashsalt": "repro", "path.simplify": True,
}


def style():
    """The report's matplotlib settings, for the figures drawn inside it; the caller's rcParams
    are restored on exit (importing this module changes no global state: no pyplot, no backend)."""
    return matplotlib.rc_context(STYLE)


def subplots(nrows: int = 1, ncols: int = 1, *, figsize, **kw):
    """pyplot.subplots without pyplot's global figure registry."""
    fig = Figure(figsize=figsize, constrained_layout=True)
    return fig, fig.subplots(nrows, ncols, **kw)


def tex_label(text: str) -> str:
    """Plain text safe for LaTeX-typeset labels (underscores and friends escaped)."""
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def save(fig, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    # Not with_suffix: experiment names contain dots ("ex-2.4.1-results-baseline").
    pgf, png = stem.parent / f"{stem.name}.pgf", stem.parent / f"{stem.name}.png"
    fig.savefig(pgf, backend="pgf")
    fig.savefig(png, dpi=110, metadata={"Software": None})
    return [pgf, png]


# ---------------------------------------------------------------------------------------------
# Stacked results: latent panels, colour slice, error against hue


def _cone_outline(direction: np.ndarray, half_angle: float, dims: tuple[int, int], n: int = 361) -> np.ndarray:
    """The cone's base circle on the unit sphere, projected onto two latent dims: [n, 2]."""
    u = direction / np.linalg.norm(direction)
    basis = np.linalg.svd(u[None, :])[2][1:]  # orthonormal complement of u, rows
    t = np.linspace(0, 2 * np.pi, n)
    pts = np.cos(half_angle) * u[None, :] + np.sin(half_angle) * (
        np.cos(t)[:, None] * basis[0][None, :] + np.sin(t)[:, None] * basis[1 % len(basis)][None, :])
    return pts[:, list(dims)]


def latent_panel(ax, latents, recon, true, dims, cones=()):
    i, j, k = dims
    depth = latents[:, k] if k is not None else np.zeros(len(latents))
    order = np.argsort(depth)
    x = latents[order, i] if i is not None else np.zeros(len(latents))
    y = latents[order, j] if j is not None else np.zeros(len(latents))
    ax.add_patch(mpatches.Circle((0, 0), 1, color="#eeeeee", zorder=0))
    ax.scatter(x, y, s=4, c=np.clip(true[order], 0, 1), edgecolors=np.clip(recon[order], 0, 1),
               linewidths=0.6, rasterized=True, zorder=1)
    ax.add_patch(mpatches.Circle((0, 0), 1, fill=False, color="#00000055", lw=0.8, zorder=2))
    for direction, half_angle, dashed in cones:
        if half_angle <= 0:
            continue
        pts = _cone_outline(np.asarray(direction, float), half_angle, (i if i is not None else 0, j if j is not None else 0))
        ax.plot(pts[:, 0], pts[:, 1], color="black", lw=0.75, ls=(0, (4, 3)) if dashed else "-", zorder=3)
    ax.set_xlim(-1.08, 1.08)
    ax.set_ylim(-1.08, 1.08)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"dims ({', '.join('-' if d is None else str(d) for d in dims)})", fontsize=7)


def stacked_results(title, latents, recon, true, slice_recon, slice_true, slice_values, hues,
                    loss_hues, loss_curves, loss_colors, max_error, latent_dims, cones=()):
    """slice_*: [V, H, 3] at S = 1; loss_curves: {V: mse[H]} at S = 1; loss_colors [H, 3]."""
    fig = Figure(figsize=(4.6, 5.0), constrained_layout=True)
    gs = fig.add_gridspec(3, 2, height_ratios=(2.5, 1.5, 1.3))
    for c, dims in enumerate(latent_dims):
        latent_panel(fig.add_subplot(gs[0, c]), latents, recon, true, dims, cones)
    ax = fig.add_subplot(gs[1, :])
    nv, nh = slice_recon.shape[:2]
    ax.imshow(np.clip(slice_recon, 0, 1), origin="lower", aspect="auto", extent=(-0.5, nh - 0.5, -0.5, nv - 0.5),
              interpolation="nearest")
    for v in range(nv):
        for h in range(nh):
            ax.add_patch(mpatches.Rectangle((h - 0.15, v - 0.15), 0.3, 0.3, color=np.clip(slice_true[v, h], 0, 1), lw=0))
    ax.set_yticks(range(nv), [f"{x:g}" for x in slice_values])
    ax.set_ylabel("value")
    ax.set_xticks([])
    ax.set_title("reconstruction (cell) and true colour (inset), saturation 1", fontsize=7)
    ax = fig.add_subplot(gs[2, :])
    for mse in loss_curves.values():
        pts = np.stack([loss_hues, mse], axis=1)
        segs = np.stack([pts[:-1], pts[1:]], axis=1)
        ax.add_collection(LineCollection(segs, colors=np.clip(loss_colors[:-1], 0, 1), linewidths=1.2, capstyle="round"))
    ax.set_xlim(loss_hues[0], loss_hues[-1])
    ax.set_ylim(0, max_error * 1.05 if max_error > 0 else 1)
    ax.set_xticks([0, 1 / 3, 2 / 3, 1], ["red", "green", "blue", "red"])
    ax.set_ylabel("MSE")
    fig.suptitle(tex_label(title), fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Other figure types


def error_vs_target(title, target, mse, colors, xlabel, r2):
    fig, ax = subplots(figsize=(3.0, 2.6))
    alpha = 0.1 + 0.9 * (np.clip(target, 0, 1) + np.clip(mse / max(mse.max(), 1e-12), 0, 1)) / 2
    rgba = np.concatenate([np.clip(colors, 0, 1), alpha[:, None]], axis=1)
    ax.scatter(target, mse, s=2, c=rgba, rasterized=True, linewidths=0)
    slope, intercept = np.polyfit(target, mse, 1)
    xs = np.array([target.min(), target.max()])
    ax.plot(xs, slope * xs + intercept, "k--", lw=0.8, label=f"$R^2 = {r2:.3f}$")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("MSE")
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(tex_label(title))
    return fig


def dopesheet_plot(title, realized: dict[str, list[float]], keys: dict[str, list[tuple[int, float]]]):
    fig, (a1, a2) = subplots(2, 1, figsize=(4.6, 2.2), sharex=True, height_ratios=(3, 1))
    steps = np.arange(len(realized["lr"]))
    for name, values in realized.items():
        ax = a2 if name == "lr" else a1
        line, = ax.plot(steps, values, lw=1, label=tex_label(name))
        ks = keys.get(name, [])
        ax.plot([k for k, _ in ks], [v for _, v in ks], "o", ms=2.5, color="black", zorder=3)
    a1.set_ylabel("weight")
    a1.legend(frameon=False, ncol=4, loc="upper right")
    a2.set_ylabel("LR")
    a2.set_xlabel("step")
    a1.set_title(tex_label(title))
    return fig


def sweep_boxplots(title, columns: dict[str, list[float]], log: set[str]):
    fig, axes = subplots(1, len(columns), figsize=(4.6, 1.4))
    for ax, (name, values) in zip(np.atleast_1d(axes), columns.items()):
        v = np.asarray([x for x in values if x is not None and math.isfinite(x)])
        if name in log:
            v = np.clip(v, 1e-9, None)
            ax.set_xscale("log")
        ax.boxplot(v, vert=False, widths=0.6, flierprops={"markersize": 2})
        ax.set_yticks([])
        ax.set_xlabel(tex_label(name))
    fig.suptitle(tex_label(title), fontsize=8)
    return fig


def lobes(title, kind_maps: dict[str, callable]):
    """How each intervention moves unit vectors at every angle from the concept (e0): arrows
    from input to output on the unit circle, and the output alignment against the input's."""
    fig, axes = subplots(2, len(kind_maps), figsize=(4.6, 3.6),
                             height_ratios=(1.4, 1))
    theta = np.linspace(-np.pi, np.pi, 73)
    z = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    fine = np.linspace(-1, 1, 401)
    for c, (name, fn) in enumerate(kind_maps.items()):
        out = fn(z)
        ax = axes[0, c]
        ax.add_patch(mpatches.Circle((0, 0), 1, fill=False, color="#999999", lw=0.6))
        for a, b in zip(z, out):
            ax.plot([a[0], b[0]], [a[1], b[1]], color="#d95f02", lw=0.5)
        ax.plot(out[:, 0], out[:, 1], ".", ms=2, color="#1b9e77")
        ax.annotate("", xy=(1.15, 0), xytext=(0, 0), arrowprops={"arrowstyle": "->", "lw": 0.8})
        ax.set_aspect("equal")
        ax.set_xlim(-1.25, 1.25)
        ax.set_ylim(-1.25, 1.25)
        ax.axis("off")
        ax.set_title(tex_label(name))
        zf = np.stack([fine, np.sqrt(1 - fine**2)], axis=1)
        ax = axes[1, c]
        ax.plot(fine, fine, color="#999999", lw=0.6, ls="--")
        ax.plot(fine, fn(zf)[:, 0], color="#1b9e77", lw=1)
        ax.set_xlabel("alignment before")
        ax.set_ylabel("alignment after")
    fig.suptitle(tex_label(title), fontsize=8)
    return fig


def rgb_cube(colors: np.ndarray):
    fig = Figure(figsize=(4.6, 2.3), constrained_layout=True)
    for c, azim in enumerate((45, 225)):
        ax = fig.add_subplot(1, 2, c + 1, projection="3d")
        ax.scatter(colors[:, 0], colors[:, 1], colors[:, 2], c=colors, s=8, depthshade=False, rasterized=True)
        ax.view_init(elev=25, azim=azim)
        ax.set_xlabel("R")
        ax.set_ylabel("G")
        ax.set_zlabel("B")
        ax.set_title("front" if c == 0 else "back")
    return fig
