"""`repro paper`: results -> tables and figures -> paper/build/main.pdf, redoing only what changed.

1. every experiment's selected seed and sweep (cached by hash; run only when missing);
2. `repro verify` (results/verification.json, tables/verification.tex);
3. tables (Jinja2 -> tables/*.tex) and figures (PGF + PNG -> figures/), each skipped when a
   stamp of its inputs is unchanged;
4. latexmk -pdf with a fixed SOURCE_DATE_EPOCH (byte-identical rebuilds).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from repro import colors as C
from repro.errors import ReproError
from repro.spec import ROOT, Spec, load_spec

PAPER_EXPERIMENTS = ["ex-2.4.1", "ex-2.9.1", "ex-2.5.1", "ex-2.7.1", "ex-2.10.1"]
PREFIX = {"ex-2.4.1": "241", "ex-2.9.1": "291", "ex-2.5.1": "251", "ex-2.7.1": "271", "ex-2.10.1": "2101"}  # registry ids
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01, fixed so rebuilds are byte-identical
TEX_PACKAGES = ("texlive-latex-base texlive-latex-recommended texlive-pictures texlive-science "
                "texlive-fonts-recommended lmodern latexmk")


def figures_dir() -> Path:
    return Path(os.environ.get("REPRO_FIGURES", ROOT / "figures"))


def tables_dir() -> Path:
    return Path(os.environ.get("REPRO_TABLES", ROOT / "tables"))


def paper_dir() -> Path:
    return Path(os.environ.get("REPRO_PAPER", ROOT / "paper"))


def _log(msg: str) -> None:
    import click

    click.echo(msg, err=True)


# ---------------------------------------------------------------------------------------------
# Inputs


def collect(names: list[str], jobs: int | None = None) -> dict[str, dict]:
    """{experiment: {spec, metrics, path, sweep}}: runs and sweeps are computed only if missing."""
    from repro.progress import ProgressLine
    from repro.executors import make_executor
    from repro.runner import run_one
    from repro.sweep import run_sweep

    out = {}
    for name in names:
        spec = load_spec(name)
        path, metrics, reused = run_one(spec, progress=ProgressLine(f"{name} seed {spec.seed}"), log=_log)
        ex = make_executor("local", jobs)
        try:

            sweep_path, summary = run_sweep(spec, executor=ex, progress=_log, log=_log)
        finally:
            ex.shutdown()
        out[name] = {"spec": spec, "metrics": metrics, "path": path, "sweep": summary}
    return out


def _stamp(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _code_hash() -> str:
    """Every module of the package (figures depend on evaluation, interventions, colours...)."""
    pkg = Path(__file__).parent
    return _stamp(*[(p.name, p.read_text()) for p in sorted(pkg.glob("*.py"))])


class Stamps:
    """figures/.stamps.json: inputs hash per output, to skip work whose inputs did not change."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.data = json.loads(path.read_text()) if path.exists() else {}
        except (json.JSONDecodeError, OSError):
            self.data = {}  # a damaged stamp file only means everything is redrawn

    def fresh(self, key: str, stamp: str, outputs: list[Path]) -> bool:
        return self.data.get(key) == stamp and all(p.exists() for p in outputs)

    def set(self, key: str, stamp: str | None) -> None:
        """Record an output's inputs; `None` first, before rewriting it, so that an interrupted
        render is never taken for a fresh one."""
        from repro.results import atomic_write_text

        if stamp is None:
            self.data.pop(key, None)
        else:
            self.data[key] = stamp
        atomic_write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------
# Figures


def _pgf(stem: Path) -> Path:
    return stem.parent / f"{stem.name}.pgf"


def _png(stem: Path) -> Path:
    return stem.parent / f"{stem.name}.png"


def _dims(t):
    return tuple(None if d < 0 else d for d in t)


