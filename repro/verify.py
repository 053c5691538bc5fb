"""`repro verify`: every published number in registry/ against what the code computes.

Entries come from registry/*.toml: `[[number]]` (one value), `[[table]]` (a per-colour table;
each cell is an entry), `[[discrepancy]]` (paper and code disagree; checked against the code's
value and reported as a known discrepancy). Paths read a run's metrics ("run:"), a sweep's
summary ("sweep:") or the resolved spec ("spec:"); `{a.b}` inside arithmetic reads one field.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from repro.errors import ReproError
from repro.spec import ROOT, load_spec, to_dict


def registry_dir() -> Path:
    return Path(os.environ.get("REPRO_REGISTRY", ROOT / "registry"))


@dataclass(frozen=True)
class Entry:
    id: str
    source: str
    experiment: str
    path: str
    value: float
    precision: int
    tolerance: float
    compare: str = "abs"  # abs | rounded
    reason: str = ""
    kind: str = "number"  # number | cell | discrepancy
    code_value: float | None = None


def load_registry(directory: Path | None = None) -> list[Entry]:
    entries: list[Entry] = []
    for f in sorted((directory or registry_dir()).glob("*.toml")):
        try:
            data = tomllib.loads(f.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ReproError(f"{f}: not valid TOML ({e})") from None
        try:
            entries += _entries_of(data, f)
        except (KeyError, TypeError, ValueError) as e:
            raise ReproError(f"{f}: malformed registry entry ({type(e).__name__}: {e})") from None
    ids = [e.id for e in entries]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ReproError(f"duplicate registry ids: {', '.join(sorted(dup))}")
    return entries


def _entries_of(data: dict, f: Path) -> list[Entry]:
    entries: list[Entry] = []
    for n in data.get("number", []):
        entries.append(_entry(n, f, "number"))
    for d in data.get("discrepancy", []):
        entries.append(_entry(d, f, "discrepancy"))
    for t in data.get("table", []):
        for row in t["rows"]:
            name, values = row[0], row[1:]
            if len(values) != len(t["columns"]):
                raise ReproError(f"{f}: table {t['id']} row {name!r} has {len(values)} values, "
                                 f"expected {len(t['columns'])}")
            for col, v in zip(t["columns"], values):
                entries.append(Entry(
                    id=f"{t['id']}.{name.replace(' ', '_')}.{col}", source=t["source"],
                    experiment=t["experiment"], path=f"run:per_color[{name}].{col}", value=float(v),
                    precision=t.get("precision", 9), tolerance=t["tolerance"], reason=t.get("reason", ""),
                    kind="cell"))
    return entries


def _entry(d: dict, f: Path, kind: str) -> Entry:
    try:
        return Entry(id=d["id"], source=d["source"], experiment=d["experiment"], path=d["path"],
                     value=float(d["value"]), precision=int(d.get("precision", 9)),
                     tolerance=float(d.get("tolerance", 0.0)), compare=d.get("compare", "abs"),
                     reason=d.get("reason", ""), kind=kind,
                     code_value=float(d["code_value"]) if "code_value" in d else None)
    except KeyError as e:
        raise ReproError(f"{f}: entry {d.get('id', '?')} lacks field {e}") from None


# ---------------------------------------------------------------------------------------------
# Reading values out of results

_FIELD = re.compile(r"\{([^}]+)\}")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def lookup(data, dotted: str):
    """'per_color[red].suppression.delta' in a metrics dict (per_color is a list keyed by name)."""
    node = data
    for part in re.findall(r"[^.\[\]]+|\[[^\]]+\]", dotted):
        if part.startswith("["):
            key = part[1:-1]
            node = next((r for r in node if r.get("name") == key), None)
            if node is None:
                raise KeyError(dotted)
        else:
            node = node[part]
    return node


def evaluate_path(expr: str, data) -> float:
    if "{" not in expr:
        return float(lookup(data, expr))
    values: list[float] = []

    def sub(m):
        values.append(float(lookup(data, m.group(1).strip())))
        return f"_v{len(values) - 1}"

    tree = ast.parse(_FIELD.sub(sub, expr), mode="eval")

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return n.value
        if isinstance(n, ast.Name) and n.id.startswith("_v"):
            return values[int(n.id[2:])]
        raise ReproError(f"unsupported expression in registry path: {expr!r}")

    return float(ev(tree))


@dataclass
class Check:
    id: str
    source: str
    experiment: str
    published: float
    reproduced: float | None
    difference: float | None
    tolerance: float
    status: str  # pass | FAIL | known discrepancy | missing
    note: str = ""


def check(entry: Entry, reproduced: float) -> Check:
    target = entry.code_value if entry.kind == "discrepancy" else entry.value
    diff = reproduced - entry.value
    if entry.compare == "rounded":
        ok = round(reproduced, entry.precision) == round(target, entry.precision)
        tol = 0.5 * 10 ** -entry.precision
    else:
        tol = entry.tolerance if entry.tolerance else (0.5 * 10 ** -entry.precision if entry.kind == "discrepancy" else 0.0)
        ok = math.isfinite(reproduced) and abs(reproduced - target) <= tol + 1e-12 * abs(target)
    status = "pass" if ok else "FAIL"
    if entry.kind == "discrepancy":
        status = "known discrepancy" if ok else "FAIL"
    return Check(entry.id, entry.source, entry.experiment, entry.value, reproduced, diff, tol, status, entry.reason)


# ---------------------------------------------------------------------------------------------
# Running what is needed


Source = Callable[[str, str], dict]  # (experiment, "run" | "sweep" | "spec") -> data


def verify(entries: list[Entry], source: Source, quick: bool = False,
           experiments: list[str] | None = None) -> list[Check]:
    out: list[Check] = []
    for e in entries:
        if experiments and e.experiment not in experiments:
            continue
        scope, _, expr = e.path.partition(":")
        if quick and scope == "sweep":
            continue
        try:
            data = source(e.experiment, scope)
            value = evaluate_path(expr, data)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError, ZeroDivisionError) as exc:
            out.append(Check(e.id, e.source, e.experiment, e.value, None, None, e.tolerance, "FAIL",
                             f"not found in the {scope} result: {exc}"))
            continue
        out.append(check(e, value))
    return out


def default_source(progress_factory=None) -> Source:
    """Runs (or reuses) each experiment's selected seed and sweep once."""
    cache: dict[tuple[str, str], dict] = {}

    def get(experiment: str, scope: str) -> dict:
        key = (experiment, scope)
        if key not in cache:
            spec = load_spec(experiment)
            if scope == "spec":
                cache[key] = to_dict(spec)
            elif scope == "run":
                from repro.runner import run_one

                progress = progress_factory(f"{experiment} seed {spec.seed}") if progress_factory else None
                cache[key] = run_one(spec, progress=progress, log=_log)[1]
            elif scope == "sweep":
                from repro.executors import make_executor
                from repro.sweep import run_sweep

                ex = make_executor("local")
                try:
                    cache[key] = run_sweep(spec, executor=ex, progress=_log, log=_log)[1]
                finally:
                    ex.shutdown()
            else:
                raise ReproError(f"unknown registry path scope {scope!r} (use run:, sweep: or spec:)")
        return cache[key]

    return get


