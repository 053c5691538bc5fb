"""The registry (registry/*.toml): published numbers, tables, discrepancies and claims, and
upstream's model fingerprints; this module is the one reader of its files.

`[[number]]` is one value with where it was printed and how many decimals it was printed with
(nothing else: no tolerances), `[[table]]` a per-colour table (each cell one entry),
`[[discrepancy]]` a place where the paper's text disagrees with its own code (the code's value
is what is reproduced), `[[claim]]` a qualitative claim written as a predicate over a seed's
metrics. fingerprints.toml holds the SHA-256 of upstream's trained models per platform.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Union

from pydantic import ValidationError

from repro.base.errors import ReproError
from repro.base.files import read_text
from repro.base.schema import Strict, first_problem
from repro.base.paths import registry_dir
from repro.fidelity.expr import ExpressionError, check_syntax

SCOPES = ("run", "sweep", "seeds", "spec")
_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
FINGERPRINTS = "fingerprints.toml"


# ---------------------------------------------------------------------------------------------
# The registry's schema


class _Item(Strict):
    id: str
    source: str  # where it was printed: paper section/table, or notebook and cell
    experiment: str


class NumberItem(_Item):
    """A published number: where it was printed, with how many decimals, and the path to it in a result."""

    path: str  # scope:expression, e.g. run:per_color[red].suppression.mse
    value: float
    decimals: int  # as printed
    note: str = ""


class DiscrepancyItem(_Item):
    """A number where the paper's text disagrees with its own code; the code's value is reproduced."""

    path: str
    value: float  # what the paper's text says
    code_value: float  # what its code (or notebook) gives
    decimals: int  # of code_value as printed
    evidence: str


class TableItem(Strict):
    """A published per-colour table: a row per colour, a column per quantity."""

    id: str
    source: str
    experiment: str
    columns: list[str]
    decimals: int
    rows: list[list[Union[str, float]]]  # noqa: UP007
    note: str = ""


class ClaimItem(Strict):
    """A qualitative claim of the paper as a predicate over one seed's metrics."""

    id: str
    claim: str  # in the paper's words
    source: str  # paper section, figure or table
    experiments: list[str]
    predicate: str  # over one seed's metrics, e.g. "{selectivity.suppression.r2} >= 0.985"
    value: str  # the number the claim is about, shown beside the verdict
    published: str  # what the paper printed
    threshold: str  # why the predicate's threshold is what it is
    # what the paper's sentence is about: the model it reports, or every run of the sweep ("all 60
    # runs ..."), which holds only when every seed does
    of: Literal["selected seed", "every seed"] = "selected seed"
    # "fails" where the paper's own numbers contradict the claim; `discrepancy` names the registry's
    # discrepancy entry that records the same fact, so both give one verdict
    expected: Literal["holds", "fails"] = "holds"
    discrepancy: str = ""
    # experiments where the claim is evaluated as a finding, not enforced (e.g. ex-2.9.1-width10)
    informational: list[str] = []


STATISTICS = ("median", "mean", "sd", "min", "max", "at-max", "at-median", "count", "exact", "seed")


class StatisticItem(Strict):
    """A statistic the authors' follow-up printed over its runs (or one computed for a finding only,
    without `value`): a per-run quantity, the runs it is taken over, and how it was printed. Judged
    as distributions, never run for run (repro.fidelity.followup)."""

    id: str
    source: str  # report and section
    experiments: list[str]  # their every seed's evaluations are pooled
    quantity: str  # per run, e.g. "{probes.groups.zero.score}"; for count: a predicate
    # more quantities of the same runs (e.g. the three channels of a colour): the statistic is taken
    # of each, and `combine` of those is the value
    quantities: list[str] = []
    combine: Literal["", "max", "min"] = ""
    where: str = ""  # a predicate that picks the runs the statistic is over ("" = every run)
    statistic: Literal["median", "mean", "sd", "min", "max", "at-max", "at-median", "count", "exact", "seed"]
    by: str = ""  # at-max / at-median: the quantity that picks the run
    value: float | None = None  # as printed; None: computed for the findings only
    decimals: int = 0
    n: int = 0  # how many runs the printed value summarised (its sample size)
    note: str = ""


class FindingItem(Strict):
    """A claim of the follow-up as a predicate over statistics ({stat[ID]}), evaluated on repro's
    statistics and on the follow-up's own printed ones (where they are all printed)."""

    id: str
    claim: str  # in the report's words
    source: str
    predicate: str  # e.g. "{stat[sca2.ex-2.9.2.fallback_zero.score.median]} < {stat[...]}"
    published: str  # what the report printed
    threshold: str  # where the predicate's numbers come from
    seed_level: str = ""  # what of the claim names individual runs (JAX's streams: not comparable)
    contradiction: str = ""  # where the report contradicts itself, with the evidence


