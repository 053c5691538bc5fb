"""The building blocks of experiment specs: strict, frozen pydantic models that forbid unknown
fields, and the turning of pydantic's errors into one line naming the file and the field.

Every kind of regulariser and intervention is one such model, declared beside its arithmetic
(repro.method.regularizers, repro.method.interventions, repro.method.surgery) with its own fields, its checks that
need the rest of the spec (`problems`), and its builder.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

Problems = Iterator[tuple[str, str]]  # (dotted field, message)

# Names become dopesheet columns, file names, table keys and LaTeX: plain identifiers only.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")
NAME_RULE = "a plain name: a letter, then letters, digits, '-' or '_' (at most 40 characters)"
UNIT_TOLERANCE = 1e-6  # |norm - 1| allowed for a direction written with a few decimals


IMMUTABLE = ("specs are immutable (a changed one would no longer be the spec that was checked): "
             "make a changed copy with spec.replace(...) or repro.spec(name, overrides=...)")


class FrozenDict(dict):
    """A dict that refuses changes: a spec's tables (labels, regularisers, schedule). Still a dict
    to everything that reads it (pydantic's serialiser, json, ==)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(IMMUTABLE)

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple:
        return FrozenDict, (dict(self),)  # pickled to workers and deep-copied without __setitem__


class FrozenList(list):
    """A list that refuses changes: a spec's vectors and dimension lists."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(IMMUTABLE)

    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __reduce__(self) -> tuple:
        return FrozenList, (list(self),)


def frozen(value: Any) -> Any:
    """The value with every dict and list in it (recursively) replaced by a frozen copy."""
    if isinstance(value, dict) and not isinstance(value, FrozenDict):
        return FrozenDict({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list) and not isinstance(value, FrozenList):
        return FrozenList(frozen(v) for v in value)
    return value


class Strict(BaseModel):
    """No type coercion ("64" is not an integer), no unknown fields, immutable all the way down:
    the model's fields cannot be set, and its dicts and lists cannot be changed in place."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    def model_copy(self, *, update: Any = None, deep: bool = False) -> Any:
        """A copy (pydantic's), with any updated dicts and lists frozen like the rest. An update
        is not checked: specs change through Spec.replace or with_seed, which check."""
        copy = super().model_copy(update=update, deep=deep)
        for name in update or {}:
            if name in type(self).model_fields:
                copy.__dict__[name] = frozen(copy.__dict__[name])
        return copy

    @model_validator(mode="after")
    def _freeze(self) -> Any:
        for name in type(self).model_fields:
            value = self.__dict__.get(name)
            if frozen(value) is not value:
                self.__dict__[name] = frozen(value)  # pydantic's frozen setattr guards fields, not their contents
        return self

    def problems(self, spec: Any) -> Problems:
        """Checks that need the whole spec (latent width, defined labels); none by default."""
        return iter(())


def unit_vector(field: str, v: list[float], dim: int) -> Problems:
    """Problems of a direction: `dim` entries, unit norm within UNIT_TOLERANCE."""
    if len(v) != dim:
        yield field, f"must be a list of {dim} numbers (model.latent_dim), got {len(v)}"
        return
    norm = math.sqrt(sum(x * x for x in v))
    if not math.isfinite(norm) or abs(norm - 1) > UNIT_TOLERANCE:
        yield field, f"must be a unit vector; its norm is {norm:.6g}"


def latent_dims(field: str, dims: list[int], dim: int, allow_all: bool = True) -> Problems:
    """Problems of a list of latent dimensions: at least one, distinct, in 0..dim-1 (and not all of them
    unless allow_all)."""
    if not dims:
        yield field, "must name at least one latent dimension"
    elif any(not 0 <= d < dim for d in dims) or len(set(dims)) != len(dims):
        yield field, f"must be distinct latent dimensions in 0..{dim - 1}, got {dims}"
    elif not allow_all and len(dims) >= dim:
        yield field, "names every latent dimension, which leaves nothing to decode"


def finite(field: str, x: float, low: float = -math.inf, high: float = math.inf, what: str = "") -> Problems:
    """Problems of a number: finite and within [low, high] (`what` words the rule in the message)."""
    if not math.isfinite(x) or not low <= x <= high:
        bounds = what or f"a finite number in [{low:g}, {high:g}]"
        yield field, f"must be {bounds}, got {x!r}"


# ---------------------------------------------------------------------------------------------
# pydantic errors -> one line


def _unwrap(tp):
    """Strip Annotated and Optional."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _union_members(tp) -> list[type[BaseModel]]:
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
    return []


def _walk(root: type[BaseModel], loc: tuple) -> tuple[list[str], type[BaseModel] | None]:
    """Follow an error location through the schema: (the user's path, the model at its end).
    Discriminator tags that pydantic inserts into locations are dropped from the path."""
    path: list[str] = []
    cls: Any = root
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            field = cls.model_fields.get(str(part))
            path.append(str(part))
            i += 1
            if field is None:
                return path, None
            cls = field.annotation
            continue
        tp = _unwrap(cls)
        origin = typing.get_origin(tp)
        if origin is dict:
            path[-1] = f"{path[-1]}.{part}" if path else str(part)
            cls = typing.get_args(tp)[1]
            i += 1
            continue
        if origin in (list, tuple):
            path[-1] = f"{path[-1]}[{part}]"
            cls = typing.get_args(tp)[0]
            i += 1
            continue
        members = _union_members(tp)
        if members:
            tag = next((m for m in members if _tag(m) == part), None)
            if tag is not None:
                cls = tag
                i += 1
                continue
            return path, None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            cls = tp
            continue
        path.append(str(part))
        i += 1
        cls = None
    tp = _unwrap(cls) if cls is not None else None
    return path, tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _tag(model: type[BaseModel]) -> str | None:
    f = model.model_fields.get("kind")
    if f is None:
        return None
    args = typing.get_args(f.annotation)
    return args[0] if args else None


def _allowed(cls: type[BaseModel] | None) -> list[str]:
    return list(cls.model_fields) if cls is not None else []


def describe(error: dict, root: type[BaseModel]) -> tuple[str, str]:
    """(dotted field, message) for one pydantic error, in this project's words."""
    loc = tuple(error["loc"])
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        path, parent = _walk(root, loc[:-1])
        allowed = _allowed(parent)
        key = str(loc[-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        owner = f" for kind {_tag(parent)!r}" if parent is not None and _tag(parent) else ""
        where = ".".join(path)
        return where, f"unknown field {key!r}{owner}{hint}; allowed: {', '.join(allowed)}"
    path, _ = _walk(root, loc)
    where = ".".join(path)
    if kind == "missing":
        return where, "missing required field"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return where, f"expected an integer, got {value!r}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return where, f"expected a finite number, got {value!r}"
    if kind in ("bool_type", "bool_parsing"):
        return where, f"expected true or false, got {value!r}"
    if kind in ("string_type",):
        return where, f"expected a string, got {value!r}"
    if kind in ("list_type", "tuple_type"):
        return where, f"expected a list, got {value!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return where, f"expected a table, got {value!r}"
    if kind == "literal_error":
        return where, f"{value!r} is not allowed; use one of {ctx.get('expected', '')}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        members = _union_members(_field_type(root, loc))
        kinds = ", ".join(repr(_tag(m)) for m in members) or ctx.get("expected_tags", "")
        got = f"kind {ctx.get('tag')!r} is not allowed" if kind == "union_tag_invalid" else "missing field 'kind'"
        return where, f"{got}; use one of {kinds}"
    if kind in ("too_short", "too_long"):
        return where, error["msg"].replace("List", "list").replace("Tuple", "list")
    if kind == "value_error":
        return where, str(ctx.get("error", error["msg"]))
    return where, error["msg"]


def _field_type(root: type[BaseModel], loc: tuple):
    path_cls: Any = root
    for part in loc:
        if isinstance(path_cls, type) and issubclass(path_cls, BaseModel):
            f = path_cls.model_fields.get(str(part))
            if f is None:
                return None
            path_cls = f.annotation
        else:
            tp = _unwrap(path_cls)
            if typing.get_origin(tp) is dict:
                path_cls = typing.get_args(tp)[1]
            else:
                return path_cls
    return path_cls


def first_problem(e: ValidationError, root: type[BaseModel]) -> tuple[str, str]:
    """The error to show: an unknown field first (it is often the misspelling of a missing one)."""
    errors = sorted(e.errors(include_url=False), key=lambda err: err["type"] != "extra_forbidden")
    return describe(dict(errors[0]), root)
