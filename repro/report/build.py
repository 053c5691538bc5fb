"""`repro paper`: results -> figures and tables -> paper/build/main.pdf, redoing only what changed.

1. collect: each experiment's sweep and selected run (computed only if missing);
2. the verification (`repro verify`: float-noise bands, every number, every claim; cached, so
   seconds when nothing changed), written to results/verification.json;
3. figures (PGF + PNG preview; each redrawn only when the stamp of its inputs changed) and
   tables (Jinja2), written into figures/ and tables/;
4. LaTeX, in a fresh directory seeded with the last good build's auxiliary files; the PDF is
   moved into place only when the build succeeded, so a killed or failed build never leaves a
   truncated paper/build/main.pdf nor damaged files that a later build would read. When none of
   its inputs changed since the last build, LaTeX does not run at all. A fixed
   SOURCE_DATE_EPOCH and \\pdftrailerid{} make rebuilds byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from repro.base.errors import ReproError
from repro.report.collect import (
    Experiment, Layout, collect, read_layout, read_registry, read_verification, run_verification,
)
from repro.base.paths import figures_dir, paper_dir, tables_dir
from repro.report.tables import keyframes, write_tables

SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01, fixed so rebuilds are byte-identical
LATEXMK = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
TEX_PACKAGES = ("texlive-latex-base texlive-latex-recommended texlive-pictures texlive-science "
                "texlive-fonts-recommended lmodern latexmk")
AUX = (".aux", ".toc", ".lof", ".lot", ".out")  # carried from one good build to the next
# Interventions the paper shows in its results figures; the others get a figure of their own.
MAIN_KINDS = ("suppression", "subspace-suppression", "ablation")


def _log(msg: str) -> None:
    import click

    click.echo(msg, err=True)


# ---------------------------------------------------------------------------------------------
# The generated LaTeX


def _write_if_changed(path: Path, text: str) -> None:
    from repro.store.results import atomic_write_text

    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)


def _context(e: Experiment, figs: dict, layout: Layout) -> dict:
    ivs = e.spec.interventions
    main = sorted((n for n in ivs if ivs[n].kind in MAIN_KINDS), key=lambda n: MAIN_KINDS.index(ivs[n].kind))
    text = paper_dir() / "sections" / f"{e.name}.tex"
    return {"e": e, "figs": figs, "titles": {"baseline": "Baseline", **{n: e.intervention_name(n) for n in ivs}},
            "main_panels": ["baseline", *main], "extra_panels": [n for n in ivs if n not in main],
            "note": e.layout.caption, "extras_note": e.layout.extras_caption,
            "keyframes": keyframes(e), "tables": [t.id for t in layout.tables if t.place == e.name],
            "text": f"sections/{e.name}.tex" if text.exists() else None}


def write_sections(data: dict[str, Experiment], figs: dict[str, dict], layout: Layout, out: Path) -> list[str]:
    """Write each experiment's LaTeX section; returns the files written."""
    from repro.report.latex import render

    xs = [_context(e, figs[name], layout) for name, e in data.items()]
    first = next((x for x in xs if x["e"].layout.main), xs[0])
    first_label = f"fig:{first['e'].name}-results"
    files = {
        "results-main.tex": render("results-main.tex.j2", main=[x for x in xs if x["e"].layout.main],
                                   first_label=first_label, tables=[t.id for t in layout.tables if t.place == "main"]),
        "experiments.tex": render("experiments.tex.j2", experiments=xs, first_label=first_label),
        "colour-tables.tex": render("colour-tables.tex.j2", names=list(data)),
    }
    for name, text in files.items():
        _write_if_changed(out / name, text)
    return list(files)


# ---------------------------------------------------------------------------------------------
# LaTeX


def _check_tex() -> None:
    missing = [t for t in ("pdflatex", "latexmk") if shutil.which(t) is None]
    if missing:
        raise ReproError(f"{', '.join(missing)} not found. Install TeX Live, e.g. on Debian/Ubuntu: "
                         f"apt-get install -y --no-install-recommends {TEX_PACKAGES}")


def latex_errors(log: Path) -> str:
    """The failing file:line and message from a LaTeX log, not the whole log."""
    if not log.exists():
        return f"(no log at {log})"
    text = log.read_text(errors="replace")
    found = re.findall(r"^(\S+\.(?:tex|pgf|sty|cls):\d+: .*)$", text, re.M)
    if found:
        return "\n".join(found[:5])
    lines = text.splitlines()
    bang = [i for i, line in enumerate(lines) if line.startswith("!")]
    return "\n".join("\n".join(lines[i:i + 3]) for i in bang[:3]) or "(see " + str(log) + ")"


