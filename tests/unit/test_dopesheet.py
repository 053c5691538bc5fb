import math

import pytest

from repro.config.dopesheet import load_dopesheet, parse_dopesheet, resolve_steps, track_value
from repro.base.errors import SpecError
from tests.conftest import ROOT

SHEET_241 = ROOT / "experiments" / "ex-2.4.1.csv"


@pytest.mark.parametrize("raw, expected", [
    (["0", "10", "20"], [0, 10, 20]),
    (["0", "+0.5", "10"], [0, 5, 10]),
    (["0", "+5", "10"], [0, 5, 10]),
    (["10", "+2", "20"], [10, 12, 20]),
    (["0", "-3", "10"], [0, 7, 10]),
    (["10", "-1", "20"], [10, 19, 20]),
    (["0", "-0.5", "10"], [0, 5, 10]),
    (["10", "-0.2", "20"], [10, 18, 20]),
    (["0", "+2", "+0.5", "-1", "10"], [0, 2, 5, 9, 10]),
    (["0", "-5", "3"], [0, 0, 3]),
    (["-5", "10"], [5, 10]),
    (["0", "+0.5", "5"], [0, 2, 5]),   # banker's rounding: 2.5 -> 2
    (["0", "+0.5", "7"], [0, 4, 7]),   # 3.5 -> 4
    (["0", "+0.33", "750"], [0, 248, 750]),  # 247.5 -> 248
])
def test_step_resolution(raw, expected):
    assert resolve_steps(raw) == expected


@pytest.mark.parametrize("raw", [["+5", "10"], ["0", "+0.5"], ["0", "+abc", "10"], ["0", "-", "10"],
                                 ["0", "+1.5", "10"], ["0", "10.0", "20"]])
def test_unresolvable_steps_are_errors(raw):
    with pytest.raises(SpecError):
        resolve_steps(raw)


def test_worked_example_ex_241():
    """method-spec §5.6: resolved keyframes and values at the requested steps."""
    sheet = load_dopesheet(SHEET_241)
    assert len(sheet) == 1501
    assert sheet.steps == (0, 10, 375, 750, 1125, 1425, 1500)
    expected = {
        0: (1e-08, 0.01, 0.01, 0.01), 5: (0.005000005, 0.01, 0.01000026401, 0.01000209089),
        10: (0.01, 0.01, 0.01000209089, 0.01001639128),
        200: (0.01996929028, 0.01, 0.02096817778, 0.06060835556),
        375: (0.0538599361, 0.01, 0.055, 0.1), 500: (0.08050648, 0.01, 0.08111111111, 0.1),
        750: (0.1, 0.01, 0.1, 0.1), 1000: (0.1, 0.007323837976, 0.07323837976, 0.1),
        1125: (0.1, 0.003966874968, 0.03966874968, 0.1),
        1300: (0.1, 0.0004717258255, 0.004717258255, 0.03466194059),
        1425: (0.1, 0, 0, 0), 1450: (0.08950617284, 0, 0, 0), 1499: (0.05000116161, 0, 0, 0),
        1500: (0.05, 0, 0, 0),
    }
    for step, values in expected.items():
        got = [sheet.value(p, step) for p in ("lr", "separate", "anchor", "subspace")]
        for g, e in zip(got, values):
            assert g == pytest.approx(e, rel=1e-9, abs=1e-15), (step, got, values)
    # Exact zeros after a transition ends at 0: this is what lets a weight of 0 skip its term.
    assert sheet.value("anchor", 1425) == 0.0 and sheet.value("anchor", 1424) > 0.0
    assert sheet.value("lr", 1499) == pytest.approx(0.05000116160790134, rel=1e-15)


def test_fixture_sheet_semantics():
    text = "STEP,PHASE,ACTION,x:log,y,z::step-end\n0,One,,0.01,,1\n+0.4,,foo,,0.8,2\n10,Two,,0.001,,3\n11,Fin,,,0,4\n12,,,,,\n"
    sheet = parse_dopesheet(text)
    assert sheet.steps == (0, 4, 10, 11, 12)
    assert len(sheet) == 13
    assert sheet.props == ("x", "y", "z")
    assert [sheet.value(p, 0) for p in "xyz"] == [0.01, 0.8, 1]
    assert sheet.value("z", 1) == 1 and sheet.value("z", 3) == 1 and sheet.value("z", 4) == 2
    assert sheet.value("y", 2) == 0.8 and sheet.value("y", 6) != 0.8
    assert sheet.value("x", 10) == 0.001 and sheet.value("z", 11) == 4 and sheet.value("y", 11) == 0