def experiment_figures(spec: Spec, path: Path, metrics: dict, sweep: dict, stamps: Stamps) -> list[str]:
    """Render the figures of one experiment; returns their stems (relative to figures/)."""
    import torch

    from repro import figures as FG
    from repro.evaluate import concept_target, infer, loss_cube
    from repro.results import load_model

    model = load_model(path.parent, spec)
    code = _code_hash()  # the figure code, the data it is given, and how it is assembled
    stems = []
    latent_rgb = C.rgb_cube(20).reshape(-1, 3)
    hues = C.arange_cyclic(1 / 12)
    slice_cube = C.hsv_cube(hues, np.array([1.0]), np.linspace(0.25, 1, 4))
    loss = loss_cube(spec)
    s_index = loss.s.shape[0] - 1
    v_count = loss.v.shape[0]
    v_rows = list(range(v_count - 1, -1, v_count // -5))[:5]
    sets = {"baseline": (model, None)}
    for name, iv in spec.interventions.items():
        sets[name] = iv.apply(model, torch.Generator().manual_seed(spec.seed))
    max_error = max(metrics["max_error"].values()) or 1.0  # one y scale for all of an experiment's panels
    base_stamp = _stamp(metrics["evaluation_key"], metrics["model_sha256"], code, spec.figures.model_dump())
    for name, (m, z_map) in sets.items():
        stem = figures_dir() / f"{spec.name}-results-{name}"
        key = stem.name
        outputs = [_pgf(stem), _png(stem)]
        stems.append(key)
        if stamps.fresh(key, base_stamp, outputs):
            continue
        lat = infer(m, latent_rgb, z_map, 8192)
        sl = infer(m, slice_cube.rgb, z_map)
        ls = infer(m, loss.rgb, z_map, 8192)
        mse = ls.mse.reshape(loss.shape)
        curves = {float(loss.v[v]): mse[:, s_index, v] for v in v_rows}
        iv = spec.interventions.get(name)
        cones = []
        if iv is not None and iv.kind == "suppression":
            a = math.cos(math.radians(iv.falloff.max_angle))
            cones = [(iv.concept, math.acos(min(1.0, max(-1.0, a))), True)]
        elif iv is not None and iv.kind == "repulsion":
            cones = [(iv.concept, math.radians(iv.mapper.from_angle), True),
                     (iv.concept, math.radians(iv.mapper.to_angle), False)]
        dims = spec.figures.pruned_latent_dims if iv is not None and iv.kind == "pruning" else spec.figures.latent_dims
        stamps.set(key, None)
        fig = FG.stacked_results(
            f"{spec.name} · {name}", lat.latents, lat.recon, latent_rgb,
            sl.recon.reshape(12, 4, 3).transpose(1, 0, 2), slice_cube.rgb[:, 0].transpose(1, 0, 2),
            slice_cube.v, hues, loss.h, curves, loss.rgb[:, s_index, v_rows[0]], max_error,
            [_dims(d) for d in dims], cones)
        stamps.set(stem.name, None)
        FG.save(fig, stem)
        stamps.set(key, base_stamp)
        _log(f"figure {stem.name}")
    # error against the concept target, per intervention
    for name, (m, z_map) in list(sets.items())[1:]:
        iv = spec.interventions[name]
        stem = figures_dir() / f"{spec.name}-error-vs-target-{name}"
        stems.append(stem.name)
        if stamps.fresh(stem.name, base_stamp, [_pgf(stem)]):
            continue
        target = concept_target(latent_rgb, iv.selectivity_against, iv.selectivity_power,
                                spec.evaluation.concept_hsv, spec.evaluation.similarity)
        mse = infer(m, latent_rgb, z_map, 8192).mse
        label = (r"$\mathrm{sim}_\mathrm{red}^{%g}$" if iv.selectivity_against == "similarity"
                 else r"$(s\,v)^{%g}$") % iv.selectivity_power
        fig = FG.error_vs_target(f"{spec.name} · {name}", target, mse, latent_rgb, label,
                                 metrics["selectivity"][name]["r2"])
        stamps.set(stem.name, None)
        FG.save(fig, stem)
        stamps.set(stem.name, base_stamp)
    # the schedule
    stem = figures_dir() / f"{spec.name}-dopesheet"
    stems.append(stem.name)
    sheet_stamp = _stamp(code, spec.sheet.realize())
    if not stamps.fresh(stem.name, sheet_stamp, [_pgf(stem)]):
        realized = spec.sheet.realize()
        keys = {t.name: [(k.step, k.value) for k in t.keys] for t in spec.sheet.tracks}
        stamps.set(stem.name, None)
        FG.save(FG.dopesheet_plot(f"{spec.name} schedule", realized, keys), stem)
        stamps.set(stem.name, sheet_stamp)
    # sweep distributions
    stem = figures_dir() / f"{spec.name}-sweep"
    stems.append(stem.name)
    sweep_stamp = _stamp(code, sweep["runs"], spec.sweep.minimize)
    if not stamps.fresh(stem.name, sweep_stamp, [_pgf(stem)]):
        org = [k for k in spec.sweep.minimize if k != "val_recon"][:1]
        cols = {"score": [r["score"] for r in sweep["runs"]],
                "val_recon": [r.get("val_recon") for r in sweep["runs"]]}
        for k in org:
            cols[k] = [r.get(k) for r in sweep["runs"]]
        stamps.set(stem.name, None)
        FG.save(FG.sweep_boxplots(f"{spec.name}: {len(sweep['runs'])} seeds", cols, {"val_recon", *org}), stem)
        stamps.set(stem.name, sweep_stamp)
    return stems


def common_figures(stamps: Stamps) -> list[str]:
    import torch

    from repro import figures as FG
    from repro.interventions import BoundedFalloff, LinearMapper, Repulsion, Suppression

    code = _code_hash()
    stems = []
    stem = figures_dir() / "intervention-lobes"
    stems.append(stem.name)
    if not stamps.fresh(stem.name, code, [_pgf(stem)]):
        e0 = torch.tensor([1.0, 0.0])
        maps = {
            "suppression": Suppression(e0, BoundedFalloff(math.cos(math.radians(90)), 1.0, 0.0)),
            "soft suppression": Suppression(e0, BoundedFalloff(0.0, 1.0, 2.0)),
            "repulsion": Repulsion(e0, LinearMapper(math.cos(math.radians(90)), 0.5)),
        }

        def wrap(f):
            return lambda z: f(torch.tensor(z, dtype=torch.float32)).numpy()

        stamps.set(stem.name, None)
        FG.save(FG.lobes("Interventions on unit vectors (concept to the right)",
                         {k: wrap(f) for k, f in maps.items()}), stem)
        stamps.set(stem.name, code)
    stem = figures_dir() / "rgb-cube"
    stems.append(stem.name)
    if not stamps.fresh(stem.name, code, [_pgf(stem)]):
        stamps.set(stem.name, None)
        FG.save(FG.rgb_cube(C.rgb_cube(8).reshape(-1, 3)), stem)
        stamps.set(stem.name, code)
    return stems


# ---------------------------------------------------------------------------------------------
# Tables


def published(entries, prefix: str):
    return {e.id: e.value for e in entries if e.id.startswith(prefix)}


def render_tables(data: dict[str, dict], entries) -> list[str]:
    from repro.tables import render

    out = tables_dir()
    out.mkdir(parents=True, exist_ok=True)
    pub = {e.id: e.value for e in entries}
    prec = {e.id: e.precision for e in entries}
    written = []

    def write(name, text):
        (out / name).write_text(text)
        written.append(name)

    for name, d in data.items():
        m = d["metrics"]
        ivs = [k for k in m["max_error"] if k != "baseline"]
        write(f"{name}-colours.tex", render("colours.tex.j2", experiment=name, metrics=m, interventions=ivs,
                                            title=d["spec"].about.title))
    # Table 1: anchored and isolated side by side; Tables 2 and 3: the seven rendered rows.
    rows7 = ["red", "lime", "cyan", "purple", "black", "gray", "white"]

    def cell(exp, row, col):
        m = data[exp]["metrics"]
        r = next(r for r in m["per_color"] if r["name"] == row)
        return r["baseline"] if col == "baseline" else r[col.split(".")[0]]["delta"]

    def side(exp, table_id, cols, rows=rows7):
        return [{"name": r, "hex": next(c.hex for c in C.named_colors() if c.name == r),
                 "cells": [(cell(exp, r, c), pub.get(f"{table_id}.{r.replace(' ', '_')}.{c}")) for c in cols]}
                for r in rows]

    t1a = side("ex-2.4.1", "paper.table1.anchored", ["baseline", "suppression.delta", "ablation.delta"])
    t1i = side("ex-2.9.1", "paper.table1.isolated", ["ablation.delta", "suppression.delta"])
    rows = [{"name": a["name"], "hex": a["hex"], "cells": a["cells"] + b["cells"]} for a, b in zip(t1a, t1i)]
    write("table1.tex", render("paper_table.tex.j2", rows=rows, label="tab:table1",
                               groups=[("Anchored (ex-2.4.1)", 3), ("Isolated (ex-2.9.1)", 2)],
                               headers=["Baseline", r"$\Delta$ Suppression", r"$\Delta$ Ablation",
                                        r"$\Delta$ Ablation", r"$\Delta$ Suppression"],
                               caption="Paper Table 1, reproduced: per-colour reconstruction error of the "
                                       "anchored and isolated models. Baseline is the MSE; the other columns are "
                                       "changes from baseline. Each cell shows the reproduced value and, in grey, "
                                       "the published one."))
    if "ex-2.5.1" in data:
        write("table2.tex", render("paper_table.tex.j2", rows=side("ex-2.5.1", "paper.table2",
                                                                    ["baseline", "suppression.delta", "ablation.delta"]),
                                   label="tab:table2", groups=[("No-vibrant (ex-2.5.1)", 3)],
                                   headers=["Baseline", r"$\Delta$ Suppression", r"$\Delta$ Ablation"],
                                   caption="Paper Table 2, reproduced (red anchor only)."))
    if "ex-2.7.1" in data:
        write("table3.tex", render("paper_table.tex.j2", rows=side(
            "ex-2.7.1", "paper.table3", ["baseline", "subspace_suppression.delta", "ablation.delta"]),
            label="tab:table3", groups=[("Hue subspace (ex-2.7.1)", 3)],
            headers=["Baseline", r"$\Delta$ Subspace suppr.", r"$\Delta$ Ablation"],
            caption="Paper Table 3, reproduced (hue subspace removed)."))
    sweeps = []
    for name, d in data.items():
        s = d["sweep"]
        prefix = PREFIX[name]
        rows_s = []
        for metric in ["score", *d["spec"].sweep.minimize, *[k for k in s["stats"] if k.startswith("labels/")
                                                            and not k.startswith("labels/total")]]:
            st = s["stats"].get(metric)
            if st is None:
                continue
            ids = [f"{prefix}.sweep.{metric.replace('/', '.')}.{k}" for k in ("min", "max", "mean", "std")]
            # A published value is shown at the precision it was printed with.
            rows_s.append({"metric": metric, "stats": [
                (st[k], None if i not in pub else f"{pub[i]:.{min(prec[i], 4)}f}")
                for k, i in zip(("min", "max", "mean", "std"), ids)]})
        sweeps.append({"experiment": name, "rows": rows_s, "selected": s["selected_seed"],
                       "selected_pub": pub.get(f"{prefix}.sweep.selected_seed"), "pareto": s["pareto_count"],
                       "pareto_pub": pub.get(f"{prefix}.sweep.pareto_count"), "n": len(s["seeds"])})
    write("sweeps.tex", render("sweeps.tex.j2", sweeps=sweeps))
    label_rows = []
    for name, d in data.items():
        prefix = PREFIX[name]
        for label in d["spec"].labels:
            st = d["sweep"]["stats"].get(f"labels/{label}")
            if st is None:
                continue
            label_rows.append({
                "experiment": name, "label": label, "selected": d["metrics"]["label_counts"].get(label, 0),
                "selected_pub": pub.get(f"{prefix}.labels.{label}"), "mean": st["mean"], "std": st["std"],
                "mean_pub": pub.get(f"{prefix}.sweep.labels.{label}.mean"),
                "std_pub": pub.get(f"{prefix}.sweep.labels.{label}.std")})
    total = next(iter(data.values()))["metrics"]["label_counts"]["total"]
    steps = next(iter(data.values()))["metrics"]["steps"]
    n_seeds = len(next(iter(data.values()))["sweep"]["seeds"])
    write("labels.tex", render("labels.tex.j2", rows=label_rows, total=total, steps=steps, n_seeds=n_seeds))
    return written


# ---------------------------------------------------------------------------------------------
# LaTeX


def _check_tex() -> None:
    missing = [t for t in ("pdflatex", "latexmk") if shutil.which(t) is None]
    if missing:
        raise ReproError(f"{', '.join(missing)} not found. Install TeX Live, e.g. on Debian/Ubuntu: "
                         f"apt-get install -y --no-install-recommends {TEX_PACKAGES}")


def compile_pdf() -> Path:
    _check_tex()
    src = paper_dir()
    build = src / "build"
    build.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "FORCE_SOURCE_DATE": "1",
           "TEXINPUTS": f"{src}:{tables_dir()}:{figures_dir()}:"}
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
           f"-outdir={build}", "main.tex"]
    out = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise ReproError("LaTeX failed:\n" + latex_errors(build / "main.log"))
    return build / "main.pdf"


