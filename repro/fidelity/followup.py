"""The authors' follow-up (sca2 M1) judged on the original model: its printed statistics and its
findings against the distributions repro's runs give (registry `[[statistic]]`, `[[finding]]`).

sca2 ran a JAX port with its own random streams, so no run corresponds to a run here: what compares
is how the runs are distributed. The rules were fixed before any result was looked at:

- A statistic of n runs (median, mean, population SD, min, max, or the value at the run a
  quantity ranks first or median) is `consistent` when its printed value, widened by half its last
  printed digit, meets the 95% prediction interval of that statistic over n runs drawn from repro's
  runs (10,000 bootstrap resamples of size n, a fixed generator per statistic); else `differs`.
  repro's own value over all its runs is shown with its 95% bootstrap interval.
- A count of runs (failures, say) is `consistent` when Fisher's exact test of the printed count of n
  against repro's count of its runs gives p >= 0.05; else `differs`. repro's rate is shown with its
  exact (Clopper-Pearson) 95% interval.
- A fact of the set-up (grid and group sizes) `matches` or is a `mismatch` (a fault in repro: it
  fails `repro verify`). A seed's identity is `sca2 only` (JAX's streams): listed, never judged.
- A finding is a predicate over statistics ({stat[ID]}): it `holds` or `does not hold` on repro's
  statistics, and is also evaluated on the report's own printed values, which shows where the
  report contradicts itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from repro.fidelity.expr import value_of
from repro.fidelity.registry import FindingItem, StatisticItem

CONSISTENT, DIFFERS, MATCHES, MISMATCH, SCA2_ONLY, COMPUTED, NOT_FOUND = (
    "consistent", "differs", "matches", "mismatch", "sca2 only", "computed", "not found")
STATUSES = (CONSISTENT, DIFFERS, MATCHES, MISMATCH, SCA2_ONLY, NOT_FOUND)
FAILING = (MISMATCH, NOT_FOUND)  # what fails repro verify
SUPPORT_RESAMPLES = 1000  # bootstrap resamples of our runs a finding is re-evaluated on
HOLDS, NOT_HOLDS = "holds", "does not hold"
RESAMPLES = 10_000
LEVEL = 0.95
FISHER_ALPHA = 0.05

CRITERIA = {
    CONSISTENT: "the printed value, widened by half its last printed digit, meets the 95% interval the same "
                "statistic takes over as many runs drawn from a resample of repro's runs (10,000 two-stage "
                "bootstrap resamples, in proportion per experiment); for a count of runs, Fisher's exact test of "
                "the two counts gives p >= 0.05",
    DIFFERS: "outside that interval (or p < 0.05): the original model's runs are distributed otherwise than "
             "the port's; a finding, not a failure",
    MATCHES: "a fact of the set-up (a grid or group size) equal to the printed value",
    MISMATCH: "such a fact differs: a fault in repro, which fails repro verify",
    SCA2_ONLY: "names a run of the port's own random streams (a seed): nothing on the original model "
               "corresponds, so it is listed, not judged",
    NOT_FOUND: "repro's runs do not give the quantity (a missing field, no run, a non-finite value): fails "
               "repro verify",
}
NOTES = ("The 95% range accounts for both samples: our runs are resampled (stratified by experiment) before "
         "n are drawn from them, so that under one shared distribution about 1 in 20 statistics differs "
         "by chance. A minimum's or maximum's range cannot reach beyond our runs' own extremes. A count's test "
         "has little power at these sizes; its interval (Clopper-Pearson) says which rates it cannot tell apart. "
         "A finding's support is the share of 1,000 resamples of our runs on which it holds.")


@dataclass
class StatisticResult:
    """A printed statistic of the follow-up against repro's runs."""

    id: str
    source: str
    experiments: list[str]
    statistic: str
    quantity: str
    where: str
    published: float | None
    decimals: int
    n_published: int
    reproduced: float | None  # over all of repro's runs (a count: of its runs)
    runs: int  # repro's runs the statistic is over
    interval: list[float] | None  # 95% interval of `reproduced` (bootstrap; exact for a count's rate)
    prediction: list[float] | None  # 95% interval of the statistic over n_published of repro's runs
    p: float | None  # Fisher's exact test (counts)
    status: str
    reason: str
    note: str
    # the same statistic on the port variants' runs (the registry's [port]), or None
    port: dict[str, Any] | None = None


