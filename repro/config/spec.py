"""Experiment specs: TOML files read into strict, frozen, validated models.

A spec may `extends = "other"` (tables merge key by key; `remove = ["a.b"]` drops inherited
keys) and is then resolved to one flat value. The paper's shared hyperparameters live in
`experiments/_base.toml`, which every experiment extends: the schema has no defaults for them,
so a spec states (or visibly inherits) every value that shapes a result. `--set dotted.key=value`
overrides must name a key of the resolved spec and parse (as a TOML value) to that key's type.

Regularisers and interventions are tagged unions on `kind`; each kind is declared once, beside
its arithmetic (repro.method.regularizers, repro.method.interventions, repro.method.surgery). Every error is one line
naming the file and the field.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import re
import tomllib
import unicodedata
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, PrivateAttr, ValidationError

from repro.method import interventions
from repro.method import regularizers
from repro.method import surgery
from repro.config.dopesheet import Dopesheet, load_dopesheet, with_keyframe
from repro.base.errors import IneffectiveOverride, SpecError, shown
from repro.base.files import read_text
from repro.base.paths import experiments_dir
from repro.base.schema import NAME, NAME_RULE, Problems, Strict, finite, first_problem, unit_vector

MAX_SEED = 2**63 - 1  # seeds become int64 draws and generator seeds


# ---------------------------------------------------------------------------------------------
# Schema

# One spec field per kind, told apart by `kind` (the classes live beside their arithmetic).
Regularizer = Annotated[
    Union[regularizers.AnchorSpec, regularizers.AntiAnchorSpec, regularizers.SubspaceSpec,  # noqa: UP007
          regularizers.AntiSubspaceSpec, regularizers.SeparateSpec, regularizers.FallbackSpec],
    Field(discriminator="kind"),
]
Intervention = Annotated[
    Union[interventions.SuppressionSpec, interventions.RepulsionSpec,  # noqa: UP007
          interventions.SubspaceSuppressionSpec, surgery.AblationSpec, surgery.PruningSpec,
          surgery.ReflectSpec, surgery.RedirectSpec, surgery.OptimalAblationSpec],
    Field(discriminator="kind"),
]


class About(Strict):
    """Presentation only (not part of any cache key)."""

    title: str = ""
    paper: str = ""
    notebook: str = ""
    notes: list[str] = []


class ModelSpec(Strict):
    """The autoencoder's shape: latent width, hidden width and hidden layers, and its GELU."""

    latent_dim: int
    hidden_width: int
    hidden_layers: int
    gelu: Literal["exact", "tanh"]  # exact (erf), as upstream; tanh: the approximation the authors' JAX port used


class DataSpec(Strict):
    """The training colours and how they are batched."""

    grid: int  # training colours: linspace(0, 1, grid)^3
    batch_size: int
    loader_workers: int  # upstream's DataLoader workers: each had its own label random stream


class LabelSpec(Strict):
    """Training label probability scale * attribute^power; validation labels exact or absent."""

    attribute: Literal["redness", "vibrancy"]
    power: float
    scale: float
    validation: Literal["exact", "none"]


class ValidationSpec(Strict):
    """The validation colours and how often validation runs."""

    colors: Literal["cell-centres", "grid"]
    grid: int
    batch_size: int
    every: int
    unit: Literal["steps", "epochs"]
    # None: every colour, in order. n: each validation draws n colours with replacement (torch's
    # RandomSampler, as upstream's 2.9.1 notebook did at ebbddd5 and 7dd2412), validated as batches.
    sample: int | None = Field(default=None, ge=1)
    # n: after every n-th step's update, record the follow-up's trajectory point (repro.engine.trajectory;
    # needs evaluation.probes); None: no trajectory
    trajectory: int | None = Field(default=None, ge=1)


class LossCube(Strict):
    """HSV cube for max error and the hue plots: hues over [-1/12, 13/12], then every stride-th."""

    hues: int
    saturations: int
    values: int
    stride: int


class HealthSpec(Strict):
    """sca2's health classes: catastrophic beyond any of the first three, else degraded beyond the last."""

    anchor_above: float  # 1 - z . latent at the concept colour
    recon_above: float  # mean clamped error over the validation colours
    leak_above: float
    degraded_leak_above: float


