"""The report's tables: the paper's Tables 1-3 and each experiment's 17 colours (laid out by
paper/report.toml from the registry's published tables), the selected runs and sweeps, the
resolved keyframes, and the verification listing.

Every cell shows the reproduced value above the published one, at three significant figures
with signs kept, and is styled by its verification status. Statuses are opaque strings: only
STATUS_STYLE knows them, and one it does not know prints plain with a mark.
"""

from __future__ import annotations

from pathlib import Path

from repro.report.collect import VerifiedNumber, Experiment, Layout, PaperTable, Published, Verification
from repro.report.latex import render

# verification status -> the LaTeX macro that styles a value with it (defined in paper/main.tex)
STATUS_STYLE = {"pass": r"\stpass", "within noise": r"\stnoise", "not testable": r"\stuntestable",
                "differs": r"\stdiffers", "FAIL": r"\stfail",
                "discrepancy": r"\stdisc", "known discrepancy": r"\stdisc"}
UNKNOWN_STATUS = r"\stunknown"
# The notebooks' names for the sweep statistics.
NOTEBOOK_NAMES = {"labels/total": "labels/n_total"}


def style(status: str | None) -> str:
    """The LaTeX style of a verification status."""
    return STATUS_STYLE.get(status, UNKNOWN_STATUS) if status is not None else UNKNOWN_STATUS


def _lookup(row: dict, column: str):
    node = row
    for part in column.split("."):
        node = node[part]
    return node


def _header(e: Experiment, column: str) -> dict:
    """'baseline' -> Baseline; 'ablation.delta' -> the paper's name for it, marked as a change."""
    if column == "baseline":
        return {"name": "Baseline", "delta": False}
    name, _, what = column.partition(".")
    return {"name": e.intervention_name(name) if name in e.spec.interventions else name, "delta": what == "delta"}


def _cells(e: Experiment, table, columns: list[str], row: str, verification: Verification) -> list[dict]:
    metrics_row = next(r for r in e.metrics["per_color"] if r["name"] == row)
    out = []
    for col in columns:
        signed = col.endswith(".delta")
        published = table.value(row, col) if table is not None else None
        status = verification.status(table.check_id(row, col)) if published is not None else None
        out.append({"value": _lookup(metrics_row, col), "published": published, "signed": signed,
                    "style": style(status) if published is not None else STATUS_STYLE["pass"]})
    return out


def _colour(name: str) -> dict:
    from repro.method.colors import named_colors

    c = next(c for c in named_colors() if c.name == name)
    return {"name": name, "hex": c.hex}


def paper_table(pt: PaperTable, data: dict[str, Experiment], registry: Published, verification: Verification) -> str:
    """One of the paper's tables: parts side by side, each a registry table of one experiment."""
    groups, headers = [], []
    rows = [{**_colour(r), "cells": []} for r in pt.rows]
    for part in pt.parts:
        table = registry.table(part.registry)
        e = data[table.experiment]
        groups.append({"title": f"{e.layout.short} ({e.name})", "span": len(part.columns)})
        headers += [_header(e, c) for c in part.columns]
        for r in rows:
            r["cells"] += _cells(e, table, part.columns, r["name"], verification)
    return render("paper_table.tex.j2", id=pt.id, caption=pt.caption, groups=groups, headers=headers, rows=rows)


def colour_table(e: Experiment, registry: Published, verification: Verification) -> str:
    """All 17 colours and every intervention of an experiment, beside the published table."""
    table = registry.table(e.layout.colours)
    columns = list(table.columns) + [f"{n}.delta" for n in e.spec.interventions if f"{n}.delta" not in table.columns]
    rows = [{**_colour(r["name"]), "cells": _cells(e, table, columns, r["name"], verification)}
            for r in e.metrics["per_color"]]
    return render("colours.tex.j2", e=e, source=table.source, headers=[_header(e, c) for c in columns], rows=rows)


def _published(registry: Published, verification: Verification, experiment: str, path: str) -> dict | None:
    n = registry.number(experiment, path)
    if n is None:
        return None
    return {"value": n.value, "precision": n.precision, "style": style(verification.status(n.id))}


def _selected(e: Experiment, metric: str):
    """The selected run's value of a sweep statistic, and the registry path it is published under."""
    m = e.metrics
    if metric == "score":
        return m["score"], "run:score"
    if metric.startswith("labels/"):
        label = metric.removeprefix("labels/")
        return m["label_counts"].get(label), f"run:label_counts.{label}"
    return m["val_losses"].get(metric), f"run:val_losses.{metric}"