def test_log_linear_step_easings():
    text = "STEP,PHASE,ACTION,a:log,b::linear,c::step-end,d::step\n0,A,,0.01,0,0,0\n4,,,0.0001,1,1,1\n8,Q,x,,,,\n"
    sheet = parse_dopesheet(text)
    rows = {1: (0.0062082436, 0.25, 0, 0), 2: (0.001, 0.5, 0, 0), 3: (0.0001610762, 0.75, 0, 0), 5: (0.0001, 1, 1, 1)}
    for t, vals in rows.items():
        for p, e in zip("abcd", vals):
            assert sheet.value(p, t) == pytest.approx(e, rel=1e-6)


def test_isclose_transition_is_skipped():
    # Upstream skips a transition between values closer than 1e-8: the value holds.
    sheet = parse_dopesheet("STEP,PHASE,ACTION,w\n0,A,,1e-9\n10,,,5e-9\n20,,,1\n")
    assert sheet.value("w", 5) == 1e-9
    assert sheet.value("w", 10) == 1e-9


@pytest.mark.parametrize("text, message", [
    ("STEP,PHASE,ACTION,lr\n0,A,,1\n20,,,1\n10,,,1\n", "go backwards"),
    ("STEP,PHASE,ACTION,lr\n0,A,,-0.1\n10,,,1\n", "negative"),
    ("STEP,PHASE,ACTION,lr\n0,A,,NaN\n10,,,1\n", "finite"),
    ("STEP,PHASE,ACTION,lr\n0,A,,abc\n10,,,1\n", "not a number"),
    ("STEP,lr\n0,1\n", "missing column"),
    ("STEP,PHASE,ACTION,lr\n+10,A,,1\n20,,,1\n", "no absolute row above"),
    ("STEP,PHASE,ACTION,lr::cubic\n0,A,,1\n", "easing"),
])
def test_malformed_sheets_name_the_problem(text, message):
    with pytest.raises(SpecError) as e:
        parse_dopesheet(text, "sheet.csv")
    assert "sheet.csv" in str(e.value) and message in str(e.value)


def test_minjerk_midpoint():
    from repro.config.dopesheet import Keyframe, Track

    tr = Track("w", (Keyframe(0, 0.0), Keyframe(10, 1.0)))
    assert track_value(tr, 5) == 0.5
    assert math.isclose(track_value(tr, 1), 10 * 0.1**3 - 15 * 0.1**4 + 6 * 0.1**5)


def test_a_keyframe_set_at_a_step_replaces_or_adds_and_keeps_the_length():
    from repro.config.dopesheet import parse_dopesheet, with_keyframe

    sheet = parse_dopesheet("STEP,PHASE,ACTION,lr,anchor\n0,a,,0.01,1\n100,a,,0.02,\n200,b,,0.03,0\n")
    added = with_keyframe(sheet, "anchor", 50, 0.5)
    assert [(k.step, k.value) for k in added.track("anchor").keys] == [(0, 1.0), (50, 0.5), (200, 0.0)]
    assert len(added) == len(sheet) == 201 and added.track("lr") == sheet.track("lr")
    assert added.realize()["anchor"][50] == 0.5 and sheet.realize()["anchor"][50] != 0.5
    replaced = with_keyframe(sheet, "lr", 100, 0.05)
    assert [(k.step, k.value) for k in replaced.track("lr").keys] == [(0, 0.01), (100, 0.05), (200, 0.03)]
    for prop, step, value, needle in [("lrr", 10, 0.1, "no column 'lrr'"), ("lr", 201, 0.1, "0..200"),
                                      ("lr", 10, -1.0, ">= 0"), ("lr", 10, float("nan"), "finite")]:
        with pytest.raises(SpecError, match=needle):
            with_keyframe(sheet, prop, step, value)


def test_a_cell_beyond_the_csv_field_limit_is_a_spec_error_naming_the_line():
    from repro.base.errors import SpecError

    text = "STEP,PHASE,ACTION,lr\n0,Train,," + "1" * 140_000 + "\n"
    with pytest.raises(SpecError, match=r"big.csv, line 2: not a readable CSV row"):
        parse_dopesheet(text, "big.csv")