class ProbesSpec(Strict):
    """The follow-up's measurements (repro.engine.probes): colour groups of the score grid by their
    similarity^power, the concept's latent direction, and the health classes."""

    power: float
    target_above: float
    others_below: float
    latent: list[float]
    health: HealthSpec


class EvaluationSpec(Strict):
    """What an evaluation measures: the concept, the similarity and the cubes it uses."""

    concept_hsv: list[float]
    similarity: Literal["angular", "cosine"]
    correlation_cube: Literal["rgb", "loss"]  # rgb: the 20^3 RGB cube
    loss_cube: LossCube
    probes: ProbesSpec | None = None  # only the follow-up experiments measure these


class ScoreSpec(Strict):
    """Selectivity used to pick a run: r^2 of error under `intervention` vs target^power."""

    intervention: str
    against: Literal["similarity", "vibrancy"]
    power: float
    grid: int


class SweepSpec(Strict):
    """A sweep's seeds and the objectives its Pareto front is taken over."""

    seeds: str
    minimize: list[str]
    maximize: list[str]


class FiguresSpec(Strict):
    """Which latent dims the stacked figures show: (x, y, depth) per panel; -1 means none."""

    latent_dims: list[list[int]] = [[1, 0, 2], [1, 2, 0]]
    pruned_latent_dims: list[list[int]] = [[1, 0, -1], [0, 1, -1]]


