"""Property tests of repro's input languages: whatever text a user (or an attacker) gives to
--set, a spec's fields or a dopesheet, the answer is the parsed thing or one SpecError line;
a registry expression is refused in one line, valued, or raises one of the errors that
`repro verify` reports as "not computed" (never anything else). Hypothesis draws the inputs;
derandomize=True makes every run draw the same ones, so a CI failure reproduces locally (and
new inputs come with a new Hypothesis, or a change to the strategies)."""

import math
import string
import time
import tomllib
import unicodedata
import warnings
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.base.errors import IneffectiveOverride, ReproError, SpecError
from repro.config.dopesheet import parse_dopesheet
from repro.config.spec import load_spec, parse_override, parse_seeds, validate
from repro.fidelity.expr import ExpressionError, check_syntax, value_of

# Each input is answered within 5 s (Hypothesis's deadline; they take milliseconds): a parser that
# goes quadratic, or builds a huge range before refusing it, fails here.
PROPERTY = settings(max_examples=150, derandomize=True, deadline=timedelta(seconds=5),
                    suppress_health_check=[HealthCheck.too_slow])

SPEC = load_spec("ex-2.4.1")
# Real keys (so that many draws reach the field checks, not only the "no such key" one) and
# made-up ones.
KEYS = ["seed", "labels.red.scale", "labels.red.power", "model.latent_dim", "model.hidden_width", "data.grid",
        "data.batch_size", "regularizers.anchor.direction", "regularizers.anchor.labels.red",
        "interventions.suppression.falloff.strength", "interventions.ablation.dims", "score.power", "sweep.seeds",
        "schedule.anchor.750", "schedule.lr.0", "evaluation.loss_cube.stride", "about.title", "validation.every"]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
VALUES = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), TEXT,
                   st.lists(st.one_of(st.integers(-3, 70), st.floats(-2, 2)), max_size=6),
                   st.integers(0, 64), st.floats(0, 2), st.sampled_from([[1.0, 0.0, 0.0, 0.0], [0], [1, 2]]))


SET_TEXT = st.one_of(TEXT, st.tuples(st.one_of(st.sampled_from(KEYS), TEXT, st.text(min_size=200, max_size=300)), TEXT)
                     .map(lambda kv: f"{kv[0]}={kv[1]}"))


@PROPERTY
@given(SET_TEXT)
def test_any_set_text_is_parsed_or_refused_in_one_line(text):
    try:
        key, _ = parse_override(text)
    except SpecError as e:  # one line that quotes the input safely: no control character, bounded
        assert "\n" not in str(e).strip() and not any(unicodedata.category(c) == "Cc" for c in str(e))
        assert len(str(e)) < 400
    else:
        assert key == text.split("=", 1)[0].strip()


@PROPERTY
@given(st.one_of(st.sampled_from(KEYS), TEXT), VALUES)
def test_any_override_gives_a_checked_spec_or_one_line(key, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IneffectiveOverride)
        try:
            changed = SPEC.replace({key: value})
        except SpecError as e:
            assert str(e).strip() and "\n" not in str(e).strip()
            assert not any(unicodedata.category(c) == "Cc" for c in str(e)), repr(str(e))
            return
    # what came back was checked whole, and the TOML a result stores of it (spec.toml) reads back
    # as the same spec
    again = validate(tomllib.loads(changed.to_toml()), "spec.toml")
    assert again.model_dump(mode="json") == changed.model_dump(mode="json")


STEP = st.one_of(st.integers(0, 2000).map(str), st.integers(1, 50).map(lambda n: f"+{n}"),
                 st.floats(0.01, 1).map(lambda x: f"+{x:.2g}"), st.sampled_from(["", "-1", "x", "1e9", "+0"]))
CELL = st.one_of(st.floats(0, 1).map(lambda x: f"{x:.3g}"), st.floats(0, 1).map(lambda x: f"{x:.3g}"), st.just(""),
                 st.sampled_from(["1e-3", "0.5", "inf", "-0", "-1", "nan", "1e400"]))


