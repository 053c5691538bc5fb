"""The follow-up's additions to the method (sca2 M1), each against a hand-computed case: the
fallback decoder term, the row-0 edits (reflect, redirect, optimal ablation), the colour groups
and the health classes."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from repro.base.errors import SpecError
from repro.config.dopesheet import load_dopesheet, with_keyframe
from repro.config.spec import load_spec
from repro.engine.probes import classify
from repro.method import colors as C
from repro.method import regularizers as R
from repro.method.model import build_model
from repro.method.surgery import ConstantSearch, constant_search, reflect, set_constant
from tests.conftest import ROOT


def model(seed=0):
    return build_model(5, 16, 2, torch.Generator().manual_seed(seed)).eval()


def pre_norm(m, x):
    with torch.no_grad():
        return m.encoder(x)


X = torch.rand(64, 3, generator=torch.Generator().manual_seed(1))


def test_fallback_term_is_the_mean_squared_error_to_its_colour():
    # pure red against mid-grey: (0.25 + 0.25 + 0.25) / 3, the analytic 1/4 of sca2's reports
    assert float(R.fallback(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.5, 0.5, 0.5]]))) == 0.25
    assert float(R.fallback(torch.tensor([[0.5, 0.7, 0.5]]), torch.tensor([[0.5, 0.5, 0.5]]))) == pytest.approx(0.04 / 3)


def test_reflect_negates_the_pre_norm_dimension_exactly_and_twice_is_identity():
    m = model()
    u, r = pre_norm(m, X), pre_norm(reflect(m, [0]), X)
    assert torch.equal(r[:, 0], -u[:, 0]) and torch.equal(r[:, 1:], u[:, 1:])
    twice = reflect(reflect(m, [0]), [0])
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), twice.parameters()))


def test_set_constant_fixes_the_pre_norm_dimension_and_leaves_the_model_alone():
    m = model()
    before = [p.clone() for p in m.parameters()]
    u, c = pre_norm(m, X), pre_norm(set_constant(m, [0], -1.0), X)
    assert bool((c[:, 0] == -1.0).all()) and torch.equal(c[:, 1:], u[:, 1:])
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))


def test_constant_search_is_the_brute_force_minimum_and_ties_go_to_the_first():
    m = model(3)
    rgb = C.rgb_cube(4).reshape(-1, 3)
    constants = ConstantSearch(start=-1.0, stop=1.0, step=0.25).values()
    assert len(constants) == 9 and constants[4] == 0.0
    best, errors = constant_search(m, [0], rgb, constants)
    x = torch.tensor(rgb, dtype=torch.float32)
    for c, e in zip(constants, errors):  # each error is the edited model's own mean error
        with torch.no_grad():
            y, _ = set_constant(m, [0], float(c))(x)
        assert e == pytest.approx(float(((y - x) ** 2).mean()), rel=1e-6)
    assert best == constants[int(np.argmin(errors))]
    # a decoder that ignores its latent makes every constant tie: the first one is kept
    flat = model(3)
    with torch.no_grad():
        flat.decoder[0].weight.zero_()
    assert constant_search(flat, [0], rgb, constants)[0] == -1.0


def test_sca2_search_grid_has_121_constants_with_zero_and_a_half_exactly():
    v = ConstantSearch(start=-3.0, stop=3.0, step=0.05).values()
    assert len(v) == 121 and v[60] == 0.0 and 0.5 in v and v[0] == -3.0 and v[-1] == 3.0


def test_groups_of_the_score_grid_are_sca2s_7_reds_and_337_others():
    rgb = C.rgb_cube(8).reshape(-1, 3)
    t = C.concept_target(rgb, "similarity", 3.0, (0.0, 1.0, 1.0), "angular")
    reds = {tuple(np.round(c * 7).astype(int)) for c in rgb[t > 0.5]}
    assert reds == {(7, 0, 0), (6, 0, 0), (7, 0, 1), (7, 0, 2), (7, 1, 0), (7, 1, 1), (7, 2, 0)}
    assert int((t < 0.01).sum()) == 337 and int((t == 0).sum()) == 29


BOUNDS = SimpleNamespace(anchor_above=0.3, recon_above=0.01, leak_above=0.3, degraded_leak_above=0.1)


@pytest.mark.parametrize("anchor, recon, leak, health", [
    (0.006, 0.00002, 0.05, "clean"),
    (0.006, 0.00002, 0.1, "clean"),  # at a bound is within it
    (0.006, 0.00002, 0.11, "degraded"),
    (0.31, 0.00002, 0.05, "catastrophic"),  # anchor lost
    (0.006, 0.02, 0.05, "catastrophic"),  # reconstruction collapsed
    (0.006, 0.00002, 0.35, "catastrophic"),  # leak beyond the catastrophic bound
    (float("nan"), 0.00002, 0.05, "catastrophic"),  # an unmeasurable run is not clean
])
def test_health_classes(anchor, recon, leak, health):
    assert classify(anchor, recon, leak, BOUNDS) == health


def test_a_spec_schedule_gives_an_unscheduled_regulariser_a_column_of_its_own():
    sheet = load_dopesheet(ROOT / "experiments" / "ex-2.9.1.csv")
    with pytest.raises(SpecError, match="no column 'fallback'"):
        with_keyframe(sheet, "fallback", 0, 0.05)
    s = with_keyframe(sheet, "fallback", 0, 0.05, new=True).realize()
    assert set(s["fallback"]) == {0.05} and len(s["fallback"]) == 1501
    assert s["anchor"] == sheet.realize()["anchor"]  # the other columns are untouched
    spec = load_spec("sca2-2.9.2-fallback")
    assert set(spec.sheet.realize()["fallback"]) == {0.05}


@pytest.mark.parametrize("override, message", [
    ("regularizers.fallback.validate=true", "validate: must be false"),
    ("regularizers.fallback.target=[0.5, 0.5, 1.5]", "target: must be a colour"),
    ("regularizers.fallback.latent=[-1.0, 1.0, 0.0, 0.0, 0.0]", "latent: must be a unit vector"),
    ("interventions.redirect.gamma=-1.0", "gamma: must be"),
    ("interventions.oa.constants.step=0.0", "constants: needs finite start <= stop and step > 0"),
    ("evaluation.probes.latent=[1.0, 0.0]", "evaluation.probes.latent: must be a list of 5 numbers"),
])
def test_bad_follow_up_fields_are_named(override, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("^", r"\^")):
        load_spec("sca2-2.9.2-fallback", [override])


def test_fixed_rows_pad_the_decoder_batch_to_whole_chunks():
    from repro.engine.train import CHUNK_FLOATS, with_fixed_rows

    a, b = torch.zeros(1, 5), torch.ones(1, 5)
    assert with_fixed_rows(64, [], [16, 16]) == []
    rows = with_fixed_rows(64, [a, b], [16, 16])  # 66 rows of 16 -> 68 (whole chunks of 64 floats)
    assert len(rows) == 4 and rows[0] is a and all(r is b for r in rows[1:])
    assert all((64 + len(with_fixed_rows(64, [a], [w]))) * w % CHUNK_FLOATS == 0 for w in (10, 16, 20))


def test_probes_measure_what_sca2_defines_on_a_model():
    """probe() on an untrained 5-D model against the definitions written out here (README §2.5-2.6 of
    shared/reference/sca2-m1): leak = mean |z0| over the 337 others, anchor = 1 - z0(pure red),
    recon = mean clamped error over the 351 validation colours, opposite = clamp(decoder(-e0))."""
    from repro.engine.evaluate import intervened
    from repro.engine.probes import probe

    spec = load_spec("sca2-2.9.2-base")
    m = model(7)
    got = probe(spec, intervened(spec, m))
    rgb = C.rgb_cube(8).reshape(-1, 3)
    others = C.concept_target(rgb, "similarity", 3.0, (0.0, 1.0, 1.0), "angular") < 0.01
    with torch.no_grad():
        z = m.encode(torch.tensor(rgb, dtype=torch.float32)).numpy()
        red = m.encode(torch.tensor([[1.0, 0.0, 0.0]])).numpy()[0]
        v = torch.tensor(C.cell_centres_with_corners(8), dtype=torch.float32)
        y, _ = m(v)
        opposite = m.decode(torch.tensor([[-1.0, 0, 0, 0, 0]]))[0].tolist()
    assert got["leak"] == pytest.approx(float(np.abs(z[others, 0]).mean()), rel=1e-6)
    assert got["anchor"] == pytest.approx(1 - float(red[0]), rel=1e-6)
    assert got["recon"] == pytest.approx(float(((y - v) ** 2).mean()), rel=1e-5)
    assert got["opposite"] == pytest.approx(opposite) and all(0 <= c <= 1 for c in opposite)
    assert got["sizes"] == {"target": 7, "others": 337, "all": 512}
    assert set(got["groups"]) == {"baseline", "zero", "oa", "oa-nontarget", "reflect", "redirect"}
    assert set(got["details"]) == {"oa", "oa-nontarget"}  # the constants the line searches chose
    # the redirect edit's damage at pure red is its clamped error against the input
    edited = set_constant(m, [0], -1.0)
    with torch.no_grad():
        y_red, _ = edited(torch.tensor([[1.0, 0.0, 0.0]]))
    assert got["groups"]["redirect"]["concept"] == pytest.approx(float(((y_red - torch.tensor([[1.0, 0, 0]])) ** 2).mean()))


def test_trajectory_points_and_events_by_hand():
    from repro.engine.trajectory import TrajectoryProbe, events

    probe = TrajectoryProbe(torch.tensor([[0.0, 0, 0], [1.0, 1, 1], [1.0, 0, 0]]), torch.tensor([True, False]),
                            torch.tensor([1.0, 0.0]), 5)
    z = torch.tensor([[0.6, 0.8], [-0.5, 0.5], [0.95, 0.3]])
    y = torch.tensor([[0.1, 0.0, 0.0], [1.0, 1.0, 0.7], [0.9, 0.0, 0.0]])
    alignment, leak, recon = probe.point(z, y)
    assert alignment == pytest.approx(0.95) and leak == pytest.approx(0.6)  # |z0| of the one "other"
    assert recon == pytest.approx((0.01 + 0.09) / 6)  # the grid's colours only, not the concept row
    assert probe.due(0) and probe.due(10) and not probe.due(3)
    a = np.array([[0.2], [0.5], [0.95], [0.99], [0.8], [0.65], [0.95]]) * np.ones((1, 3))
    assert events(a, 5) == {"anchored": 10, "lost": 25}  # first above 0.9, then the first below 0.7
    assert events(a[:4], 5) == {"anchored": 10, "lost": -1}  # -1: never
    assert events(a[:2], 5) == {"anchored": -1, "lost": -1}


@pytest.mark.parametrize("peak", ["0.10", "0.07", "0.05", "0.03"])
def test_the_lr_anneal_sheets_realise_as_sca2s_generator_describes(peak):
    """The eight cells of sca2 ex-2.9.3's sweep (README §2.4): the learning rate peaks at step 750;
    with the anneal it holds there to step 1425 and every weight reaches 0; without it (the +0.9
    row deleted) it eases straight to half the peak at 1500 and the weights keep their values."""
    from repro.engine.data import schedule_of

    p = float(peak)
    anneal = schedule_of(load_spec(f"sca2-2.9.3-peak{peak}-anneal"))
    hold = schedule_of(load_spec(f"sca2-2.9.3-peak{peak}-hold"))
    for s in (anneal, hold):
        assert s["lr"][750] == pytest.approx(p) and s["lr"][1500] == pytest.approx(p / 2)
        assert set(s["fallback"]) == {0.05}
    assert anneal["lr"][1424] == pytest.approx(p) and anneal["anchor"][1425] == 0 and anneal["anti-anchor"][1425] == 0
    assert hold["lr"][1300] < 0.6 * p and hold["anchor"][1499] == pytest.approx(0.1)
    assert hold["anti-anchor"][1499] == pytest.approx(0.05) and hold["anti-subspace"][1499] == pytest.approx(0.003)
    if peak == "0.10":  # the original sheet; sca2's ex-2.9.3 reads its anchor weight at step 1145 as 0.034
        assert anneal == {**schedule_of(load_spec("ex-2.9.1")), "fallback": anneal["fallback"]}
        assert anneal["anchor"][1145] == pytest.approx(0.03433, abs=5e-6)
