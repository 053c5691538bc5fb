"""Experiment specs: TOML files read into typed, frozen, validated dataclasses.

A spec may `extends = "other"` (tables merge key by key; `remove = ["a.b"]` drops inherited
keys) and is then resolved to one flat value. `--set dotted.key=value` overrides must name a
key of the resolved spec and parse (as a TOML value) to that key's type. The resolved spec,
its dopesheet's keyframes and the package version are hashed to name the result directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from repro import __version__
from repro.dopesheet import Dopesheet, load_dopesheet
from repro.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent


def experiments_dir() -> Path:
    return Path(os.environ.get("REPRO_EXPERIMENTS", ROOT / "experiments"))


# ---------------------------------------------------------------------------------------------
# Schema


@dataclass(frozen=True)
class About:
    """Presentation only (not hashed)."""

    title: str = ""
    paper: str = ""
    notebook: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    latent_dim: int = 4
    hidden_width: int = 16
    hidden_layers: int = 1


@dataclass(frozen=True)
class DataSpec:
    grid: int = 8  # training colours: linspace(0, 1, grid)^3
    batch_size: int = 64
    # Upstream's DataLoader worker count: each worker had its own label random stream.
    loader_workers: int = 4


@dataclass(frozen=True)
class LabelSpec:
    """Training label probability scale * attribute^power; validation labels exact or absent."""

    attribute: Literal["redness", "vibrancy"] = "redness"
    power: float = 8.0
    scale: float = 0.08
    validation: Literal["exact", "none"] = "exact"


@dataclass(frozen=True)
class ValidationSpec:
    colors: Literal["cell-centres", "grid"] = "cell-centres"
    grid: int = 8
    batch_size: int = 64
    every: int = 150
    unit: Literal["steps", "epochs"] = "steps"


@dataclass(frozen=True)
class RegularizerSpec:
    kind: Literal["anchor", "anti-anchor", "subspace", "anti-subspace", "separate"]
    labels: dict[str, float] | None = None  # None: every sample
    validate: bool = False
    direction: tuple[float, ...] | None = None
    dims: tuple[int, ...] | None = None
    power: float = 100.0
    shift: bool = True


@dataclass(frozen=True)
class Falloff:
    max_angle: float = 90.0  # degrees: the gate opens for alignment > cos(max_angle)
    strength: float = 1.0
    power: float = 0.0


@dataclass(frozen=True)
class Mapper:
    kind: Literal["linear", "bezier"] = "linear"
    from_angle: float = 90.0  # degrees: alignments above cos(from_angle) are remapped
    to_angle: float = 89.0  # ... onto [cos(from_angle), cos(to_angle)]


@dataclass(frozen=True)
class InterventionSpec:
    kind: Literal["suppression", "repulsion", "subspace-suppression", "ablation", "pruning"]
    concept: tuple[float, ...] | None = None
    falloff: Falloff | None = None
    mapper: Mapper | None = None
    dims: tuple[int, ...] | None = None
    selectivity_power: float = 2.0
    selectivity_against: Literal["similarity", "vibrancy"] = "similarity"


@dataclass(frozen=True)
class LossCube:
    """HSV cube for max error and the hue plots: hues over [-1/12, 13/12], then every stride-th."""

    hues: int = 150
    saturations: int = 24
    values: int = 24
    stride: int = 1


@dataclass(frozen=True)
class EvaluationSpec:
    concept_hsv: tuple[float, float, float] = (0.0, 1.0, 1.0)
    similarity: Literal["angular", "cosine"] = "angular"
    correlation_cube: Literal["rgb", "loss"] = "rgb"  # rgb: the 20^3 RGB cube
    loss_cube: LossCube = field(default_factory=LossCube)


@dataclass(frozen=True)
class ScoreSpec:
    """Selectivity used to pick a run: r^2 of error under `intervention` vs target^power."""

    intervention: str = "suppression"
    against: Literal["similarity", "vibrancy"] = "similarity"
    power: float = 2.0
    grid: int = 8


@dataclass(frozen=True)
class SweepSpec:
    seeds: str = "0-59"
    minimize: tuple[str, ...] = ("val_recon",)
    maximize: tuple[str, ...] = ("score",)


@dataclass(frozen=True)
class FiguresSpec:
    """Which latent dims the stacked figures show: (x, y, depth) per panel; -1 means none."""

    latent_dims: tuple[tuple[int, ...], ...] = ((1, 0, 2), (1, 2, 0))
    pruned_latent_dims: tuple[tuple[int, ...], ...] = ((1, 0, -1), (0, 1, -1))


@dataclass(frozen=True)
class Spec:
    dopesheet: str
    name: str = ""
    seed: int = 0
    about: About = field(default_factory=About)
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    labels: dict[str, LabelSpec] = field(default_factory=dict)
    validation: ValidationSpec = field(default_factory=ValidationSpec)
    regularizers: dict[str, RegularizerSpec] = field(default_factory=dict)
    interventions: dict[str, InterventionSpec] = field(default_factory=dict)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    score: ScoreSpec = field(default_factory=ScoreSpec)
    sweep: SweepSpec = field(default_factory=SweepSpec)
    figures: FiguresSpec = field(default_factory=FiguresSpec)
    # Not part of the TOML: where it came from, and its loaded schedule.
    source: str = field(default="", compare=False)
    sheet: Dopesheet | None = field(default=None, compare=False, repr=False)


_RUNTIME_FIELDS = {"source", "sheet", "name"}


# ---------------------------------------------------------------------------------------------
# Generic conversion dict <-> dataclass, with errors that name the file and field


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"table of {_type_name(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return f"table ({', '.join(f.name for f in dataclasses.fields(tp))})"
    return getattr(tp, "__name__", str(tp))


def _convert(value, tp, where: str):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, args[0], where)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise SpecError(f"{where}: {value!r} is not allowed; use one of {', '.join(map(repr, allowed))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        args = typing.get_args(tp)
        item = args[0]
        out = tuple(_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) > 1 and args[1] is not Ellipsis and len(out) != len(args):
            raise SpecError(f"{where}: expected {len(args)} values, got {len(out)}")
        return out
    if origin is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(v, vt, _sub(where, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return _build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise SpecError(f"{where}: {value!r} is not a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(tp)


def _sub(where: str, key: str) -> str:
    """'file' + 'model' -> 'file: model'; 'file: model' + 'x' -> 'file: model.x'."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def _build(cls, data: dict, where: str):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _RUNTIME_FIELDS or cls is not Spec}
    kwargs = {}
    for key, value in data.items():
        if key not in fields or (cls is Spec and key in _RUNTIME_FIELDS):
            allowed = sorted(k for k in fields if not (cls is Spec and k in _RUNTIME_FIELDS))
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"{where}: unknown field {key!r}{hint}; allowed: {', '.join(allowed)}")
        kwargs[key] = _convert(value, hints[key], _sub(where, key))
    missing = [f.name for f in fields.values() if f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               and not (cls is Spec and f.name in _RUNTIME_FIELDS)]
    if missing:
        raise SpecError(f"{where}: missing required field(s) {', '.join(missing)}")
    return cls(**kwargs)


