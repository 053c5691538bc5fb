"""What the report shows, gathered once per build.

- the layout (paper/report.toml): which experiments, in what order, and which published tables
  make up the paper's tables;
- each experiment's sweep (run once; cached per seed) and the run the sweep selected, with its
  metrics and training record (the spec's `seed` is only checked against the selection);
- the published numbers (registry/*.toml) and the verification report (results/verification.json),
  each read by one function here, so a change of either format is adapted in one place.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np

from repro.base.errors import ReproError
from repro.base.files import read_text
from repro.base.paths import paper_dir
from repro.store.layout import LOSSES, verification_file
from repro.store.results import read_training_record
from repro.base.display import Stages
from repro.base.progress import Log
from repro.config.spec import Spec, load_spec
from repro.fidelity.verify import VerificationReport
from repro.store.records import Metrics, SweepSummary, TrainingRecord


# The paper's words for each kind of intervention (spec names are identifiers).
KIND_NAMES = {"suppression": "Suppression", "repulsion": "Repulsion", "subspace-suppression": "Subspace suppression",
              "ablation": "Ablation", "pruning": "Pruning"}


# ---------------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class TablePart:
    """One registry table's share of a paper table."""

    registry: str  # a [[table]] id in registry/
    columns: list[str]


@dataclass(frozen=True)
class PaperTable:
    """A table of the paper as the report lays it out."""

    id: str
    caption: str
    place: str  # "main" or an experiment's name: where the table is printed
    rows: list[str]
    parts: list[TablePart]


@dataclass(frozen=True)
class ExperimentLayout:
    """How the report shows one experiment."""

    name: str
    short: str  # the paper's name for the model ("Anchored")
    colours: str  # registry table with the published 17 colours
    sweep: bool = True
    main: bool = False  # its results figure is one of the paper's main-text figures
    caption: str = ""  # what its results figure shows (LaTeX)
    extras_caption: str = ""  # what the interventions the paper does not show do (LaTeX)


@dataclass(frozen=True)
class Layout:
    """The report's layout (paper/report.toml)."""

    experiments: dict[str, ExperimentLayout]
    tables: list[PaperTable]


def read_layout(path: Path | None = None) -> Layout:
    """The report's layout, with one-line errors."""
    path = path or paper_dir() / "report.toml"
    try:
        data = tomllib.loads(read_text(path, "report layout"))  # binary or a FIFO: one line, not a traceback
        exps = {name: ExperimentLayout(name=name, **data["experiment"][name]) for name in data["experiments"]}
        tables = [PaperTable(id=t["id"], caption=t["caption"], place=t["place"], rows=t["rows"],
                             parts=[TablePart(**p) for p in t["parts"]]) for t in data.get("table", [])]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as e:
        raise ReproError(f"{path}: not a valid report layout ({type(e).__name__}: {e})") from None
    return Layout(exps, tables)


# ---------------------------------------------------------------------------------------------
# Runs and sweeps


@dataclass
class Experiment:
    """An experiment as the report shows it: its spec, selected run and sweep."""

    layout: ExperimentLayout
    spec: Spec  # at the selected seed
    metrics: Metrics  # the selected run's metrics.json
    eval_dir: Path
    training: TrainingRecord  # its training.json
    sweep: SweepSummary | None  # the sweep's summary.json

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.spec.name

    @property
    def training_dir(self) -> Path:
        """The selected run's trained-model folder."""
        return self.eval_dir.parent

    @cached_property
    def model(self):
        """The selected run's trained model."""
        from repro.store.results import load_model

        return load_model(self.training_dir, self.spec, self.training)

    def losses(self) -> np.ndarray:
        """The training loss at every step."""
        return np.load(self.training_dir / LOSSES)

    def intervention_name(self, name: str) -> str:
        """An intervention's name in the paper's words."""
        return KIND_NAMES.get(self.spec.interventions[name].kind, name)