class Spec(Strict):
    """An experiment as declared: every field of its TOML, checked whole, plus its dopesheet."""

    dopesheet: str
    seed: int
    about: About = About()
    model: ModelSpec
    data: DataSpec
    labels: dict[str, LabelSpec]
    validation: ValidationSpec
    regularizers: dict[str, Regularizer]
    interventions: dict[str, Intervention]
    evaluation: EvaluationSpec
    score: ScoreSpec
    sweep: SweepSpec
    figures: FiguresSpec = FiguresSpec()
    # Whether the last step uses the dopesheet's last row: upstream's loop never applied it (step k
    # used row min(k, L - 2), method-spec §4.1); the authors' JAX port did.
    final_row: Literal["skipped", "applied"]
    # Keyframes set over the dopesheet's: {column: {step: value}} ([schedule.anchor] "750" = 0.5,
    # or --set schedule.anchor.750=0.5). Part of the spec, so a result's spec.toml and dopesheet.csv
    # still say how it was trained.
    schedule: dict[str, dict[str, float]] = {}

    # Not part of the TOML: the experiment's name, the file it came from, its schedule.
    _name: str = PrivateAttr("")
    _source: str = PrivateAttr("")
    _sheet: Dopesheet | None = PrivateAttr(None)

    @property
    def name(self) -> str:
        """The experiment's name (its file's stem)."""
        return self._name

    @property
    def source(self) -> str:
        """The file the spec was read from."""
        return self._source

    @property
    def sheet(self) -> Dopesheet:
        """The spec's dopesheet: learning rate and regulariser weights per step."""
        if self._sheet is None:
            raise SpecError(f"{self._name or 'this spec'}: no dopesheet loaded (specs come from load_spec)")
        return self._sheet

    def with_seed(self, seed: int) -> Spec:
        """The same spec with another seed (checked as a spec's seed is)."""
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise SpecError(f"seed: must be an integer in 0..2^63-1, got {seed!r}")
        return self.model_copy(update={"seed": seed})

    def replace(self, overrides: Mapping[str, Any] | None = None, /, **fields: Any) -> Spec:
        """Another spec from this one, checked whole (specs never change in place): dotted keys to
        values, e.g. spec.replace({"labels.red.scale": 0.16, "schedule.anchor.750": 0.5}), or
        top-level values by name, e.g. spec.replace(seed=3) (a table is changed key by key, through
        its dotted keys). Warns (IneffectiveOverride) when a change cannot change the model."""
        if overrides is not None and not isinstance(overrides, Mapping):
            raise SpecError(f"replace: overrides map dotted keys to values, e.g. {{'labels.red.scale': 0.16}}; "
                            f"got {type(overrides).__name__}")
        items = {**(overrides or {}), **fields}
        if not items:
            return self
        return replace(self, [f"{k}={override_text(k, v)}" for k, v in items.items()], stacklevel=3)

    def to_toml(self) -> str:
        """The resolved spec as TOML: what a result's spec.toml holds, and what `repro show` prints."""
        return to_toml(self)

    def problems(self, spec: Any = None) -> Problems:
        """Checks across fields (the schema checks each field alone); a whole spec is its own
        context, so `spec` is not read."""
        E = self.model.latent_dim
        if not 0 <= self.seed <= MAX_SEED:
            yield "seed", f"must lie in 0..2^63-1, got {self.seed}"
        for f, most in (("latent_dim", 64), ("hidden_width", 4096), ("hidden_layers", 32)):
            if not 1 <= getattr(self.model, f) <= most:
                yield f"model.{f}", f"must lie in 1..{most}"
        if not (2 <= self.data.grid <= 64 and 1 <= self.data.batch_size <= 65536 and 0 <= self.data.loader_workers <= 64):
            yield "data", "needs grid in 2..64, batch_size in 1..65536 and loader_workers in 0..64"
        for field, text in (("about.title", self.about.title), ("about.paper", self.about.paper),
                            ("about.notebook", self.about.notebook), *((f"about.notes[{i}]", n)
                                                                       for i, n in enumerate(self.about.notes))):
            if any(unicodedata.category(c) == "Cc" for c in text) or len(text) > 2000:  # C0, DEL and C1
                yield field, "must be one line of printable text (no control characters), at most 2000 characters"
        for name, lab in self.labels.items():
            yield from _name_problems("labels", name)
            yield from finite(f"labels.{name}.power", lab.power, 0.0, what="a finite number >= 0")
            yield from finite(f"labels.{name}.scale", lab.scale, 0.0, 1.0, "a probability in [0, 1]")
        v = self.validation
        if not (v.grid >= (2 if v.colors == "cell-centres" else 1) and v.grid <= 64 and v.batch_size >= 1 and v.every >= 1):
            yield "validation", "needs grid in 2..64 (cell-centres) or 1..64, batch_size >= 1 and every >= 1"
        for section, table in (("regularizers", self.regularizers), ("interventions", self.interventions)):
            for name, kind in table.items():
                yield from _name_problems(section, name)
                for field, message in kind.problems(self):
                    yield f"{section}.{name}.{field}", message
        ev = self.evaluation
        if len(ev.concept_hsv) != 3 or not all(math.isfinite(x) and 0 <= x <= 1 for x in ev.concept_hsv):
            yield "evaluation.concept_hsv", "must be three numbers in [0, 1] (hue, saturation, value)"
        lc = ev.loss_cube
        if min(lc.hues, lc.saturations, lc.values, lc.stride) < 1 or lc.hues * lc.saturations * lc.values > 4_000_000:
            yield "evaluation.loss_cube", "hues, saturations, values and stride must all be >= 1, and the cube at most 4 million colours"
        if self.validation.trajectory is not None and ev.probes is None:
            yield "validation.trajectory", "records the follow-up's probes while training: it needs evaluation.probes"
        if ev.probes is not None:
            pr = ev.probes
            yield from finite("evaluation.probes.power", pr.power, 0.0, 100.0, "a number in [0, 100]")
            for f in ("target_above", "others_below"):
                yield from finite(f"evaluation.probes.{f}", getattr(pr, f), 0.0, 1.0, "a number in [0, 1]")
            yield from unit_vector("evaluation.probes.latent", pr.latent, E)
            for f, x in pr.health.model_dump().items():
                yield from finite(f"evaluation.probes.health.{f}", x, 0.0, what="a finite number >= 0")
        if self.score.intervention not in self.interventions:
            yield "score.intervention", (f"{self.score.intervention!r} is not one of the interventions: "
                                         f"{', '.join(self.interventions) or '(none)'}")
        if not 2 <= self.score.grid <= 64:
            yield "score.grid", "must lie in 2..64"
        if not (math.isfinite(self.score.power) and self.score.power > 0):
            yield "score.power", f"must be a finite number > 0 (a power of 0 makes every target equal), got {self.score.power!r}"
        try:
            parse_seeds(self.sweep.seeds)
        except SpecError as e:
            yield "sweep.seeds", str(e)
        known = {"score", *self.validation_metrics()}
        for obj in (*self.sweep.minimize, *self.sweep.maximize):
            if obj not in known:
                yield "sweep", f"objective {obj!r} is not one of {', '.join(sorted(known))}"
        for f in ("latent_dims", "pruned_latent_dims"):
            for i, dims in enumerate(getattr(self.figures, f)):
                if len(dims) != 3 or any(not -1 <= d < E for d in dims):
                    yield f"figures.{f}[{i}]", f"must be three latent dims (x, y, depth) in -1..{E - 1} (-1: none)"

    def validation_metrics(self) -> list[str]:
        """The val_* metrics validation produces: a gated term only if one of its labels exists there."""
        out = ["val_recon"]
        for name, r in self.regularizers.items():
            if r.validate and (r.labels is None or any(
                    k in self.labels and self.labels[k].validation == "exact" for k in r.labels)):
                out.append(f"val_{name}")
        return out