def latex_errors(log: Path) -> str:
    """The failing file:line and message from a LaTeX log, not the whole log."""
    if not log.exists():
        return f"(no log at {log})"
    text = log.read_text(errors="replace")
    found = re.findall(r"^(\S+\.(?:tex|pgf|sty|cls):\d+: .*)$", text, re.M)
    if found:
        return "\n".join(found[:5])
    bang = [i for i, line in enumerate(text.splitlines()) if line.startswith("!")]
    lines = text.splitlines()
    return "\n".join("\n".join(lines[i:i + 3]) for i in bang[:3]) or "(see " + str(log) + ")"


def build(names: list[str] | None = None, jobs: int | None = None) -> Path:
    from repro import verify as V
    from repro.results import results_dir

    names = names or PAPER_EXPERIMENTS
    t0 = time.perf_counter()
    data = collect(names, jobs)
    entries = V.load_registry()
    checks = V.verify(entries, V.default_source())
    counts = V.write_report(checks, results_dir(), tables_dir())
    _log(f"verify: checked {counts['checked']}, passed {counts['passed']}, failed {counts['failed']}, "
         f"known discrepancies {counts['known_discrepancies']}")
    from repro import figures as FG
    from repro import machine

    stamps = Stamps(figures_dir() / ".stamps.json")
    with FG.style(), machine.pinned():
        stems = common_figures(stamps)
        for _name, d in data.items():
            stems += experiment_figures(d["spec"], d["path"], d["metrics"], d["sweep"], stamps)
    render_tables(data, entries)
    from repro.tables import render

    (tables_dir() / "experiments.tex").write_text(render("experiments.tex.j2", data=data, counts=counts))
    pdf = compile_pdf()
    _log(f"built in {time.perf_counter() - t0:.1f}s")
    return pdf