class RegistryFile(Strict):
    """One registry file: numbers, discrepancies, tables and claims; the follow-up's statistics
    and findings."""

    number: list[NumberItem] = []
    discrepancy: list[DiscrepancyItem] = []
    table: list[TableItem] = []
    claim: list[ClaimItem] = []
    statistic: list[StatisticItem] = []
    finding: list[FindingItem] = []
    # experiment -> the same experiment with the follow-up's port deviations switched on: every
    # statistic and finding is judged on both
    port: dict[str, str] = {}


@dataclass(frozen=True)
class Entry:
    """One published value to check (a number, a table cell or a discrepancy)."""

    id: str
    source: str
    experiment: str
    path: str
    value: float
    decimals: int
    kind: str = "number"  # number | cell | discrepancy
    group: str = ""  # the table or file it belongs to
    code_value: float | None = None
    note: str = ""

    @property
    def scope(self) -> str:
        """Which result the path reads: run, sweep or spec."""
        return self.path.partition(":")[0]


@dataclass(frozen=True)
class Registry:
    """Every entry and claim of the registry, checked."""

    entries: list[Entry]
    claims: list[ClaimItem]
    statistics: list[StatisticItem] = field(default_factory=list)
    findings: list[FindingItem] = field(default_factory=list)
    ports: dict[str, str] = field(default_factory=dict)

    def followup_experiments(self) -> list[str]:
        """The experiments the follow-up's statistics read (their port variants included)."""
        mine = {x for st in self.statistics for x in st.experiments}
        return sorted(mine | {self.ports[x] for x in mine if x in self.ports})

    def check_known(self, experiments: list[str]) -> None:
        """ReproError unless every experiment has something registered (an entry, claim or statistic)."""
        known = ({e.experiment for e in self.entries} | {x for c in self.claims for x in c.experiments}
                 | set(self.followup_experiments()))
        unknown = sorted(set(experiments) - known)
        if unknown:
            raise ReproError(f"no registry entries for {', '.join(unknown)}; registered: {', '.join(sorted(known))}")


def registry_files(directory: Path | None = None) -> list[tuple[Path, RegistryFile]]:
    """Every registry file but the fingerprints, read and checked, in name order."""
    d = directory or registry_dir()
    files = sorted(d.glob("*.toml")) if d.is_dir() else []
    if not files:
        raise ReproError(f"no registry: {d} holds no *.toml files")
    out = []
    for f in files:
        if f.name == FINGERPRINTS:
            continue  # upstream's model fingerprints: their own schema (load_fingerprints)
        try:
            out.append((f, RegistryFile.model_validate(tomllib.loads(read_text(f, "registry")))))
        except RecursionError:
            raise ReproError(f"{f}: nested too deeply to be a registry") from None
        except tomllib.TOMLDecodeError as e:
            raise ReproError(f"{f}: not valid TOML ({e})") from None
        except ValidationError as e:
            where, message = first_problem(e, RegistryFile)
            raise ReproError(f"{f}: {where}: {message}") from None
    return out


def load_registry(directory: Path | None = None) -> Registry:
    """The registry's entries and claims, checked whole (ids unique, paths and expressions
    valid, fingerprints readable) before any work starts."""
    d = directory or registry_dir()
    entries: list[Entry] = []
    claims: list[ClaimItem] = []
    statistics: list[StatisticItem] = []
    findings: list[FindingItem] = []
    ports: dict[str, str] = {}
    where: dict[str, Path] = {}  # the file each follow-up item is in, for messages
    for f, data in registry_files(d):
        entries += _entries_of(data, f)
        claims += data.claim
        statistics += data.statistic
        findings += data.finding
        ports.update(data.port)
        where.update({st.id: f for st in data.statistic})
        where.update({fi.id: f for fi in data.finding})
        where.update({f"[port] {k}": f for k in data.port})
    load_fingerprints()  # the fingerprints, checked before any work starts
    ids = Counter([e.id for e in entries] + [c.id for c in claims] + [st.id for st in statistics]
                  + [fi.id for fi in findings])
    bad = next((i for i in ids if not _ID.fullmatch(i)), None)
    if bad is not None:  # ids reach terminals, file names and LaTeX
        raise ReproError(f"registry id {bad[:60]!r}: use only letters, digits, '.', '_' and '-'")
    # an experiment is a name or a spec file's path; neither may carry control characters
    experiments = ({e.experiment for e in entries} | {x for c in claims for x in c.experiments}
                   | {x for st in statistics for x in st.experiments})
    bad = next((x for x in sorted(experiments) if any(unicodedata.category(ch) == "Cc" for ch in x)), None)
    if bad is not None:
        raise ReproError(f"registry experiment {bad[:60]!r}: holds a control character")
    dup = sorted(i for i, n in ids.items() if n > 1)
    if dup:
        raise ReproError(f"duplicate registry ids: {', '.join(dup)}")
    if not entries and not claims and not statistics:
        raise ReproError(f"no registry entries in {d}")
    _check_followup(statistics, findings, ports, where)
    for e in entries:
        scope, _, expr = e.path.partition(":")
        if scope not in SCOPES:
            raise ReproError(f"registry entry {e.id}: path {e.path!r} must start with run:, sweep:, seeds: or spec:")
        if e.decimals < 0 or e.decimals > 20:
            raise ReproError(f"registry entry {e.id}: decimals must lie in 0..20, got {e.decimals}")
        _syntax(e.id, expr)
    discrepancies = {e.id for e in entries if e.kind == "discrepancy"}
    for c in claims:
        _syntax(c.id, c.predicate)
        _syntax(c.id, c.value)
        if c.discrepancy and c.discrepancy not in discrepancies:
            raise ReproError(f"registry claim {c.id}: discrepancy {c.discrepancy!r} is not a [[discrepancy]] id; "
                             f"known: {', '.join(sorted(discrepancies)) or 'none'}")
        if c.discrepancy and c.expected != "fails":
            raise ReproError(f"registry claim {c.id}: a claim tied to a discrepancy is expected to fail "
                             f"(expected = \"fails\")")
    return Registry(entries, claims, statistics, findings, ports)