def _name_problems(section: str, name: str) -> Problems:
    if not NAME.fullmatch(name):
        yield f"{section}.{name!r}", f"is not {NAME_RULE}"


# ---------------------------------------------------------------------------------------------
# Seeds


def parse_seeds(text: str) -> list[int]:
    """'0-59', '3', '0-4,10,20-22' -> sorted distinct seeds."""
    seeds: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d{1,19})(?:-(\d{1,19}))?", part)
        if not m:
            raise SpecError(f"seeds {text!r}: {part!r} is not a seed or range; use e.g. 0-59 or 0-4,10")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise SpecError(f"seeds {text!r}: range {part!r} is empty (it goes backwards)")
        if hi > MAX_SEED:
            raise SpecError(f"seeds {text!r}: {hi} is beyond the largest seed, 2^63-1")
        if hi - lo > 100_000 or len(seeds) + hi - lo > 100_000:
            raise SpecError(f"seeds {text!r}: more than 100,000 seeds")
        seeds.update(range(lo, hi + 1))
    if not seeds:
        raise SpecError(f"seeds {text!r}: no seeds; use e.g. 0-59 or 0-4,10")
    return sorted(seeds)


# ---------------------------------------------------------------------------------------------
# Loading, inheritance, overrides


def available() -> list[str]:
    """Experiment names; files starting with '_' (the shared base) are not experiments."""
    d = experiments_dir()
    if not d.is_dir():
        what = "is a file, not a folder" if d.exists() else "does not exist"
        raise SpecError(f"the experiments folder {d} {what} (set REPRO_EXPERIMENTS to the folder of specs)")
    return sorted(p.stem for p in d.glob("*.toml") if not p.name.startswith("_"))