@st.composite
def dopesheets(draw):
    """CSV text shaped like a dopesheet: mostly well formed (STEP, PHASE and ACTION, property
    columns, rising steps), with one thing broken in about half of them; or arbitrary text."""
    if draw(st.integers(0, 5)) == 0:
        return draw(TEXT)
    props = draw(st.lists(st.sampled_from(["lr", "anchor", "separate", "anchor:log", "subspace:linear:step"]),
                          min_size=1, max_size=4, unique_by=lambda h: h.split(":")[0]))
    steps = sorted(draw(st.lists(st.integers(0, 3000), min_size=1, max_size=8, unique=True)))
    rows = [[str(k), "", "", *[draw(CELL) for _ in props]] for k in steps]
    header = ["STEP", "PHASE", "ACTION", *props]
    if draw(st.booleans()):  # break one thing
        r = draw(st.integers(0, len(rows) - 1))
        how = draw(st.integers(0, 4))
        if how == 0:
            header.append(draw(st.sampled_from(["lr", "STEP", "", "x y", "a:b:c:d"])))
        elif how == 1:
            rows[r].append(draw(CELL))
        elif how == 2:
            rows[r][0] = draw(STEP)
        elif how == 3:
            header.remove(draw(st.sampled_from(["STEP", "PHASE", "ACTION"])))
        else:
            rows[r][3 + draw(st.integers(0, len(props) - 1))] = draw(TEXT.map(lambda t: t[:8]))
    return "\n".join(",".join(row) for row in [header, *rows])


@PROPERTY
@given(dopesheets())
def test_any_dopesheet_text_is_read_or_refused_in_one_line(text):
    try:
        sheet = parse_dopesheet(text, "sheet.csv")
    except SpecError as e:
        assert str(e).startswith("sheet.csv") and "\n" not in str(e).strip()
        return
    assert len(sheet) >= 1
    for track in sheet.tracks:  # every scheduled value is a finite number >= 0, at every keyframe and between
        for t in (0, len(sheet) / 2, len(sheet) - 1):
            v = sheet.value(track.name, t)
            assert math.isfinite(v) and v >= 0, (track.name, t, v)


DATA = {"score": 0.5, "selectivity": {"ablation": {"r": -0.9, "r2": 0.81}}, "max_error": {"baseline": 1e-3},
        "runs": [{"seed": 1, "score": 0.2}, {"seed": 2, "score": 0.0}], "latent": [0.1, 0.2]}
PATHS = st.sampled_from(["score", "selectivity.ablation.r", "selectivity.ablation.r2", "max_error.baseline",
                         "runs[seed=1].score", "runs[seed=2].score", "latent.1", "missing.field", "runs[seed=9].score"])


@st.composite
def expressions(draw):
    """Registry expressions built from real and missing field paths, numbers and operators, or
    arbitrary text."""
    if draw(st.booleans()):
        return draw(st.text(alphabet=string.printable, max_size=40))
    leaves = st.one_of(PATHS.map(lambda p: "{" + p + "}"), st.floats(-10, 10).map(repr), st.integers(-3, 3).map(str))
    tree = draw(st.recursive(leaves, lambda inner: st.tuples(inner, st.sampled_from(
        ["+", "-", "*", "/", "**", "<", "<=", "==", " and ", " or "]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        max_leaves=8))
    return draw(st.sampled_from(["", "abs", "-", "not "])) + ("(" + tree + ")" if draw(st.booleans()) else tree)


@PROPERTY
@given(expressions())
def test_any_registry_expression_is_valued_or_refused(expr):
    try:
        check_syntax(expr)
    except ExpressionError as e:
        assert "\n" not in str(e).strip()
        return
    try:
        value = value_of(expr, DATA)
    except (ExpressionError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return  # what verify reports as "not computed" (repro.fidelity.verify), not a traceback
    except ReproError:
        return
    assert isinstance(value, (bool, int, float))


SEED_TEXT = st.one_of(TEXT, st.lists(st.one_of(
    st.integers(0, 2**64).map(str), st.tuples(st.integers(0, 2**63), st.integers(0, 2**63)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.tuples(st.integers(0, 200), st.integers(0, 200)).map(lambda t: f"{t[0]}-{t[1]}"), st.sampled_from(["", " ", "-", "a"])),
    min_size=1, max_size=5).map(",".join))


@PROPERTY
@given(SEED_TEXT)
def test_any_seed_list_is_read_or_refused_in_one_line_and_quickly(text):
    t0 = time.perf_counter()
    try:
        seeds = parse_seeds(text)
    except SpecError as e:
        assert "\n" not in str(e).strip()
    else:
        assert seeds == sorted(set(seeds)) and 0 < len(seeds) <= 100_000 and 0 <= seeds[0] and seeds[-1] < 2**63
    assert time.perf_counter() - t0 < 5  # a huge range is refused before it is built