@dataclass
class FindingResult:
    """A finding of the follow-up on repro's statistics and on its own printed ones."""

    id: str
    claim: str
    source: str
    predicate: str
    published: str
    threshold: str
    holds: bool | None  # on repro's statistics (None: a statistic is missing)
    status: str
    holds_as_printed: bool | None  # on the report's own printed values (None: not all printed)
    values: dict[str, float | None]  # repro's value of every statistic it reads
    seed_level: str
    contradiction: str
    holds_port: bool | None = None  # on the port variants' statistics (None: not run)
    support: float | None = None  # the share of bootstrap resamples of our runs on which it holds
    support_port: float | None = None


# ---------------------------------------------------------------------------------------------
# Statistics of runs, vectorised over bootstrap resamples (the last axis holds the runs)


def _pick(by: np.ndarray, x: np.ndarray, median: bool) -> np.ndarray:
    if median:  # sca2's exemplar: runs sorted ascending (stable), element n // 2
        order = np.argsort(by, axis=-1, kind="stable")
        i = order[..., by.shape[-1] // 2]
    else:
        i = np.argmax(by, axis=-1)  # the first of equals
    return np.take_along_axis(x, i[..., None], axis=-1)[..., 0]


def statistic(kind: str, x: np.ndarray, by: np.ndarray | None = None) -> np.ndarray:
    """A statistic of runs over the last axis: median (numpy's: the mean of the middle two for
    even n), mean, sd (population, ddof 0, as the reports print), min, max, at-max / at-median
    (x at the run `by` ranks first / median), count (of true values)."""
    if kind == "median":
        return np.median(x, axis=-1)
    if kind == "mean":
        return x.mean(axis=-1)
    if kind == "sd":
        return x.std(axis=-1)
    if kind == "min":
        return x.min(axis=-1)
    if kind == "max":
        return x.max(axis=-1)
    if kind in ("at-max", "at-median"):
        assert by is not None
        return _pick(by, x, kind == "at-median")
    if kind == "count":
        return (x != 0).sum(axis=-1).astype(float)
    raise ValueError(f"unknown statistic {kind!r}")


def _generator(id_: str) -> np.random.Generator:
    """A fixed generator per statistic: its interval is the same on every run of verify."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(id_.encode()).digest()[:8], "little"))


def combined(kind: str, x: np.ndarray, by: np.ndarray | None, combine: str) -> np.ndarray:
    """The statistic of x [..., runs, q] per quantity, combined over the quantities (max or min;
    one quantity: itself)."""
    per = statistic(kind, np.swapaxes(x, -1, -2), None if by is None else by[..., None, :])
    return per.max(axis=-1) if combine == "max" else per.min(axis=-1) if combine == "min" else per[..., 0]


def _shares(size: int, counts: Sequence[int]) -> list[int]:
    """`size` split over groups of these sizes in proportion (largest remainders), each at least 1."""
    total = sum(counts)
    raw = [size * c / total for c in counts]
    out = [max(1, int(r)) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)[:max(0, size - sum(out))]:
        out[i] += 1
    return out


def resample(groups: np.ndarray, size: int, rng: np.random.Generator, resamples: int = RESAMPLES,
             two_stage: bool = False) -> np.ndarray:
    """Indices [resamples, size] of runs drawn with replacement within each group (an experiment),
    `size` split over the groups in proportion. `two_stage`: each group's runs are first resampled
    whole (our sample's own uncertainty), then the draws are taken from that resample."""
    labels = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in labels]
    parts = []
    for idx, m in zip(members, _shares(size, [len(i) for i in members])):
        if two_stage:
            first = idx[rng.integers(0, len(idx), size=(resamples, len(idx)))]
            parts.append(np.take_along_axis(first, rng.integers(0, len(idx), size=(resamples, m)), axis=1))
        else:
            parts.append(idx[rng.integers(0, len(idx), size=(resamples, m))])
    return np.concatenate(parts, axis=1)


def bootstrap(kind: str, x: np.ndarray, by: np.ndarray | None, size: int, rng: np.random.Generator,
              combine: str = "", groups: np.ndarray | None = None, two_stage: bool = False) -> list[float]:
    """The 95% percentile interval of the statistic over `size` runs resampled from x [runs, q]
    (within `groups`, in proportion; `two_stage`: see `resample`)."""
    idx = resample(np.zeros(len(x), dtype=int) if groups is None else groups, size, rng, two_stage=two_stage)
    draws = combined(kind, x[idx], None if by is None else by[idx], combine)
    tail = (1 - LEVEL) / 2 * 100
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return [float(lo), float(hi)]


def clopper_pearson(k: int, n: int) -> list[float]:
    """The exact 95% interval of a rate k/n."""
    from scipy.stats import beta

    a = (1 - LEVEL) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return [lo, hi]


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p of Fisher's exact test of k1/n1 against k2/n2."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)


# ---------------------------------------------------------------------------------------------
# Judging


def _half_unit(decimals: int) -> float:
    return 0.5 * 10.0 ** -decimals


def _per_run(expr: str, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.array([float(value_of(expr, m)) for m in rows], dtype=np.float64)


def judge_statistic(st: StatisticItem, rows: Sequence[Mapping[str, Any]],
                    groups: Sequence[int] | None = None) -> StatisticResult:
    """One statistic against repro's runs (`rows`: every run's metrics of its experiments, pooled;
    `groups`: which experiment each row is of, so that resamples keep their proportions)."""
    def result(reproduced, runs, interval, prediction, p, status, reason) -> StatisticResult:
        return StatisticResult(st.id, st.source, list(st.experiments), st.statistic, st.quantity, st.where, st.value,
                               st.decimals, st.n, reproduced, runs, interval, prediction, p, status, reason, st.note)

    if st.statistic == "seed":
        return result(None, len(rows), None, None, None, SCA2_ONLY,
                      "a run of the port's own random streams; no run here corresponds")
    try:
        keep = [i for i, m in enumerate(rows) if not st.where or bool(value_of(st.where, m))]
        picked = [rows[i] for i in keep]
        x = np.stack([_per_run(q, picked) for q in (st.quantity, *st.quantities)], axis=-1).reshape(len(picked), -1)
        by = _per_run(st.by, picked) if st.by else None
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as e:
        return result(None, 0, None, None, None, NOT_FOUND, f"not found in repro's runs: {e}")
    n = len(x)
    if n == 0 or not np.isfinite(x).all():
        return result(None, n, None, None, None, NOT_FOUND, f"{n} runs, or a non-finite value among them")
    g = np.zeros(n, dtype=int) if groups is None else np.asarray(groups)[keep]
    if st.statistic == "exact":
        v = float(x[0, 0])
        same = bool((x == x[0, 0]).all())
        if st.value is None:
            return result(v, n, None, None, None, COMPUTED, "computed for the findings")
        ok = same and abs(v - st.value) <= _half_unit(st.decimals)
        return result(v, n, None, None, None, MATCHES if ok else MISMATCH,
                      f"{v:g} here{'' if same else ' (not the same on every run)'}; printed {st.value:g}")
    rng = _generator(st.id)
    if st.statistic == "count":
        k = int((x[:, 0] != 0).sum())
        interval = [c * n for c in clopper_pearson(k, n)]
        if st.value is None:
            return result(float(k), n, interval, None, None, COMPUTED, "computed for the findings")
        kp = int(round(st.value))
        p = fisher_p(kp, st.n, k, n)
        status = CONSISTENT if p >= FISHER_ALPHA else DIFFERS
        lo, hi = clopper_pearson(k, n)
        return result(float(k), n, interval, None, p, status,
                      f"{kp}/{st.n} printed against {k}/{n} here (a rate of {lo:.2f}-{hi:.2f} at 95%): "
                      f"Fisher's exact p = {p:.2g}")
    value = float(combined(st.statistic, x, by, st.combine))
    # a bootstrap interval of an extreme cannot reach beyond the sample's own: none is given
    ours = None if st.statistic in ("min", "max") else bootstrap(st.statistic, x, by, n, rng, st.combine, g)
    if st.value is None:
        return result(value, n, ours, None, None, COMPUTED, "computed for the findings")
    prediction = bootstrap(st.statistic, x, by, st.n, rng, st.combine, g, two_stage=True)
    half = _half_unit(st.decimals)
    inside = st.value + half >= prediction[0] and st.value - half <= prediction[1]
    where = "within" if inside else ("below" if st.value + half < prediction[0] else "above")
    return result(value, n, ours, prediction, None, CONSISTENT if inside else DIFFERS,
                  f"printed {st.value:.{st.decimals}f} is {where} the 95% range of a {st.statistic} of {st.n} "
                  f"runs here [{prediction[0]:.{st.decimals + 1}f}, {prediction[1]:.{st.decimals + 1}f}]")


def _predicate(predicate: str, values: Mapping[str, float | None]) -> bool | None:
    if any(values.get(ref) is None for ref in _refs(predicate)):
        return None
    table = {"stat": [{"name": k, "value": v} for k, v in values.items() if v is not None]}
    expr = predicate.replace("]}", "].value}")
    try:
        return bool(value_of(expr, table))
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None


def _refs(predicate: str) -> list[str]:
    import re

    return list(dict.fromkeys(re.findall(r"stat\[([^\]]+)\]", predicate)))


def judge_finding(fi: FindingItem, stats: Mapping[str, StatisticResult]) -> FindingResult:
    """A finding on repro's statistics and on the report's printed ones."""
    mine = {k: s.reproduced for k, s in stats.items()}
    printed = {k: s.published for k, s in stats.items()}
    holds = _predicate(fi.predicate, mine)
    status = "not measured" if holds is None else HOLDS if holds else NOT_HOLDS
    return FindingResult(fi.id, fi.claim, fi.source, fi.predicate, fi.published, fi.threshold, holds, status,
                         _predicate(fi.predicate, printed), {r: mine.get(r) for r in _refs(fi.predicate)},
                         fi.seed_level, fi.contradiction)


def runs_of(data, experiments: Sequence[str]) -> tuple[list[Mapping[str, Any]], list[int]]:
    """Every evaluated run of the experiments (repro.fidelity.verify.Results.seeds), pooled in
    order, and which experiment each is of."""
    rows: list[Mapping[str, Any]] = []
    groups: list[int] = []
    for i, x in enumerate(experiments):
        mine = [m for _, m in sorted(data.seeds(x).items())]
        rows += mine
        groups += [i] * len(mine)
    return rows, groups


class _Pool:
    """Each experiment's runs, read once, with one fixed set of bootstrap resamples per experiment
    (shared by every statistic, so that a finding's statistics move together)."""

    def __init__(self, data):
        self.data, self.runs, self.draws = data, {}, {}

    def rows(self, experiments: Sequence[str]) -> tuple[list[Mapping[str, Any]], list[int]]:
        for x in experiments:
            if x not in self.runs:
                self.runs[x] = runs_of(self.data, [x])[0]
        rows = [m for x in experiments for m in self.runs[x]]
        return rows, [i for i, x in enumerate(experiments) for _ in self.runs[x]]

    def resamples(self, experiments: Sequence[str]) -> np.ndarray:
        """[SUPPORT_RESAMPLES, runs] indices into rows(experiments): each experiment resampled whole."""
        parts, offset = [], 0
        for x in experiments:
            if x not in self.draws:
                self.draws[x] = _generator(f"support:{x}").integers(0, len(self.runs[x]),
                                                                   size=(SUPPORT_RESAMPLES, len(self.runs[x])))
            parts.append(self.draws[x] + offset)
            offset += len(self.runs[x])
        return np.concatenate(parts, axis=1)


def _values_on_resamples(st: StatisticItem, pool: _Pool, experiments: Sequence[str]) -> np.ndarray | None:
    """The statistic's value on each of the pool's resamples of our runs (None where it has none)."""
    if st.statistic == "seed":
        return None
    rows, _ = pool.rows(experiments)
    try:
        mask = np.array([not st.where or bool(value_of(st.where, m)) for m in rows], dtype=bool)
        x = np.stack([_per_run(q, rows) for q in (st.quantity, *st.quantities)], axis=-1).reshape(len(rows), -1)
        by = _per_run(st.by, rows) if st.by else None
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None
    out = np.full(SUPPORT_RESAMPLES, np.nan)
    for b, idx in enumerate(pool.resamples(experiments)):
        sel = idx[mask[idx]]
        if not len(sel):
            continue
        if st.statistic == "exact":
            out[b] = x[sel[0], 0]
        elif st.statistic == "count":
            out[b] = float((x[sel, 0] != 0).sum())
        else:
            out[b] = float(combined(st.statistic, x[sel][None], None if by is None else by[sel][None], st.combine)[0])
    return out


def _support(fi: FindingItem, draws: Mapping[str, np.ndarray | None]) -> float | None:
    refs = _refs(fi.predicate)
    if any(draws.get(r) is None for r in refs):
        return None
    held = [_predicate(fi.predicate, {r: float(draws[r][b]) for r in refs})  # type: ignore[index]
            for b in range(SUPPORT_RESAMPLES)]
    known = [h for h in held if h is not None]
    return sum(known) / len(known) if known else None


def _judge_all(chosen: Sequence[StatisticItem], pool: _Pool, rename: Mapping[str, str],
               refs: set[str]) -> tuple[dict[str, StatisticResult], dict[str, np.ndarray | None]]:
    results, draws = {}, {}
    for st in chosen:
        experiments = [rename.get(x, x) for x in st.experiments]
        rows, groups = pool.rows(experiments)
        results[st.id] = judge_statistic(st, rows, groups)
        if st.id in refs:  # only what a finding reads is re-evaluated on resamples
            draws[st.id] = _values_on_resamples(st, pool, experiments)
    return results, draws


def check_followup(statistics: Sequence[StatisticItem], findings: Sequence[FindingItem], data,
                   experiments: Sequence[str] | None = None, ports: Mapping[str, str] | None = None,
                   ) -> tuple[list[StatisticResult], list[FindingResult]]:
    """Every statistic and finding against repro's runs, and, where `ports` maps every experiment a
    statistic reads to a variant with the port's deviations, against that variant's runs too.
    `experiments`: only the statistics that read these experiments alone (or their port variants)."""
    ports = dict(ports or {})
    original = {v: k for k, v in ports.items()}
    wanted = None if not experiments else {original.get(x, x) for x in experiments}
    chosen = [st for st in statistics if wanted is None or all(x in wanted for x in st.experiments)]
    refs = {r for fi in findings for r in _refs(fi.predicate)}
    pool = _Pool(data)
    results, draws = _judge_all(chosen, pool, {}, refs)
    ported = [st for st in chosen if ports and all(x in ports for x in st.experiments)]
    port, port_draws = _judge_all(ported, pool, ports, refs)
    for k, r in port.items():
        results[k].port = {"experiments": [ports[x] for x in results[k].experiments],
                           "reproduced": r.reproduced, "runs": r.runs, "interval": r.interval,
                           "prediction": r.prediction, "p": r.p, "status": r.status, "reason": r.reason}
    judged = []
    for fi in findings:
        if not all(r in results for r in _refs(fi.predicate)):
            continue
        f = judge_finding(fi, results)
        f.support = _support(fi, draws)
        if all(r in port for r in _refs(fi.predicate)):
            f.holds_port = _predicate(fi.predicate, {k: s.reproduced for k, s in port.items()})
            f.support_port = _support(fi, port_draws)
        judged.append(f)
    return list(results.values()), judged


def counts(results: Sequence[StatisticResult]) -> dict[str, int]:
    """How many printed statistics got each status (the computed-only ones are not counted)."""
    return {s: sum(r.status == s for r in results) for s in STATUSES}


def port_counts(results: Sequence[StatisticResult]) -> dict[str, int]:
    """The same counts on the port variants' runs (statistics judged there only)."""
    return {s: sum(r.port is not None and r.port["status"] == s for r in results) for s in STATUSES}


CSV_COLUMNS = ("id", "experiments", "statistic", "quantity", "where", "published", "decimals", "n_published",
               "reproduced", "runs", "interval_lo", "interval_hi", "prediction_lo", "prediction_hi", "p", "status",
               "port_reproduced", "port_status", "reason", "source", "note")


def statistics_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Every statistic's verdict as CSV (results/followup.csv)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        port = r.get("port") or {}
        lo, hi = r["interval"] or (None, None)
        plo, phi = r["prediction"] or (None, None)
        row = {**r, "experiments": " ".join(r["experiments"]), "interval_lo": lo, "interval_hi": hi,
               "prediction_lo": plo, "prediction_hi": phi, "port_reproduced": port.get("reproduced"),
               "port_status": port.get("status")}
        w.writerow(["" if row[k] is None else repr(row[k]) if isinstance(row[k], float) else row[k] for k in CSV_COLUMNS])
    return buf.getvalue()
