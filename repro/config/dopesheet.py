"""Dopesheets: keyframed schedules for the learning rate and every regulariser weight.

A dopesheet is a CSV with reserved columns STEP, PHASE, ACTION and one column per property
(``name[:space[:easing]]``). STEP is an absolute step (``750``), an offset from the previous
absolute row (``+10``, ``-3`` from the next), or a fraction of the span between the
surrounding absolute rows (``+0.5``). An empty cell means "no keyframe here".

Between keyframes a property eases from one value to the next (minimum-jerk by default).
Before its first keyframe it holds its first keyed value; after the last it holds the last.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from repro.base.errors import SpecError

RESERVED = ("STEP", "PHASE", "ACTION")
EASINGS = ("minjerk", "linear", "step", "step-end")
SPACES = ("linear", "log")
_HEADER = re.compile(r"^(?P<prop>[^:]+)(?::(?P<space>[^:]*))?(?::(?P<easing>[^:]*))?$")
_COUNT = re.compile(r"[1-9]\d*")
_FRACTION = re.compile(r"\d*\.\d+")
_LOG_FLOOR = 1e-10
MAX_STEP = 1_000_000  # a schedule of a million steps; beyond that a typo is likelier than intent


@dataclass(frozen=True)
class Keyframe:
    """A value a property takes at a step."""

    step: int
    value: float


@dataclass(frozen=True)
class Track:
    """One property's keyframes and how to ease between them."""

    name: str
    keys: tuple[Keyframe, ...]
    space: str = "linear"
    easing: str = "minjerk"


@dataclass(frozen=True)
class Dopesheet:
    """Keyframed schedules, one track per property, over a number of steps."""

    tracks: tuple[Track, ...]
    steps: tuple[int, ...]  # resolved STEP of every row, in file order
    phases: tuple[tuple[int, str], ...]
    source: str = "<dopesheet>"

    def __len__(self) -> int:
        """Number of timeline steps: the last keyed step + 1 (1501 for the paper's sheets)."""
        return max(self.steps) + 1

    @property
    def props(self) -> tuple[str, ...]:
        """The properties the dopesheet schedules, in column order."""
        return tuple(t.name for t in self.tracks)

    def track(self, name: str) -> Track:
        """The track of a property (KeyError if there is none)."""
        for t in self.tracks:
            if t.name == name:
                return t
        raise KeyError(name)

    def value(self, prop: str, t: float) -> float:
        """A property's value at step t, interpolated between its keyframes."""
        return track_value(self.track(prop), t)

    def realize(self, n_steps: int | None = None) -> dict[str, list[float]]:
        """Every property's value at steps 0..n_steps-1 (float64, exact zeros kept exact)."""
        n = len(self) if n_steps is None else n_steps
        out = {}
        for tr in self.tracks:
            keys = _effective_keys(tr)  # once per track, not once per step
            out[tr.name] = [track_value(tr, t, keys) for t in range(n)]
        return out


def with_keyframe(sheet: Dopesheet, prop: str, step: int, value: float, new: bool = False) -> Dopesheet:
    """The dopesheet with `prop` keyed to `value` at `step` (the key there replaced, or a new
    one added); the step must lie within the schedule, so its length stays the same. `new`: a
    property the sheet lacks becomes a column of its own (one key holds from step 0 to the end)."""
    if prop not in sheet.props and not new:
        raise SpecError(f"schedule.{prop}: the dopesheet {Path(sheet.source).name} has no column {prop!r}; "
                        f"its columns: {', '.join(sheet.props)}")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(sheet):
        raise SpecError(f"schedule.{prop}.{step}: the step must be an integer in 0..{len(sheet) - 1} "
                        f"(the dopesheet's steps)")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SpecError(f"schedule.{prop}.{step}: the value must be a finite number >= 0 (learning rates and "
                        f"weights), got {value!r}")
    tracks = []
    for t in sheet.tracks:
        if t.name == prop:
            keys = [k for k in t.keys if k.step != step] + [Keyframe(step, float(value))]
            t = Track(t.name, tuple(sorted(keys, key=lambda k: k.step)), t.space, t.easing)
        tracks.append(t)
    if prop not in sheet.props:
        tracks.append(Track(prop, (Keyframe(step, float(value)),)))
    return Dopesheet(tuple(tracks), tuple(sorted(set(sheet.steps) | {step})), sheet.phases, sheet.source)


def minjerk(tau: float) -> float:
    """Quintic smoothstep with zero velocity and acceleration at both ends."""
    return tau * tau * tau * (10.0 + tau * (-15.0 + 6.0 * tau))