def sweeps_table(data: dict[str, Experiment], registry: Published, verification: Verification) -> str:
    """Each experiment's selected run and sweep statistics (score, Pareto objectives, labels)."""
    blocks = []
    for e in data.values():
        s = e.sweep
        labels = [f"labels/{k}" for k in e.spec.labels]
        if len(labels) > 1:
            labels.append("labels/_any")
        rows = []
        for m in ["score", *e.spec.sweep.minimize, *labels, "labels/total"]:
            value, path = _selected(e, m)
            cells = [{"value": value, "published": _published(registry, verification, e.name, path)}]
            for k in ("min", "max", "mean", "std"):
                st = s["stats"].get(m) if s else None
                cells.append({"value": None if st is None else st[k],
                              "published": _published(registry, verification, e.name, f"sweep:stats.{m}.{k}")})
            rows.append({"metric": NOTEBOOK_NAMES.get(m, m.replace("labels/", "labels/n/")), "cells": cells})
        blocks.append({"e": e, "rows": rows, "n": len(s["seeds"]) if s else None,
                       "pareto": s["pareto_count"] if s else None,
                       "selected_pub": _published(registry, verification, e.name, "sweep:selected_seed"),
                       "pareto_pub": _published(registry, verification, e.name, "sweep:pareto_count")})
    first = next(iter(data.values()))
    return render("sweeps.tex.j2", blocks=blocks, total=first.metrics["label_counts"]["total"])


def keyframes(e: Experiment) -> list[dict]:
    """Each schedule track's resolved keyframes (step, value), for the table under the schedule."""
    return [{"name": t.name, "keys": [(k.step, k.value) for k in t.keys]} for t in e.spec.sheet.tracks]


# ---------------------------------------------------------------------------------------------
# Verification listing (the appendix; also tables/verification.tex from `repro verify`)


def _group(c: VerifiedNumber) -> tuple[int, str]:
    paper = c.source.lower().startswith("paper")
    return (0 if paper else 1, f"{'Paper' if paper else 'Notebooks'}: {c.experiment}")


def _common_prefix(ids: list[str]) -> str:
    if len(ids) < 2:
        return ""
    parts = [i.split(".") for i in ids]
    n = 0
    while all(len(p) > n + 1 and p[n] == parts[0][n] for p in parts):
        n += 1
    return ".".join(parts[0][:n]) + "." if n else ""


def verification_listing(verification: Verification, order: list[str] | None = None) -> str:
    """The checks that need a look (VerifiedNumber.notable), grouped by source document and
    experiment, with every group's counts; a run of rows from one source prints the source (and
    the ids' shared prefix) once. The experiments not in `order` (upstream's earlier runs, which
    have a section of their own) list only their failures. Then each discrepancy with its
    evidence. The full listing is results/verification.csv."""
    exp_rank = {name: i for i, name in enumerate(order or [])}
    groups: dict[tuple, list[VerifiedNumber]] = {}
    for c in verification.checks:
        kind, title = _group(c)
        groups.setdefault((kind, exp_rank.get(c.experiment, len(exp_rank)), c.experiment, title), []).append(c)
    out = []
    for key in sorted(groups):
        checks = groups[key]
        runs: list[list[VerifiedNumber]] = []
        shown = (c for c in checks if (c.notable if c.experiment in exp_rank else c.status == "FAIL"))
        for c in shown:
            if runs and runs[-1][0].source == c.source:
                runs[-1].append(c)
            else:
                runs.append([c])
        rows = []
        for run in runs:
            prefix = _common_prefix([c.id for c in run])
            for i, c in enumerate(run):
                rows.append({"c": c, "source": c.source if i == 0 else None, "prefix": prefix if i == 0 else "",
                             "id": c.id[len(prefix):], "style": style(c.status)})
        out.append({"title": key[3], "summary": _summary(verification.counts(checks)), "rows": rows,
                    "beyond": sum(c.beyond_draws for c in checks)})
    listed = sum(len(g["rows"]) for g in out)
    discrepancies = [c for c in verification.checks if c.status == "discrepancy" or c.id.startswith("disc.")]
    return render("verification.tex.j2", groups=out, summary=_summary(verification.counts()), shown=listed,
                  checked=len(verification.checks), discrepancies=discrepancies,
                  earlier=any(c.experiment not in exp_rank for c in verification.checks))


def _summary(counts: dict[str, int]) -> str:
    return f"{sum(counts.values())} checked: " + ", ".join(f"{n} {status}" for status, n in counts.items())


# ---------------------------------------------------------------------------------------------


def write_tables(data: dict[str, Experiment], layout: Layout, registry: Published, verification: Verification,
                 out: Path) -> list[str]:
    """Render every table into `out`; returns the file names."""
    from repro.store.results import atomic_write_text

    files = {f"{pt.id}.tex": paper_table(pt, data, registry, verification) for pt in layout.tables}
    for e in data.values():
        files[f"{e.name}-colours.tex"] = colour_table(e, registry, verification)
    files["sweeps.tex"] = sweeps_table(data, registry, verification)
    files["verification-listing.tex"] = verification_listing(verification, list(data))
    for name, text in files.items():
        path = out / name
        if not path.exists() or path.read_text() != text:  # unchanged files keep their time stamps
            atomic_write_text(path, text)
    return list(files)