def to_dict(obj) -> Any:
    """A spec (or part) as plain TOML-able data, in field order."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.name not in ("source", "sheet")}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# Loading, inheritance, overrides


def available() -> list[str]:
    d = experiments_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def _locate(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        return p
    candidate = experiments_dir() / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    names = available()
    close = difflib.get_close_matches(name_or_path, names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise SpecError(f"unknown experiment {name_or_path!r}.{hint} Available: {', '.join(names) or '(none)'}")


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e})") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _raw(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict, Path]:
    """The merged raw table of a spec file and the file that named the dopesheet."""
    if path.resolve() in chain:
        raise SpecError(f"{path}: 'extends' forms a cycle: {' -> '.join(str(p) for p in (*chain, path))}")
    data = _read_toml(path)
    parent_name = data.pop("extends", None)
    remove = data.pop("remove", [])
    sheet_owner = path
    if parent_name is not None:
        if not isinstance(parent_name, str):
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


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise SpecError(f"--set {item!r}: expected dotted.key=value")
    key, text = item.split("=", 1)
    key, text = key.strip(), text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word: treat as a string
    return key, value


def raw_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def apply_overrides(data: dict, overrides: list[tuple[str, Any]]) -> dict:
    data = json.loads(json.dumps(data))
    for key, value in overrides:
        flat = _flatten(data)
        if key not in flat:
            close = difflib.get_close_matches(key, list(flat), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SpecError(f"--set {key}: no such key in the spec{hint}")
        node = data
        *parents, last = key.split(".")
        for k in parents:
            node = node[k]
        if isinstance(node[last], str) and not isinstance(value, str):
            value = raw_text(value)  # e.g. --set sweep.seeds=3
        node[last] = value
    return data


def load_spec(name_or_path: str, overrides: list[str] | None = None, seed: int | None = None) -> Spec:
    path = _locate(name_or_path)
    raw, sheet_owner = _raw(path)
    where = str(path)
    base = _build_spec(raw, path.stem, where)
    data = to_dict(base)
    data.pop("name")
    pairs = [parse_override(o) for o in overrides or []]
    if seed is not None:
        pairs.append(("seed", seed))
    if pairs:
        data = apply_overrides(data, pairs)
        base = _build_spec(data, path.stem, "--set")
    sheet_path = (sheet_owner.parent / base.dopesheet)
    sheet = load_dopesheet(sheet_path)
    spec = dataclasses.replace(base, source=str(path), sheet=sheet)
    _validate(spec, where)
    return spec


def _build_spec(raw: dict, name: str, where: str) -> Spec:
    data = {k: v for k, v in raw.items() if k != "name"}
    spec = _build(Spec, data, where)
    return dataclasses.replace(spec, name=name)


def _validate(spec: Spec, where: str) -> None:
    E = spec.model.latent_dim
    if E < 1 or spec.model.hidden_width < 1 or spec.model.hidden_layers < 1:
        raise SpecError(f"{where}: model sizes must be positive")
    if spec.data.batch_size < 1 or spec.data.grid < 2:
        raise SpecError(f"{where}: data.batch_size must be >= 1 and data.grid >= 2")
    if spec.data.loader_workers < 0:
        raise SpecError(f"{where}: data.loader_workers must be >= 0")
    if spec.seed < 0:
        raise SpecError(f"{where}: seed must be >= 0")
    for name, lab in spec.labels.items():
        if lab.scale < 0 or lab.scale > 1:
            raise SpecError(f"{where}: labels.{name}.scale must lie in [0, 1] (a probability)")
    for name, r in spec.regularizers.items():
        w = f"{where}: regularizers.{name}"
        if r.kind in ("anchor", "anti-anchor") and (r.direction is None or len(r.direction) != E):
            raise SpecError(f"{w}.direction must be a list of {E} numbers (model.latent_dim)")
        if r.kind in ("subspace", "anti-subspace"):
            if not r.dims or any(not 0 <= d < E for d in r.dims) or len(set(r.dims)) != len(r.dims):
                raise SpecError(f"{w}.dims must be distinct latent dimensions in 0..{E - 1}")
        for lab in (r.labels or {}):
            if lab not in spec.labels:
                raise SpecError(f"{w}.labels names {lab!r}; defined labels: {', '.join(spec.labels) or '(none)'}")
    for name, iv in spec.interventions.items():
        w = f"{where}: interventions.{name}"
        if iv.kind in ("suppression", "repulsion") and (iv.concept is None or len(iv.concept) != E):
            raise SpecError(f"{w}.concept must be a list of {E} numbers (model.latent_dim)")
        if iv.kind == "suppression" and iv.falloff is None:
            raise SpecError(f"{w}: suppression needs a falloff table (max_angle, strength, power)")
        if iv.kind == "repulsion" and iv.mapper is None:
            raise SpecError(f"{w}: repulsion needs a mapper table (kind, from_angle, to_angle)")
        if iv.kind == "repulsion" and not 0 <= iv.mapper.to_angle < iv.mapper.from_angle <= 180:
            raise SpecError(f"{w}.mapper: needs 0 <= to_angle < from_angle <= 180 degrees (it rotates "
                            f"alignments above cos(from_angle) towards cos(to_angle))")
        if iv.kind == "suppression" and not 0 <= iv.falloff.max_angle <= 180:
            raise SpecError(f"{w}.falloff.max_angle must lie in [0, 180] degrees")
        if iv.kind == "pruning" and iv.dims and len(set(iv.dims)) >= E:
            raise SpecError(f"{w}.dims: pruning every latent dimension leaves nothing to decode")
        if iv.kind in ("subspace-suppression", "ablation", "pruning"):
            if not iv.dims or any(not 0 <= d < E for d in iv.dims):
                raise SpecError(f"{w}.dims must be latent dimensions in 0..{E - 1}")
    if spec.score.intervention not in spec.interventions:
        raise SpecError(f"{where}: score.intervention {spec.score.intervention!r} is not one of the "
                        f"interventions: {', '.join(spec.interventions)}")
    # A gated term only yields a validation metric if one of its labels exists in validation.
    known = {"score", "val_recon", *(f"val_{n}" for n, r in spec.regularizers.items() if r.validate and (
        r.labels is None or any(spec.labels[k].validation == "exact" for k in r.labels)))}
    for obj in (*spec.sweep.minimize, *spec.sweep.maximize):
        if obj not in known:
            raise SpecError(f"{where}: sweep objective {obj!r} is not one of {', '.join(sorted(known))}")
    if spec.validation.every < 1:
        raise SpecError(f"{where}: validation.every must be >= 1")


def spec_hash(spec: Spec) -> str:
    """Content hash of what determines a result: resolved spec, schedule, package version."""
    data = to_dict(spec)
    data.pop("about", None)
    data.pop("figures", None)  # presentation only
    data.pop("name", None)  # the directory above the hash already says which experiment
    data.pop("dopesheet", None)  # where the schedule lives doesn't matter; its keyframes do
    sheet = spec.sheet
    keys = [[t.name, t.space, t.easing, [[k.step, k.value] for k in t.keys]] for t in sheet.tracks] if sheet else []
    steps = len(sheet) if sheet else 0  # rows without keys can still lengthen the schedule
    blob = json.dumps({"spec": data, "dopesheet": keys, "steps": steps, "version": __version__}, sort_keys=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
            return json.dumps(v)
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
    return k if all(c.isalnum() or c in "-_" for c in k) else json.dumps(k)