def collect(layout: Layout, jobs: int | None = None, log: Log = print) -> dict[str, Experiment]:
    """Each experiment's sweep (once) and the run it selected; computed only where missing."""
    from repro.pipeline.executors import running
    from repro.base.display import ProgressLine
    from repro.pipeline.runner import run_one
    from repro.pipeline.sweep import run_sweep

    out: dict[str, Experiment] = {}
    with running("local", jobs) as executor:
        for name, lay in layout.experiments.items():
            spec = load_spec(name)
            summary = None
            seed = spec.seed
            if lay.sweep:
                with ProgressLine(f"{name} sweep", unit="seeds trained") as bar:
                    _, summary = run_sweep(spec, executor=executor, progress=bar, log=log)
                seed = summary["selected_seed"]
                if seed != spec.seed:
                    log(f"warning: {name}: the sweep selected seed {seed}, but the spec's seed is {spec.seed}; "
                        f"the report shows seed {seed}")
            selected = spec.with_seed(seed)
            with ProgressLine(f"{name} seed {seed}") as line:
                path, metrics, _ = run_one(selected, progress=line, log=log)
            training = read_training_record(path.parent)
            out[name] = Experiment(lay, selected, metrics, path, training, summary)
    return out


# ---------------------------------------------------------------------------------------------
# Published numbers (registry/*.toml)


@dataclass(frozen=True)
class PublishedTable:
    """A published per-colour table."""

    id: str
    source: str
    experiment: str
    columns: list[str]
    rows: dict[str, list[float]]  # colour name -> one value per column

    def value(self, row: str, column: str) -> float | None:
        """The published value of a cell, or None."""
        values = self.rows.get(row)
        return None if values is None or column not in self.columns else values[self.columns.index(column)]

    def check_id(self, row: str, column: str) -> str:
        """The id `repro verify` gives this cell."""
        return f"{self.id}.{row.replace(' ', '_')}.{column}"


@dataclass(frozen=True)
class PublishedNumber:
    """A published number with its precision."""

    id: str
    experiment: str
    path: str
    value: float
    precision: int  # decimals as printed


@dataclass
class Published:
    """The registry's tables and numbers as the report prints them beside the reproduced ones."""

    tables: dict[str, PublishedTable]
    numbers: list[PublishedNumber]

    def table(self, table_id: str) -> PublishedTable:
        """A published table by id (ReproError if the registry has none)."""
        if table_id not in self.tables:
            raise ReproError(f"the report layout names registry table {table_id!r}, which is not in the registry")
        return self.tables[table_id]

    def number(self, experiment: str, path: str) -> PublishedNumber | None:
        """The most precise published value of `path` ("sweep:stats.score.mean") for an experiment."""
        found = [n for n in self.numbers if n.experiment == experiment and n.path == path]
        return max(found, key=lambda n: n.precision) if found else None


def read_registry(directory: Path | None = None) -> Published:
    """The published tables and numbers the report prints beside what was reproduced."""
    from repro.fidelity.registry import registry_files

    tables, numbers = {}, []
    for _f, data in registry_files(directory):
        for t in data.table:
            tables[t.id] = PublishedTable(t.id, t.source, t.experiment, list(t.columns),
                                          {str(r[0]): [float(v) for v in r[1:]] for r in t.rows})
        for n in data.number:
            numbers.append(PublishedNumber(n.id, n.experiment, n.path, float(n.value), int(n.decimals)))
    return Published(tables, numbers)


# ---------------------------------------------------------------------------------------------
# Verification (results/verification.json)


@dataclass(frozen=True)
class VerifiedNumber:
    """One number of results/verification.json as the report lists it."""

    id: str
    experiment: str
    source: str
    published: float | None
    reproduced: float | None
    difference: float | None
    status: str  # opaque: the report only styles it (see repro.report.tables.STATUS_STYLE)
    note: str = ""  # why: the verdict's reason
    decimals: int | None = None  # as published
    band: float | None = None  # half-width of the noise band
    draws: tuple[float, float] | None = None  # smallest and largest measured draw
    beyond_draws: bool = False  # within noise only through the band's factor
    evidence: str = ""  # a discrepancy's evidence, or the registry's note

    @property
    def notable(self) -> bool:
        """Worth a row in the report's listing: a value that differs, fails or is a discrepancy, or
        one within noise only through the band's factor. Passes, values the draws reached and
        untestable values are counted, not listed (results/verification.csv lists every one)."""
        return self.status not in ("pass", "within noise", "not testable") or self.beyond_draws