def _check_followup(statistics: list[StatisticItem], findings: list[FindingItem], ports: dict[str, str],
                    where: dict[str, Path]) -> None:
    """The follow-up's items, checked before any work: each message names the file, the item and the field."""
    from repro.config.spec import available

    names = set(available())
    known = {st.id for st in statistics}

    def fail(id_: str, message: str) -> None:
        raise ReproError(f"{where.get(id_, 'registry')}: {id_}: {message}")

    for st in statistics:
        if not st.experiments:
            fail(st.id, "experiments: name at least one experiment")
        for x in st.experiments:
            if x not in names:
                fail(st.id, f"experiments: {x!r} is not an experiment (experiments/*.toml)")
        for name, expr in (("quantity", st.quantity), *(("quantities", q) for q in st.quantities),
                           ("where", st.where), ("by", st.by)):
            if expr:
                try:
                    check_syntax(expr)
                except (ExpressionError, SyntaxError) as e:
                    fail(st.id, f"{name}: {e}")
        if bool(st.quantities) != bool(st.combine):
            fail(st.id, "quantities and combine go together")
        if st.statistic in ("at-max", "at-median") and not st.by:
            fail(st.id, f"by: {st.statistic} needs the quantity that picks the run")
        if st.value is not None and st.statistic not in ("exact", "seed") and st.n < 1:
            fail(st.id, f"n: a printed {st.statistic} needs the number of runs it summarised (>= 1)")
        if not 0 <= st.decimals <= 20:
            fail(st.id, f"decimals: must lie in 0..20, got {st.decimals}")
    for original, port in ports.items():
        for x in (original, port):
            if x not in names:
                fail(f"[port] {original}", f"{x!r} is not an experiment (experiments/*.toml)")
    for fi in findings:
        try:
            check_syntax(fi.predicate)
        except (ExpressionError, SyntaxError) as e:
            fail(fi.id, f"predicate: {e}")
        for ref in re.findall(r"stat\[([^\]]+)\]", fi.predicate):
            if ref not in known:
                fail(fi.id, f"predicate: stat[{ref}] is not a [[statistic]] id")


def _syntax(id_: str, expr: str) -> None:
    try:
        check_syntax(expr)
    except (ExpressionError, SyntaxError) as e:
        raise ReproError(f"registry entry {id_}: {e}") from None


def _entries_of(data: RegistryFile, f: Path) -> list[Entry]:
    out = [Entry(n.id, n.source, n.experiment, n.path, n.value, n.decimals, "number", f.stem, note=n.note)
           for n in data.number]
    out += [Entry(d.id, d.source, d.experiment, d.path, d.value, d.decimals, "discrepancy", f.stem, d.code_value,
                  d.evidence) for d in data.discrepancy]
    for t in data.table:
        for row in t.rows:
            name, values = row[0], row[1:]
            if not isinstance(name, str) or len(values) != len(t.columns) or any(isinstance(v, str) for v in values):
                raise ReproError(f"{f}: table {t.id} row {row!r}: a colour name, then {len(t.columns)} numbers "
                                 f"({', '.join(t.columns)})")
            for col, v in zip(t.columns, values):
                out.append(Entry(f"{t.id}.{name.replace(' ', '_')}.{col}", t.source, t.experiment,
                                 f"run:per_color[{name}].{col}", float(v), t.decimals, "cell", t.id, note=t.note))
    return out


class Fingerprints(Strict):
    """The schema of fingerprints.toml: initial and trained model hashes per platform."""

    initial: dict[str, str] = {}
    trained: dict[str, dict[str, str]] = {}


def load_fingerprints() -> dict:
    """The fingerprints, checked; {} when the registry has none (every platform then has none)."""
    path = registry_dir() / FINGERPRINTS
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(read_text(path, "fingerprint registry"))
        Fingerprints.model_validate(data)
    except tomllib.TOMLDecodeError as e:
        raise ReproError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise ReproError(f"{path}: nested too deeply to be a fingerprint registry") from None
    except ValidationError as e:
        where, message = first_problem(e, Fingerprints)
        raise ReproError(f"{path}: {where}: {message}") from None
    return data
