"""The verdicts of `repro verify` and the registry's expression language, on hand-made inputs."""

import math

import pytest

from repro.fidelity import judge as J
from repro.fidelity.expr import ExpressionError, check_syntax, lookup, value_of


@pytest.mark.parametrize("published, decimals, reproduced, spread, chaotic, status", [
    (0.284, 3, 0.2842, None, False, J.PASS),  # rounds to the printed 0.284
    (0.284, 3, 0.2848, None, False, J.FAIL),  # prints as 0.285, nothing measured
    (0.284, 3, 0.2849, 0.00014, False, J.NOISE),  # 9e-4 apart <= 3 x 1.4e-4 + half a printed unit
    (0.284, 3, 0.2849, 0.00013, False, J.FAIL),  # 9e-4 > 3 x 1.3e-4 + 5e-4
    (0.284, 3, 0.2849, 0.00013, True, J.DIFFERS),  # a float-chaotic experiment: shown, not a failure
    (0.283565402, 9, 0.283565402 + 2e-7, None, False, J.PASS),  # printed in full (9 digits): within 1e-5
    (0.283565402, 9, 0.283565402 * (1 + 2e-5), None, False, J.FAIL),
    (6.142e-06, 9, 7.294e-06, None, False, J.FAIL),  # tiny values are compared relatively: 19% off
    (6.142e-06, 9, 6.1424e-06, None, False, J.PASS),  # within half a unit of the 9th decimal
    (83.0, 0, 83.6167, 0.0, False, J.FAIL),  # a deterministic count has no noise to hide in
    (96064.0, 0, 96064.0, 0.0, False, J.PASS),
    (0.0, 9, 1e-12, None, False, J.PASS),
    (0.5, 2, None, None, False, J.FAIL),
    (0.5, 2, math.nan, None, False, J.FAIL),
])
def test_verdicts(published, decimals, reproduced, spread, chaotic, status):
    assert J.judge(published, decimals, reproduced, spread, chaotic).status == status


def test_the_band_is_three_ranges_of_the_draws_and_is_reported():
    v = J.judge(0.5, 4, 0.5007, 0.0004, False)
    assert v.status == J.NOISE and v.band == pytest.approx(0.0012) and "±0.0012" in v.reason
    assert J.judge(0.5, 4, 0.5007, 0.00022, False).status == J.NOISE  # 7e-4 <= 6.6e-4 + 5e-5
    assert J.judge(0.5, 4, 0.5007, 0.00021, False).status == J.FAIL  # 7e-4 > 6.3e-4 + 5e-5


def test_full_precision_means_seven_significant_digits():
    assert J.significant_digits(0.283565402, 9) == 9 and J.significant_digits(0.000000988, 9) == 3
    assert J.printed_tolerance(0.283565402, 9) == pytest.approx(2.83565402e-6)
    assert J.printed_tolerance(0.000000988, 9) == 5e-10


def test_chaos_is_a_printed_digit_moved_by_noise():
    assert not J.chaotic([(0.9910, 4, 1e-7), (0.284, 9, 3e-7)])
    assert J.chaotic([(0.9848, 4, 2e-3)])
    assert not J.chaotic([(0.9848, 4, None)])


def test_lookup_and_expressions():
    data = {"per_color": [{"name": "red", "latent": [0.9, 0.1], "ablation": {"delta": 0.34}}],
            "runs": [{"seed": 40, "score": 0.98}], "label_counts": {"red": 73, "total": 96064}}
    assert lookup(data, "per_color[red].latent.1") == 0.1
    assert lookup(data, "runs[seed=40].score") == 0.98
    assert value_of("100 * {label_counts.red} / {label_counts.total}", data) == pytest.approx(100 * 73 / 96064)
    assert value_of("abs({per_color[red].ablation.delta} - 0.3333333333333333) <= 0.0102", data) is True
    assert value_of("max(abs({per_color[red].latent.0}), 0.5) >= 0.9 and not {runs[seed=40].score} < 0.9", data)
    with pytest.raises(KeyError):
        lookup(data, "runs[seed=41].score")
    for bad in ("__import__('os')", "{a}.__class__", "open({a})", "{a} if {b} else 1", "'x' == {a}"):
        with pytest.raises(ExpressionError):
            check_syntax(bad)