@dataclass
class Verification:
    """results/verification.json as the report reads it."""

    checks: list[VerifiedNumber] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # experiment -> model_sha256 it checked

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verification:
        """The report's view of a verification report (read_verification_report). Reports list their checks as
        "entries" (earlier ones as "records", with "note" for "reason")."""
        records = data["entries"] if "entries" in data else data.get("records", [])
        checks = [VerifiedNumber(id=r["id"], experiment=r.get("experiment", ""), source=r.get("source", ""),
                        published=r.get("published"), reproduced=r.get("reproduced"),
                        difference=r.get("difference"), status=str(r.get("status", "")),
                        note=r.get("reason") or r.get("note") or "", decimals=r.get("decimals"),
                        band=r.get("band"), draws=tuple(r["draws"]) if r.get("draws") else None,
                        beyond_draws=bool(r.get("beyond_draws")),
                        evidence=r.get("note", "") if "reason" in r else "")
                  for r in records]
        models = {x: s["model_sha256"] for x, s in data.get("experiments", {}).items() if s.get("model_sha256")}
        return cls(checks, models)

    @cached_property
    def by_id(self) -> dict[str, VerifiedNumber]:
        """The checks by id."""
        return {c.id: c for c in self.checks}

    def status(self, check_id: str) -> str | None:
        """A check's status, or None if it was not checked."""
        c = self.by_id.get(check_id)
        return None if c is None else c.status

    def counts(self, checks: list[VerifiedNumber] | None = None) -> dict[str, int]:
        """Checks per status, most common first."""
        return dict(Counter(c.status for c in (self.checks if checks is None else checks)).most_common())

    def stale(self, data: dict[str, Experiment]) -> list[str]:
        """Experiments whose model is not the one this report checked."""
        return [x for x, e in data.items() if x in self.models and self.models[x] != e.metrics["model_sha256"]]


def verification_path() -> Path:
    """Where the full verification report is."""
    return verification_file()


def read_verification_report(path: Path | None = None) -> VerificationReport:
    """results/verification.json as written (the one reader of the file), with one-line errors."""
    path = path or verification_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ReproError(f"{path}: not a verification report ({type(e).__name__}: {e}); run `repro verify`") from None
    if not isinstance(data, dict):
        raise ReproError(f"{path}: not a verification report; run `repro verify`")
    return cast(VerificationReport, data)


def read_verification(path: Path | None = None) -> Verification:
    """The verification report as the report lists it, with one-line errors (empty if none yet)."""
    path = path or verification_path()
    if not path.exists():
        return Verification()
    report = read_verification_report(path)
    try:
        return Verification.from_json(report)
    except (KeyError, TypeError, AttributeError) as e:
        raise ReproError(f"{path}: not a verification report ({type(e).__name__}: {e}); run `repro verify`") from None


def run_verification(data: dict[str, Experiment], jobs: int | None = None, log: Log = print,
                     stages: Stages | None = None) -> Path:
    """`repro verify` over the whole registry, reading the runs and sweeps collected here
    (so no sweep runs twice); writes results/verification.json and returns its path. The time
    its noise bands and per-seed evaluations took goes to `stages` as parts of their own."""
    from repro.fidelity import verify as V
    from repro.fidelity.registry import load_registry
    from repro.pipeline.workspace import Workspace
    from repro.base.paths import results_dir

    reader = Workspace(log=log, jobs=jobs, runs={x: e.metrics for x, e in data.items()},
                       sweeps={x: e.sweep for x, e in data.items() if e.sweep is not None})
    try:
        return V.write_report(V.verify(load_registry(), reader), results_dir())
    finally:
        if stages is not None:
            for what, seconds in reader.seconds.items():
                stages.part(what, seconds)