def inputs_digest(files: list[Path]) -> str:
    """What the PDF is made from: the sources' names and bytes, the TeX engine and the command."""
    h = hashlib.sha256()
    engine = subprocess.run(["pdflatex", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    h.update(f"{engine}\0{' '.join(LATEXMK)}\0{SOURCE_DATE_EPOCH}\0".encode())
    for f in sorted(set(files)):
        h.update(f"{f.name}\0".encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _stale_work_dirs(build: Path) -> list[Path]:
    """Work directories left by builds whose process is gone (killed, or the machine restarted)."""
    stale = []
    for d in build.glob(".work-*"):
        try:
            pid = int(d.name.split("-")[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            stale.append(d)
        except PermissionError:
            pass  # another user's live process
    return stale


def compile_pdf(sources: list[Path], log: Callable[[str], None] = _log) -> Path:
    """paper/build/main.pdf from paper/main.tex; skipped when `sources` are unchanged since the
    last successful build."""
    _check_tex()
    src = paper_dir()
    build = src / "build"
    build.mkdir(parents=True, exist_ok=True)
    pdf, digest_file, aux = build / "main.pdf", build / "main.inputs", build / "aux"
    digest = inputs_digest([src / "main.tex", *sources])
    if pdf.exists() and digest_file.exists() and digest_file.read_text().strip() == digest:
        log("paper: no input changed since the last build")
        return pdf
    for d in _stale_work_dirs(build):
        shutil.rmtree(d, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".work-{os.getpid()}-", dir=build))
    try:
        if aux.is_dir():  # the last good build's cross-references: usually one LaTeX pass, not three
            for f in aux.iterdir():
                if f.suffix in AUX:
                    shutil.copy2(f, work / f.name)
        env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "FORCE_SOURCE_DATE": "1",
               "TEXINPUTS": f"{src}:{tables_dir()}:{figures_dir()}:"}
        t0 = time.perf_counter()
        out = subprocess.run([*LATEXMK, f"-outdir={work}", "main.tex"], cwd=src, env=env, capture_output=True, text=True,
                             errors="replace")
        if out.returncode != 0 or not (work / "main.pdf").exists():
            if (work / "main.log").exists():
                shutil.copy2(work / "main.log", build / "main.log")
            raise ReproError("LaTeX failed (log: paper/build/main.log):\n" + latex_errors(work / "main.log"))
        os.replace(work / "main.pdf", pdf)
        from repro.store.results import atomic_write_text

        atomic_write_text(digest_file, digest + "\n")
        shutil.copy2(work / "main.log", build / "main.log")
        old = build / f".old-aux-{os.getpid()}"
        if aux.exists():
            os.replace(aux, old)
        os.replace(work, aux)
        shutil.rmtree(old, ignore_errors=True)
        log(f"LaTeX: {time.perf_counter() - t0:.1f}s")
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return pdf


# ---------------------------------------------------------------------------------------------


def write_front(data: dict[str, Experiment], out: Path) -> list[str]:
    """tables/front.tex (claims, fidelity, provenance and differences), tables/history.tex
    (upstream's earlier runs) and tables/followup.tex (the authors' follow-up), from the
    verification report."""
    from repro.report.collect import read_verification_report
    from repro.report.front import earlier_runs, followup, front_matter

    report = read_verification_report()
    _write_if_changed(out / "front.tex", front_matter(report, data))
    _write_if_changed(out / "history.tex", earlier_runs(report, data))
    _write_if_changed(out / "followup.tex", followup(report))
    return ["front.tex", "history.tex", "followup.tex"]


def build(jobs: int | None = None, log: Callable[[str], None] = _log) -> Path:
    """Build the report: collect, verify, draw, tabulate and compile; returns the PDF's path."""
    import json

    from repro.report import plots as FG
    from repro.base import machine
    from repro.fidelity.registry import load_registry
    from repro.report.figures import (Painter, common_figures, experiment_figures, followup_figures,
                                      followup_timing)
    from repro.base.display import Stages
    from repro.store.results import atomic_write_text
    from repro.base.paths import ROOT
    from repro.store.layout import timings_file

    if not (paper_dir() / "report.toml").is_file():  # e.g. installed from a wheel, outside a checkout
        raise ReproError(f"repro paper builds the report from a checkout's LaTeX sources, and {paper_dir()} has no "
                         "report.toml: run it in a clone of the repository, or set REPRO_PAPER to a copy of its paper/")
    _check_tex()  # before anything is trained: a missing TeX should not cost the sweeps first
    stages = Stages()
    layout = read_layout()
    with stages.stage("sweeps and selected runs"):
        data = collect(layout, jobs, log)
    with stages.stage("verification (numbers and claims)"):
        verification = read_verification(run_verification(data, jobs, log, stages))  # cached: seconds when nothing changed
    stale = verification.stale(data)
    if stale:
        log(f"warning: results/verification.json checked other models of {', '.join(stale)}; "
            "run `repro verify` to check these")
    registry = read_registry()
    figs_out, tables_out = figures_dir(), tables_dir()
    tables_out.mkdir(parents=True, exist_ok=True)
    paint = Painter(figs_out, log)
    with stages.stage("figures"), FG.style(), machine.pinned():
        common_figures(paint)
        figs = {name: experiment_figures(e, paint) for name, e in data.items()}
        followup_figures(paint, load_registry().statistics, jobs, log)
        followup_timing(paint, log)
    with stages.stage("tables and sections"):
        tables = write_tables(data, layout, registry, verification, tables_out)
        tables += write_front(data, tables_out)
        tables += write_sections(data, figs, layout, tables_out)
    sources = [tables_out / t for t in tables]
    for s in paint.stems:
        sources += [figs_out / f"{s}.pgf", *figs_out.glob(f"{s}-img*.png")]
    sources += [p for p in paper_dir().glob("*.tex") if p.name != "main.tex"]
    sources += list((paper_dir() / "sections").glob("*.tex"))
    with stages.stage("LaTeX"):
        pdf = compile_pdf(sources, log)
    log(f"built in {stages.total():.1f}s; where the time went:\n{stages.table()}")
    with machine.pinned():
        env = machine.environment(ROOT)
    atomic_write_text(timings_file(),
                      json.dumps({**stages.as_json(), "jobs": jobs, "environment": env}, indent=1) + "\n")
    return pdf