def _locate(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        if not NAME.fullmatch(p.stem.replace(".", "-")):  # the name becomes a results folder
            raise SpecError(f"{p}: the experiment's name {p.stem!r} (the file name) is not {NAME_RULE} "
                            "(dots allowed)")
        return p
    candidate = experiments_dir() / f"{name_or_path}.toml"
    if NAME.fullmatch(name_or_path.replace(".", "-")) and candidate.exists():
        return candidate
    names = available()  # says so if the folder is missing
    close = difflib.get_close_matches(name_or_path, names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise SpecError(f"unknown experiment {name_or_path!r}.{hint} Available: {', '.join(names) or '(none)'}")


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(read_text(path, "spec"))
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be a spec") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


MAX_EXTENDS = 16


def _raw(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict, Path]:
    """The merged raw table of a spec file and the file that named the dopesheet."""
    if len(chain) >= MAX_EXTENDS:
        raise SpecError(f"{path}: 'extends' chains more than {MAX_EXTENDS} specs")
    if path.resolve() in chain:
        raise SpecError(f"{path}: 'extends' forms a cycle: {' -> '.join(str(p) for p in (*chain, path))}")
    data = _read_toml(path)
    parent_name = data.pop("extends", None)
    remove = data.pop("remove", [])
    sheet_owner = path
    if parent_name is not None:
        if not isinstance(parent_name, str) or not NAME.fullmatch(parent_name.replace(".", "-").lstrip("_")):
            raise SpecError(f"{path}: 'extends' must be an experiment name, got {parent_name!r}")
        parent_path = path.parent / f"{parent_name}.toml"
        if not parent_path.exists():
            parent_path = experiments_dir() / f"{parent_name}.toml"
        if not parent_path.exists():
            raise SpecError(f"{path}: extends {parent_name!r}, which is neither beside it nor in "
                            f"{experiments_dir()}; available: {', '.join(available())}")
        base, parent_owner = _raw(parent_path, (*chain, path.resolve()))
        if "dopesheet" not in data:
            sheet_owner = parent_owner
        if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
            raise SpecError(f"{path}: 'remove' must be a list of dotted keys, e.g. [\"regularizers.subspace\"]")
        for dotted in remove:  # drop inherited keys first, then add this file's own
            keys = dotted.split(".")
            node = base
            for k in keys[:-1]:
                node = node.get(k, {}) if isinstance(node, dict) else {}
            if not isinstance(node, dict) or keys[-1] not in node:
                raise SpecError(f"{path}: remove names {dotted!r}, which {parent_name!r} does not have")
            del node[keys[-1]]
        data = _merge(base, data)
    elif remove:
        raise SpecError(f"{path}: 'remove' needs 'extends'")
    return data, sheet_owner


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out[key] = v
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
    return out


MAX_KEY = 200  # characters in a dotted key; spec keys are a few dozen


def parse_override(item: str) -> tuple[str, Any]:
    """One `--set key=value` override as (dotted key, TOML value)."""
    if "=" not in item:
        raise SpecError(f"--set {shown(repr(item))}: expected dotted.key=value")
    key, text = item.split("=", 1)
    key, text = key.strip(), text.strip()
    if len(key) > MAX_KEY:
        raise SpecError(f"--set {shown(key)}: a key of {len(key):,} characters; keys are dotted field names "
                        "(repro show EXPERIMENT lists them)")
    if any(unicodedata.category(c) == "Cc" for c in item):
        raise SpecError(f"--set {shown(key)}: the key or value holds a line break or control character; give one "
                        "value per --set")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word: treat as a string
    return key, value


def _raw_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _ineffective(before: Spec, after: Spec, pairs: list[tuple[str, Any]]) -> list[str]:
    """Overrides that cannot change the trained model. A gated regulariser averages its loss over
    its labelled samples weighted by min(label * affinity, 1): with one label, an affinity in
    (0, 1] scales the sum and the weights alike, so it changes the model at most by rounding."""
    out = []
    for key, _ in pairs:
        m = re.fullmatch(r"regularizers\.([^.]+)\.labels\.([^.]+)", key)
        if not m or m.group(1) not in after.regularizers or m.group(1) not in before.regularizers:
            continue
        labels = after.regularizers[m.group(1)].labels or {}
        old = (before.regularizers[m.group(1)].labels or {}).get(m.group(2))
        new = labels.get(m.group(2))
        if len(labels) == 1 and old is not None and new is not None and 0 < old <= 1 and 0 < new <= 1:
            out.append(f"--set {key}: {m.group(1)} is gated by one label, whose affinity scales its weighted mean "
                       f"above and below alike; {old:g} -> {new:g} changes the model at most by rounding "
                       f"(to weaken the term, set its weight in the dopesheet: schedule.{m.group(1)}.STEP=...)")
    return out


def _float(key: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise SpecError(f"--set {key}: {str(value)[:20]}... is beyond any float") from None


def apply_overrides(data: dict, overrides: list[tuple[str, Any]]) -> dict:
    """A copy of the spec's data with the overrides applied (a key that does not exist is an error)."""
    data = json.loads(json.dumps(data))
    for key, value in overrides:
        if key.startswith("schedule.") or key == "schedule":
            # a keyframe over the dopesheet's: the column and step need not be set already
            m = re.fullmatch(r"schedule\.([^.]+)\.(\d{1,7})", key)
            if not m:
                raise SpecError(f"--set {key}: a schedule value is schedule.COLUMN.STEP=value, e.g. "
                                "schedule.anchor.750=0.5")
            if isinstance(value, int) and not isinstance(value, bool):
                value = _float(key, value)
            # one key per step: 0750 and 750 are the same step
            data.setdefault("schedule", {}).setdefault(m.group(1), {})[str(int(m.group(2)))] = value
            continue
        flat = _flatten(data)
        if key not in flat:
            close = difflib.get_close_matches(key, list(flat), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            if "." not in key and (key == "lr" or key in data.get("regularizers", {})):
                # the learning rate and the regularisers' weights live in the dopesheet
                hint = f"; {key} is scheduled in the dopesheet: set it at a step, e.g. schedule.{key}.0={value}"
            raise SpecError(f"--set {key}: no such key in the spec{hint}")
        node = data
        *parents, last = key.split(".")
        for k in parents:
            node = node[k]
        if isinstance(node[last], str) and not isinstance(value, str):
            value = _raw_text(value)  # e.g. --set sweep.seeds=3
        if isinstance(node[last], float) and isinstance(value, int) and not isinstance(value, bool):
            value = _float(key, value)  # --set labels.red.power=8
        node[last] = value
    return data


def validate(data: dict, where: str) -> Spec:
    """A raw table -> Spec, or a SpecError naming `where` and the field."""
    try:
        return Spec.model_validate(data)
    except ValidationError as e:
        field, message = first_problem(e, Spec)
        raise SpecError(f"{where}: {field + ': ' if field else ''}{message}") from None


def load_spec(name_or_path: str, overrides: list[str] | None = None, seed: int | None = None) -> Spec:
    """An experiment by name or path, resolved through `extends`, overridden, checked whole, with its
    dopesheet."""
    path = _locate(name_or_path)
    raw, sheet_owner = _raw(path)
    where = str(path)
    spec = validate(raw, where)
    pairs = [parse_override(o) for o in overrides or []]
    if seed is not None:
        if any(k == "seed" for k, _ in pairs):
            raise SpecError("both --seed and --set seed=... given; use one")
        pairs.append(("seed", seed))
    if pairs:
        before = spec
        given = "--set" if overrides else "--seed"
        spec = validate(apply_overrides(spec.model_dump(), pairs), given)
        where = f"{path} with {given}" if not (overrides and seed is not None) else f"{path} with --set and --seed"
        for message in _ineffective(before, spec, pairs):
            warnings.warn(message, IneffectiveOverride, stacklevel=2)
    return _with_schedule(spec, where, _sheet_path(sheet_owner, spec.dopesheet, where), path.stem, str(path))


def _with_schedule(spec: Spec, where: str, sheet_path: Path, name: str, source: str) -> Spec:
    """The spec checked whole, with its dopesheet (and the spec's own keyframes over it)."""
    for field, message in spec.problems():
        raise SpecError(f"{where}: {field}: {message}")
    sheet = load_dopesheet(sheet_path)
    for column, keys in spec.schedule.items():
        for step, value in keys.items():
            if not re.fullmatch(r"\d{1,7}", step):
                raise SpecError(f"{where}: schedule.{column}: {step!r} is not a step (a whole number)")
            # a regulariser the sheet does not schedule gets a column of its own (the follow-up's
            # fallback term: one weight for every step)
            sheet = with_keyframe(sheet, column, int(step), value, new=column in spec.regularizers)
    _check_schedule(spec, sheet, where, sheet_path)
    spec._name, spec._source, spec._sheet = name, source, sheet
    return spec


def load_stored_spec(spec_file: Path, dopesheet_file: Path, name: str) -> Spec:
    """The spec a result was made from: the resolved spec.toml written beside it and the
    dopesheet.csv of its trained model (the spec's `dopesheet` names the original file)."""
    spec = validate(_read_toml(spec_file), str(spec_file))
    return _with_schedule(spec, str(spec_file), dopesheet_file, name, str(spec_file))


def override_text(key: str, value: Any) -> str:
    """A Python value as the TOML text of an override, as --set takes it (TOML has no null, so
    None is refused)."""
    if value is None or isinstance(value, (dict, set)) or (isinstance(value, float) and value != value):
        raise SpecError(f"overrides: {key}: {value!r} is not a value a spec field can take "
                         "(give a number, a string, true/false or a list of them)")
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)  # numpy integers too
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
    try:
        return json.dumps(value, ensure_ascii=False)  # TOML takes any Unicode, not JSON's surrogate escapes
    except TypeError:
        raise SpecError(f"overrides: {key}: {value!r} is not a value a spec field can take") from None


def replace(spec: Spec, overrides: list[str], stacklevel: int = 2) -> Spec:
    """Another spec from this one: `overrides` as `--set` takes them, checked whole, with the
    same dopesheet file (schedule overrides included)."""
    pairs = [parse_override(o) for o in overrides]
    if any(k == "dopesheet" for k, _ in pairs):
        raise SpecError("--set dopesheet: another spec with another dopesheet is a new spec: load it with load_spec")
    changed = validate(apply_overrides(spec.model_dump(), pairs), "--set")
    for message in _ineffective(spec, changed, pairs):
        warnings.warn(message, IneffectiveOverride, stacklevel=stacklevel)
    return _with_schedule(changed, f"{spec.source} with --set", Path(spec.sheet.source), spec.name, spec.source)


FLOAT32_MAX = 3.4028234663852886e38  # numpy.finfo(numpy.float32).max


def _sheet_path(owner: Path, name: str, where: str) -> Path:
    p = owner.parent / name
    if Path(name).is_absolute() or ".." in Path(name).parts or (
            p.exists() and p.resolve().parent != owner.parent.resolve()):
        raise SpecError(f"{where}: dopesheet: {name!r} must be a file beside the spec, in {owner.parent}")
    return p


def _check_schedule(spec: Spec, sheet: Dopesheet, where: str, sheet_path: Path) -> None:
    """Every regulariser has a schedule and every schedule a regulariser; lr is scheduled.
    (Upstream trained an unscheduled term at weight 1.0, and without lr at 1e-8, silently.)"""
    props = set(sheet.props)
    if "lr" not in props:
        raise SpecError(f"{sheet_path}: no 'lr' column; the learning rate must be scheduled")
    from repro.method.adam import BETA1

    for track in sheet.tracks:  # beyond this a value is inf (or fails to convert) in training's float32
        for key in track.keys:
            if key.value > FLOAT32_MAX:
                raise SpecError(f"{sheet_path}, column {track.name!r}, step {key.step}: {key.value:g} is beyond "
                                f"float32's range (at most {FLOAT32_MAX:.3g}); training computes in float32")
    top = max(k.value for k in sheet.track("lr").keys)
    if top / (1 - BETA1) > FLOAT32_MAX:  # Adam's first step is lr / (1 - beta1), applied in float32
        raise SpecError(f"{sheet_path}, column 'lr': {top:g} makes Adam's first step {top / (1 - BETA1):g}, beyond "
                        f"float32's range (at most {FLOAT32_MAX:.3g})")
    for name in spec.regularizers:
        if name not in props:
            raise SpecError(f"{where}: regularizers.{name}: the dopesheet {sheet_path.name} has no column {name!r}; "
                            f"columns: {', '.join(sheet.props)}")
    extra = sorted(props - {"lr"} - set(spec.regularizers))
    if extra:
        raise SpecError(f"{sheet_path}: column {extra[0]!r} is not a regulariser of {where}; "
                        f"regularizers: {', '.join(spec.regularizers) or '(none)'}")
    metrics = [m for m in (*spec.sweep.minimize, *spec.sweep.maximize) if m.startswith("val_")]
    if metrics and not _validation_runs(spec, len(sheet)):
        raise SpecError(f"{where}: validation.every: validation never runs within the {len(sheet)}-step schedule, "
                        f"but the sweep objectives need {', '.join(metrics)}")


def _validation_runs(spec: Spec, steps: int) -> bool:
    v = spec.validation
    if v.unit == "steps":
        return v.every <= steps
    batches = -(-spec.data.grid**3 // spec.data.batch_size)
    return v.every * batches <= steps


# ---------------------------------------------------------------------------------------------
# Output


def to_dict(spec: Spec) -> dict:
    """The spec as plain TOML-able data, in field order (no schedule table when nothing is set)."""
    return spec.model_dump(mode="python", exclude=None if spec.schedule else {"schedule"})


def to_toml(spec: Spec) -> str:
    """The resolved spec as TOML (written next to every result)."""
    data = to_dict(spec)
    lines: list[str] = []

    def scalar(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)  # non-BMP characters stay literal, as TOML wants
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{_key(k)} = {scalar(x)}" for k, x in v.items() if x is not None) + " }"
        raise TypeError(v)

    def table(prefix: str, d: dict) -> None:
        simple = {k: v for k, v in d.items() if not isinstance(v, dict) or not _is_table(k, v)}
        nested = {k: v for k, v in d.items() if k not in simple}
        if prefix:
            lines.append(f"\n[{prefix}]")
        for k, v in simple.items():
            if v is not None:
                lines.append(f"{_key(k)} = {scalar(v)}")
        for k, v in nested.items():
            table(f"{prefix}.{_key(k)}" if prefix else _key(k), v)

    def _is_table(k, v) -> bool:
        return all(isinstance(x, dict) for x in v.values()) or k in (
            "about", "model", "data", "validation", "evaluation", "score", "sweep", "figures")

    table("", data)
    return "\n".join(lines).lstrip() + "\n"


def _key(k: str) -> str:
    return k if all(c.isalnum() or c in "-_" for c in k) and k else json.dumps(k, ensure_ascii=False)