def test_the_models_summary_names_the_reference_it_was_compared_with():
    from repro.report.terminal import format_models

    out = format_models({
        "ex-a": {"model_sha256": "1" * 64, "fingerprint": {
            "status": "differs from upstream", "reference": "2" * 64, "reference_platform": "amd-avx512"}},
        "ex-b": {"model_sha256": None, "fingerprint": {"status": "no upstream reference on this platform"}},
    }).splitlines()
    assert out[0].startswith("ex-a") and "111111111111" in out[0]
    assert out[0].endswith("differs from upstream (upstream's amd-avx512 run: 222222222222)")
    assert out[1].startswith("ex-b") and out[1].endswith("no upstream reference on this platform")


def test_a_band_as_wide_as_the_published_value_is_not_testable():
    # 0.0615 published, 0.0083 reproduced, draws 0.0007..0.1997: noise alone reaches 0, so a
    # reproduced 0 would be judged the same; not counted as agreement (nor as a failure)
    v = J.judge(0.0615, 4, 0.0083, 0.199, True, (0.0007, 0.1997))
    assert v.status == J.UNTESTABLE and "a reproduced 0 would be judged the same" in v.reason
    # the same difference with a band narrower than the value is an ordinary verdict
    assert J.judge(0.0615, 4, 0.0583, 0.0015, True, (0.057, 0.0585)).status == J.NOISE
    # and one beyond even that band still differs: not testable is never a way around a difference
    assert J.judge(0.0615, 4, 0.9, 0.199, True, (0.0007, 0.1997)).status == J.DIFFERS
    # a published 0 is not made untestable by the band: a reproduced 0 would be right
    assert J.judge(0.0, 9, 6.6e-9, 6.6e-9, False, (0.0, 6.6e-9)).status == J.NOISE


def test_a_verdict_that_rests_on_the_bands_factor_alone_is_marked():
    # published 0.5, draws 0.5004..0.5008 (range 4e-4, band 1.2e-3): inside the band, outside the draws
    v = J.judge(0.5, 4, 0.5007, 0.0004, False, (0.5004, 0.5008))
    assert v.status == J.NOISE and v.beyond_draws and "outside the draws' range" in v.reason
    # the published value among the draws (widened by half a printed unit) is not
    assert not J.judge(0.5, 4, 0.5007, 0.0004, False, (0.49996, 0.5004)).beyond_draws
    assert not J.judge(0.5, 4, 0.5007, 0.0004, False).beyond_draws  # no draws given


def test_every_status_has_its_criterion():
    assert set(J.CRITERIA) == set(J.STATUSES)


@pytest.mark.parametrize("holds, expected, discrepancy, chaotic, status, ok", [
    (True, "holds", "", False, "holds", True),
    (False, "holds", "", False, "does not hold", False),  # fails repro verify
    (False, "holds", "", True, J.DIFFERS, True),  # float-chaotic: a difference, shown, not a failure
    (False, "fails", "disc.x", False, J.DISCREPANCY, True),  # the paper's own numbers contradict it
    (False, "fails", "", False, "does not hold", True),
    (True, "fails", "disc.x", False, "holds", False),  # registered as failing, yet holds: look again
])
def test_claim_statuses(holds, expected, discrepancy, chaotic, status, ok):
    from repro.fidelity.verify import claim_status

    assert claim_status(holds, expected, discrepancy, chaotic) == (status, ok)


def test_the_seeds_scope_reads_any_seed_and_the_statistics_over_seeds():
    from repro.pipeline.workspace import seeds_table

    def m(r):
        return {"selectivity": {"ablation": {"r": r, "r2": r * r, "p": 0.0}}, "score": r * r}

    table = seeds_table({1: m(0.9), 0: m(0.8), 2: m(1.0)})
    assert [row["seed"] for row in table["runs"]] == [0, 1, 2]
    assert value_of("runs[seed=1].selectivity.ablation.r", table) == 0.9
    assert value_of("stats.ablation_r.mean", table) == pytest.approx(0.9)
    assert value_of("stats.ablation_r.std", table) == pytest.approx(0.1)  # sample std, as pandas prints it
    assert value_of("stats.ablation_r2.max", table) == 1.0 and value_of("stats.ablation_p.max", table) == 0.0


def test_expressions_too_deep_or_with_unrepresentable_numbers_are_refused_when_read():
    # a sum of 1,200 fields used to pass the check and end in a RecursionError at evaluation;
    # a 400-digit literal in an OverflowError
    for bad, why in ((" + ".join("{a}" for _ in range(1200)), "nested deeper than 100 levels"),
                     ("{a} + " + "9" * 400, "not a finite float"), ("{a} * 1e400", "not a finite float")):
        with pytest.raises(ExpressionError, match=why):
            check_syntax(bad)
    assert value_of(" + ".join("{a}" for _ in range(90)), {"a": 1.0}) == 90.0
