"""`repro verify`: every published number and every claim of the paper against what the code computes.

The published numbers and claims come from the registry (repro.fidelity.registry).
Each number's verdict (repro.fidelity.judge) comes from its printed precision and from the band that
float noise alone moves it by (repro.pipeline.sensitivity). Each claim is evaluated on the selected seed,
on every seed of the 60-seed sweep and on the Pareto front.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any, NotRequired, Protocol, TypedDict

from repro.base.paths import ROOT
from repro.fidelity import judge as J
from repro.fidelity.expr import value_of
from repro.store.layout import followup_table, verification_file, verification_table
from repro.fidelity.registry import Entry, Registry

# How an experiment's selected model compares with upstream's run on this platform.
IDENTICAL, DIFFERENT = "bit-identical to upstream", "differs from upstream"
NO_REFERENCE, NOT_MEASURED = "no upstream reference on this platform", "not measured"


# ---------------------------------------------------------------------------------------------
# What the code computes


class VerificationReport(TypedDict):
    """verification.json: every registered number's verdict and every claim's, with the counts."""

    counts: dict[str, int]
    failed: list[str]
    checked: int
    complete: bool
    scope: dict[str, Any]
    statuses: dict[str, str]
    claim_statuses: dict[str, str]
    beyond_draws: int
    band_ranges: float
    experiments: dict[str, Any]
    entries: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    followup: NotRequired[dict[str, Any]]  # the follow-up's statistics and findings (repro.fidelity.followup)
    environment: dict[str, Any]
    date: NotRequired[str]  # when it was first computed, added when written (write_report)


class Results(Protocol):
    """What verify reads: each experiment's spec, selected run, sweep, every seed's evaluation
    and noise bands (repro.pipeline.workspace computes them, or reuses the cache's)."""

    bands: bool  # whether noise bands are measured at all

    def run(self, experiment: str) -> Mapping[str, Any]:
        """The selected seed's metrics (repro.store.records.Metrics)."""
        ...

    def sweep(self, experiment: str) -> Mapping[str, Any]:
        """The sweep's summary (repro.store.records.SweepSummary)."""
        ...

    def scope(self, experiment: str, scope: str) -> Mapping[str, Any]:
        """The result a registry path's scope names: the run, the sweep, every seed's evaluation
        (`seeds:`: runs[seed=N]... and stats.<intervention>_<r|r2|p>.<mean|std|min|max>) or the spec."""
        ...

    def draws(self, experiment: str, scope: str) -> list[dict] | None:
        """The same result under the default kernels and each kernel variant, or None."""
        ...

    def prefetch_draws(self, experiments: list[str], sweeps: bool) -> None:
        """Compute every missing noise band of `experiments` at once."""
        ...

    def sensitivity(self, experiment: str, sweep: bool) -> dict | None:
        """The stored noise band of an experiment's run or sweep, or None."""
        ...

    def seeds(self, experiment: str) -> Mapping[int, Mapping[str, Any]]:
        """Every seed's full evaluation (for the claims)."""
        ...


# ---------------------------------------------------------------------------------------------
# Checking numbers


@dataclass
class Check:
    """A published number against its reproduced value, with the verdict."""

    id: str
    experiment: str
    source: str
    group: str
    kind: str
    path: str
    published: float
    decimals: int
    reproduced: float | None
    difference: float | None
    spread: float | None  # range of the measured float-noise draws
    band: float | None  # half-width of the noise band
    draws: list[float] | None  # [smallest, largest] of the measured draws
    status: str
    reason: str
    note: str = ""
    code_value: float | None = None
    beyond_draws: bool = False  # within noise only through the band's factor (judge.BAND_RANGES)


def _value(entry: Entry, data) -> float:
    return float(value_of(entry.path.partition(":")[2], data))


def check_numbers(entries: list[Entry], data: Results) -> list[Check]:
    """Judge every entry from its printed precision and its noise band."""
    values: dict[str, float | Exception] = {}
    spreads: dict[str, float | None] = {}
    ranges: dict[str, tuple[float, float]] = {}
    for e in entries:
        try:
            values[e.id] = _value(e, data.scope(e.experiment, e.scope))
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as exc:
            values[e.id] = exc
            continue
        draws = data.draws(e.experiment, e.scope)
        if draws is not None:
            try:
                vals = [_value(e, d) for d in draws]
                spreads[e.id] = max(vals) - min(vals)
                ranges[e.id] = (min(vals), max(vals))
            except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
                spreads[e.id] = None
    chaotic = {x: J.chaotic([(e.value, e.decimals, spreads.get(e.id)) for e in entries if e.experiment == x])
               for x in {e.experiment for e in entries}}
    out = []
    for e in entries:
        v = values[e.id]
        if isinstance(v, Exception):
            out.append(Check(e.id, e.experiment, e.source, e.group, e.kind, e.path, e.value, e.decimals, None, None,
                             None, None, None, J.FAIL, f"not found in the {e.scope} result: {v}", e.note, e.code_value))
            continue
        spread, drawn = spreads.get(e.id), ranges.get(e.id)
        if e.kind == "discrepancy":
            assert e.code_value is not None  # the registry gives every discrepancy its code's value
            verdict = J.judge(e.code_value, e.decimals, v, spread, chaotic[e.experiment], drawn)
            status = J.DISCREPANCY if verdict.status in (J.PASS, J.NOISE) else verdict.status
            reason = (f"the paper says {e.value:g}; its code gives {e.code_value:g}, reproduced "
                      f"({verdict.reason})" if status == J.DISCREPANCY else f"the code's value: {verdict.reason}")
        else:
            verdict = J.judge(e.value, e.decimals, v, spread, chaotic[e.experiment], drawn)
            status, reason = verdict.status, verdict.reason
        out.append(Check(e.id, e.experiment, e.source, e.group, e.kind, e.path, e.value, e.decimals, v,
                         v - e.value, spread, verdict.band, None if drawn is None else list(drawn), status, reason,
                         e.note, e.code_value, verdict.beyond_draws))
    return out


# ---------------------------------------------------------------------------------------------
# Checking claims


# A claim's status, in the words the numbers use where the meaning is the same.
HOLDS, NOT_HOLDS = "holds", "does not hold"
CLAIM_STATUSES = {
    HOLDS: "true of the selected seed (a claim about the model the paper reports) or of every seed "
           "(a claim about all its runs)",
    J.DISCREPANCY: "does not hold, as the paper's own numbers show (its discrepancy entry gives the evidence)",
    J.DIFFERS: "does not hold, in a float-chaotic experiment whose published runs came from other "
               "hardware: a real difference, not a failure",
    NOT_HOLDS: "repro verify exits 1, unless the experiment is informational (width 10) or the registry "
               "expects the claim to fail",
}


@dataclass
class ClaimResult:
    """A claim on the selected seed, on every seed and on the Pareto front, with the verdict."""

    id: str
    experiment: str
    claim: str
    source: str
    predicate: str
    published: str
    threshold: str
    of: str  # "selected seed" or "every seed": what the paper's sentence is about
    selected_seed: int
    selected_value: float | None
    holds_selected: bool | None
    seeds_holding: int
    seeds: int
    pareto_holding: int
    pareto: int
    holds: bool  # on the selected seed, or on every seed
    status: str  # one of CLAIM_STATUSES
    verdict: str  # the status with its counts, in words
    expected: str
    discrepancy: str
    informational: bool
    ok: bool  # behaves as the registry expects; False fails `repro verify`
    failing_seeds: list[int] = field(default_factory=list)


def _holds(predicate: str, metrics: Mapping[str, Any]) -> bool | None:
    try:
        return bool(value_of(predicate, metrics))
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None


def claim_status(holds: bool, expected: str, discrepancy: str, chaotic: bool) -> tuple[str, bool]:
    """A claim's status and whether it behaves as registered (False fails `repro verify`)."""
    if holds:
        return HOLDS, expected == "holds"
    if expected == "fails":
        return (J.DISCREPANCY if discrepancy else NOT_HOLDS), True
    return (J.DIFFERS, True) if chaotic else (NOT_HOLDS, False)


def check_claims(claims, data: Results, experiments: list[str] | None = None,
                 chaotic: dict[str, bool] | None = None) -> list[ClaimResult]:
    """Evaluate each claim on each of its experiments (`chaotic`: which experiments are float-chaotic)."""
    out = []
    for c in claims:
        for x in c.experiments:
            if experiments and x not in experiments:
                continue
            summary = data.sweep(x)
            per_seed = data.seeds(x)
            chosen = summary["selected_seed"]
            selected = per_seed[chosen]
            holds = {s: _holds(c.predicate, m) for s, m in per_seed.items()}
            front = summary["pareto_seeds"]
            try:
                value = float(value_of(c.value, selected))
            except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
                value = None
            sel = _holds(c.predicate, selected)
            k = sum(bool(h) for h in holds.values())
            kp = sum(bool(holds.get(s)) for s in front)
            n = len(summary["seeds"])  # a diverged seed (not evaluated) does not hold
            every = c.of == "every seed"
            held = k == n if every else bool(sel)
            status, ok = claim_status(held, c.expected, c.discrepancy, bool((chaotic or {}).get(x)))
            informational = x in c.informational
            where = f"on {k}/{n} seeds (the paper: {n}/{n})" if every else f"on the selected seed {chosen}"
            verdict = f"{HOLDS if held else NOT_HOLDS} {where}"
            if status == J.DISCREPANCY:
                verdict += f", as the paper's own numbers show ({c.discrepancy})"
            elif status == J.DIFFERS:
                verdict += "; the experiment is float-chaotic"
            elif not held and c.expected == "fails":
                verdict += ", as registered"
            out.append(ClaimResult(c.id, x, c.claim, c.source, c.predicate, c.published, c.threshold, c.of, chosen,
                                   value, sel, k, n, kp, len(front), held, status, verdict, c.expected,
                                   c.discrepancy, informational, informational or ok,
                                   sorted(s for s in summary["seeds"] if not holds.get(s))))
    return out


# ---------------------------------------------------------------------------------------------
# The whole verification


def experiment_summaries(checks: list[Check], data: Results) -> dict:
    """Per experiment: verdict counts, table differences, noise bands and the model's fingerprint status."""
    from repro.fidelity import upstream
    from repro.base.machine import current_platform

    refs = upstream.references()
    out = {}
    for x in sorted({c.experiment for c in checks}):
        mine = [c for c in checks if c.experiment == x]
        cells = [c for c in mine if c.kind == "cell" and c.difference is not None]
        spreads = [c.spread for c in cells if c.spread is not None]
        sha = None
        try:
            sha = data.run(x)["model_sha256"]
        except Exception:  # noqa: BLE001 - a summary never hides the checks themselves
            pass
        reference = refs.trained.get(x) if refs else None
        sens = data.sensitivity(x, False) if data.bands else None
        fp = (NO_REFERENCE if reference is None else NOT_MEASURED if sha is None
              else IDENTICAL if sha == reference else DIFFERENT)
        sweep_sens = data.sensitivity(x, True) if data.bands else None
        out[x] = {
            "statuses": dict(Counter(c.status for c in mine)),
            # verdicts inside the band only through its factor: the draws never reached the published value
            "beyond_draws": sum(c.beyond_draws for c in mine),
            "chaotic": _chaotic(mine),
            "largest_table_difference": max((abs(c.difference) for c in cells if c.difference is not None),
                                            default=None),
            "table_band": [min(spreads), max(spreads)] if spreads else None,
            "model_sha256": sha,
            "fingerprint": {"status": fp, "reference": reference, "platform": current_platform().id,
                            "reference_platform": refs.platform if refs else None},
            "sensitivity": None if sens is None else {
                "variants": [v["name"] for v in sens["variants"]], "distinct_models": sens["distinct_models"],
                "process_s": sens["process_s"]},
            "sweep_sensitivity": None if sweep_sens is None else {
                "variants": [v["name"] for v in sweep_sens["variants"]], "process_s": sweep_sens["process_s"],
                "selected_seeds": [v["sweep"]["selected_seed"] for v in sweep_sens["variants"]],
                "pareto_counts": [v["sweep"]["pareto_count"] for v in sweep_sens["variants"]]},
        }
    return out


def _chaotic(checks: list[Check]) -> bool:
    return J.chaotic([(c.published, c.decimals, c.spread) for c in checks])


def verify(registry: Registry, data: Results, experiments: list[str] | None = None, quick: bool = False) -> VerificationReport:
    """The verification report of the registry (or of some experiments; `quick`: the selected runs
    only, with their noise bands, and no sweep statistics or claims)."""
    entries = [e for e in registry.entries if (not experiments or e.experiment in experiments)
               and not (quick and e.scope in ("sweep", "seeds"))]
    data.prefetch_draws(sorted({e.experiment for e in entries if e.scope in ("run", "sweep")}),
                        sweeps=any(e.scope == "sweep" for e in entries))
    checks = check_numbers(entries, data)
    chaotic = {x: _chaotic([c for c in checks if c.experiment == x]) for x in {c.experiment for c in checks}}
    claims = [] if quick else check_claims(registry.claims, data, experiments, chaotic)
    followup: dict[str, Any] | None = None
    if not quick and registry.statistics and (not experiments or set(experiments) & set(registry.followup_experiments())):
        from repro.fidelity import followup as FU

        stats, findings = FU.check_followup(registry.statistics, registry.findings, data, experiments, registry.ports)
        judged = sorted({x for r in stats for x in (*r.experiments, *((r.port or {}).get("experiments", [])))})
        followup = {"counts": FU.counts(stats), "criteria": dict(FU.CRITERIA), "notes": FU.NOTES,
                    "ports": dict(registry.ports),
                    # runs that diverged have no evaluation and are in no statistic: listed, never hidden
                    "diverged": {x: list(data.sweep(x)["diverged_seeds"]) for x in judged
                                 if data.sweep(x)["diverged_seeds"]},
                    "port_counts": FU.port_counts(stats),
                    "findings_holding_port": sum(f.holds_port is True for f in findings),
                    "findings_holding": sum(f.holds is True for f in findings), "findings": len(findings),
                    "statistics": [asdict(r) for r in stats], "finding_results": [asdict(f) for f in findings]}
    from repro.base.machine import environment, pinned

    with pinned():  # the settings the results were computed with
        env = environment(ROOT)
    return {
        "counts": {s: sum(c.status == s for c in checks) for s in J.STATUSES},
        "failed": [c.id for c in checks if c.status == J.FAIL] + [f"claim {c.id} ({c.experiment})" for c in claims if not c.ok]
                  + [f"statistic {r['id']} ({r['status']})" for r in (followup["statistics"] if followup else [])
                     if r["status"] in ("mismatch", "not found")],
        "checked": len(checks),
        "complete": not quick and not experiments,
        "scope": {"experiments": experiments or "all", "quick": quick},
        "statuses": dict(J.CRITERIA),
        "claim_statuses": dict(CLAIM_STATUSES),
        "beyond_draws": sum(c.beyond_draws for c in checks),
        "band_ranges": J.BAND_RANGES,
        "experiments": experiment_summaries(checks, data),
        "entries": [asdict(c) for c in checks],
        "claims": [asdict(c) for c in claims],
        **({"followup": followup} if followup is not None else {}),  # type: ignore[typeddict-item]
        "environment": env,
    }


def output_path(report: VerificationReport, results: Path) -> Path:
    """The full verification goes to verification.json; a partial one never overwrites it."""
    return verification_file(results, complete=report["complete"])


def write_report(report: VerificationReport, results: Path) -> Path:
    """Write the report with the date it was first computed; an unchanged report is left as it
    is (so a rebuild of the paper with nothing changed stays byte-identical)."""
    from datetime import datetime, timezone

    from repro.base.files import regular_bytes
    from repro.store.results import atomic_write_text

    path = output_path(report, results)
    raw = regular_bytes(path)
    try:
        old = json.loads(raw) if raw is not None else None
    except ValueError:
        old = None
    fresh = json.loads(json.dumps(report, default=float))
    table, followup = verification_table(path), followup_table(path)
    tables_exist = table.exists() and ("followup" not in report or followup.exists())
    if isinstance(old, dict) and {k: v for k, v in old.items() if k != "date"} == fresh and tables_exist:
        return path
    fresh["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    atomic_write_text(table, entries_csv(report["entries"]))
    if "followup" in report:
        from repro.fidelity.followup import statistics_csv

        atomic_write_text(followup, statistics_csv(report["followup"]["statistics"]))
    elif followup.exists():
        followup.unlink()  # from an earlier verification: it would describe other runs
    atomic_write_text(path, json.dumps(fresh, indent=1) + "\n")
    return path


CSV_COLUMNS = ("id", "experiment", "source", "kind", "path", "published", "decimals", "reproduced", "difference",
               "draws_min", "draws_max", "band", "status", "beyond_draws", "reason", "note")


def entries_csv(entries: list[dict]) -> str:
    """Every number's verdict as CSV (the report's appendix lists only those that need a look)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for e in entries:
        lo, hi = e["draws"] or (None, None)
        row = {**e, "draws_min": lo, "draws_max": hi}
        w.writerow(["" if row[k] is None else repr(row[k]) if isinstance(row[k], float) else row[k]
                    for k in CSV_COLUMNS])
    return buf.getvalue()