def _log(message: str) -> None:
    import click

    click.echo(message, err=True)


def summarize(checks: list[Check]) -> dict:
    return {
        "checked": len(checks),
        "passed": sum(c.status == "pass" for c in checks),
        "failed": sum(c.status == "FAIL" for c in checks),
        "known_discrepancies": sum(c.status == "known discrepancy" for c in checks),
    }


def write_report(checks: list[Check], results: Path, tables: Path) -> dict:
    counts = summarize(checks)
    from repro.results import atomic_write_text
    from repro.tables import verification_table

    atomic_write_text(results / "verification.json", json.dumps(
        {**counts, "records": [asdict(c) for c in checks]}, indent=2) + "\n")
    atomic_write_text(tables / "verification.tex", verification_table(checks, counts))
    return counts


def format_table(checks: list[Check], only_problems: bool = False) -> str:
    head = f"{'id':<44} {'published':>13} {'reproduced':>13} {'difference':>11} {'tolerance':>9}  status"
    lines = [head, "-" * len(head)]
    for c in checks:
        if only_problems and c.status == "pass":
            continue
        rep = "—" if c.reproduced is None else f"{c.reproduced:.9g}"
        diff = "—" if c.difference is None else f"{c.difference:+.2e}"
        lines.append(f"{c.id:<44} {c.published:>13.9g} {rep:>13} {diff:>11} {c.tolerance:>9.1e}  {c.status}")
    return "\n".join(lines)