def _ease(easing: str, tau: float) -> float:
    if easing == "linear":
        return tau
    if easing in ("step", "step-end"):
        return 1.0 if tau >= 1.0 else 0.0
    return minjerk(tau)


def _effective_keys(track: Track) -> list[Keyframe]:
    # Upstream skips a transition whose endpoints are np.isclose (atol 1e-8): the value then
    # holds until the next keyframe. Reproduce that by replacing such targets by the held value.
    keys: list[Keyframe] = []
    for k in track.keys:
        if keys and abs(keys[-1].value - k.value) <= 1e-8 + 1e-5 * abs(k.value):
            keys.append(Keyframe(k.step, keys[-1].value))
        else:
            keys.append(k)
    return keys


def track_value(track: Track, t: float, keys: list[Keyframe] | None = None) -> float:
    """A track's value at step t: held before its first key and after its last, eased between keys (floored
    at 1e-10 in log space)."""
    keys = _effective_keys(track) if keys is None else keys
    if not keys:
        return 0.0
    if track.space == "log":
        # Log space floors every value at 1e-10 (so a keyed 0 is 1e-10, as upstream).
        keys = [Keyframe(k.step, max(k.value, _LOG_FLOOR)) for k in keys]
    if t <= keys[0].step:
        return keys[0].value
    if t >= keys[-1].step:
        return keys[-1].value
    for k0, k1 in itertools.pairwise(keys):
        if k0.step <= t <= k1.step:
            if t == k0.step:
                return k0.value
            if t == k1.step:
                return k1.value
            tau = (t - k0.step) / (k1.step - k0.step)
            s = _ease(track.easing, tau)
            if track.space == "log":
                a, b = math.log(k0.value), math.log(k1.value)
                return math.exp(a + (b - a) * s)
            return k0.value + (k1.value - k0.value) * s
    raise AssertionError("unreachable")


def resolve_steps(raw: list[str], source: str = "<dopesheet>") -> list[int]:
    """Resolve STEP cells: absolute, +N/-N counts, and +F/-F fractions between absolute rows.

    Relative rows are resolved against the nearest *absolute* rows above and below them in
    file order (never against other relative rows); fractions round half to even.
    """
    anchors = [i for i, s in enumerate(raw) if re.fullmatch(r"\d+", s.strip())]
    is_anchor = set(anchors)
    # the nearest absolute rows above and below each row, in one pass each (a long sheet stays linear)
    above: list[int | None] = []
    last: int | None = None
    for i in range(len(raw)):
        above.append(last)
        if i in is_anchor:
            last = i
    below: list[int | None] = [None] * len(raw)
    last = None
    for i in reversed(range(len(raw))):
        below[i] = last
        if i in is_anchor:
            last = i
    out: list[int] = []
    for i, cell in enumerate(raw):
        s = cell.strip()
        line = i + 2  # header is line 1
        where = f"{source}, line {line}, column STEP"
        if i in is_anchor:
            if int(s) > MAX_STEP:
                raise SpecError(f"{where}: step {s} is beyond {MAX_STEP}")
            out.append(int(s))
            continue
        if not s or s[0] not in "+-":
            raise SpecError(
                f"{where}: {cell!r} is not a step; use an integer (750), an offset (+10, -3) "
                "or a fraction of the span between absolute rows (+0.5)"
            )
        sign, v = s[0], s[1:]
        prev, nxt = above[i], below[i]
        p = int(raw[prev]) if prev is not None else None
        n = int(raw[nxt]) if nxt is not None else None
        if _COUNT.fullmatch(v):
            if sign == "+":
                if p is None:
                    raise SpecError(f"{where}: relative step {s!r} has no absolute row above it")
                step = p + int(v)
            else:
                if n is None:
                    raise SpecError(f"{where}: relative step {s!r} has no absolute row below it")
                step = n - int(v)
        elif _FRACTION.fullmatch(v):
            f = float(v)
            if p is None or n is None:
                raise SpecError(
                    f"{where}: fractional step {s!r} needs absolute rows both above and below it"
                )
            if not 0.0 < f < 1.0:
                raise SpecError(f"{where}: fraction {s!r} must lie strictly between 0 and 1")
            step = round(p + f * (n - p)) if sign == "+" else round(n - f * (n - p))
        else:
            raise SpecError(
                f"{where}: {cell!r} is not a step; after +/- use a count (+10) or a fraction (+0.5)"
            )
        out.append(max(step, 0))  # upstream clamps a relative step before 0 to 0 (method-spec §5.2)
    return out


def _bad_key(where: str, name: str, cell: str, v: float, step: int) -> None:
    """The one-line error for a keyframe cell (built only when there is one: a sheet may have
    hundreds of thousands of good cells)."""
    try:
        float(cell)
    except ValueError:
        raise SpecError(f"{where}: {cell!r} is not a number (leave the cell empty for no key)") from None
    if not math.isfinite(v):
        raise SpecError(f"{where}: {cell!r} is not a finite number")
    if v < 0:
        raise SpecError(f"{where}: {v} is negative; learning rates and weights must be >= 0")
    raise SpecError(f"{where}: a second key for {name!r} at step {step}")


def parse_dopesheet(text: str, source: str = "<dopesheet>") -> Dopesheet:
    """A dopesheet from CSV text (a step column, then a column per property; `source` names it in errors)."""
    reader = csv.reader(text.splitlines())
    try:
        rows = list(reader)
    except csv.Error as e:  # e.g. a cell longer than the csv module's field limit (131,072 characters)
        raise SpecError(f"{source}, line {reader.line_num}: not a readable CSV row ({e})") from None
    rows = [r for r in rows if any(c.strip() for c in r)] if rows else rows
    if not rows:
        raise SpecError(f"{source}: empty dopesheet")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in RESERVED if c not in header]
    if missing:
        raise SpecError(f"{source}, line 1: missing column(s) {', '.join(missing)}; "
                        f"a dopesheet needs {', '.join(RESERVED)} and one column per property")
    body = rows[1:]
    if not body:
        raise SpecError(f"{source}: no keyframe rows")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise SpecError(f"{source}, line {i + 2}: {len(r)} cells, expected {len(header)}")
    seen = set()
    for h in header:
        name = h.split(":")[0]
        if name in seen:
            raise SpecError(f"{source}, line 1: column {name!r} appears twice; each property gets one column")
        seen.add(name)
    col = {h: j for j, h in enumerate(header)}
    steps = resolve_steps([r[col["STEP"]] for r in body], source)
    for i in range(1, len(steps)):
        if steps[i] < steps[i - 1]:
            raise SpecError(
                f"{source}, line {i + 2}, column STEP: step {steps[i]} comes after step "
                f"{steps[i - 1]}; steps must not go backwards"
            )
    phases = tuple((steps[i], r[col["PHASE"]].strip()) for i, r in enumerate(body) if r[col["PHASE"]].strip())
    tracks = []
    for h, j in col.items():
        if h in RESERVED:
            continue
        m = _HEADER.match(h)
        if not m:
            raise SpecError(f"{source}, line 1: bad property header {h!r}; use name[:space[:easing]]")
        name, space, easing = m["prop"], m["space"] or "linear", m["easing"] or "minjerk"
        if space not in SPACES:
            raise SpecError(f"{source}, line 1, column {h!r}: space {space!r} is not one of {SPACES}")
        if easing not in EASINGS:
            raise SpecError(f"{source}, line 1, column {h!r}: easing {easing!r} is not one of {EASINGS}")
        keys: list[Keyframe] = []
        for i, r in enumerate(body):
            cell = r[j].strip()
            if not cell:
                continue
            try:
                v = float(cell)
            except ValueError:
                v = math.nan
            if not (math.isfinite(v) and v >= 0) or (keys and keys[-1].step == steps[i]):
                _bad_key(f"{source}, line {i + 2}, column {name!r}", name, cell, v, steps[i])
            keys.append(Keyframe(steps[i], v))
        if not keys:
            raise SpecError(f"{source}, column {name!r}: no keyframes (an empty column would hold 0 on every step)")
        tracks.append(Track(name, tuple(keys), space, easing))
    return Dopesheet(tuple(tracks), tuple(steps), phases, source)


def load_dopesheet(path: Path) -> Dopesheet:
    """A dopesheet from a CSV file, with one-line errors naming the file."""
    from repro.base.files import read_text

    return parse_dopesheet(read_text(Path(path), "dopesheet"), str(path))


def to_markdown(sheet: Dopesheet) -> str:
    """A pipe table of the resolved keyframes (blank = no key)."""
    props = sheet.props
    steps = sorted(set(sheet.steps))
    lines = ["| STEP | " + " | ".join(props) + " |", "|---:|" + "---:|" * len(props)]
    keyed = {p: {k.step: k.value for k in sheet.track(p).keys} for p in props}  # one pass per track
    for s in steps:
        cells = [("" if (v := keyed[p].get(s)) is None else f"{v:g}") for p in props]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
