"""The follow-up's verdicts (repro.fidelity.followup) on hand-made runs: each rule can give each
of its statuses, and the intervals are the ones the statistics imply."""

import numpy as np
import pytest

from repro.fidelity import followup as FU
from repro.fidelity.registry import FindingItem, StatisticItem, load_registry


def runs(scores, anchors=None):
    anchors = anchors or [0.01] * len(scores)
    return [{"seed": i, "probes": {"groups": {"zero": {"score": s}}, "anchor": a, "sizes": {"others": 337}}}
            for i, (s, a) in enumerate(zip(scores, anchors))]


def item(**kw):
    base = dict(id="t.x", source="test", experiments=["x"], quantity="{probes.groups.zero.score}")
    return StatisticItem(**{**base, **kw})


SCORES = [0.9, 0.85, 0.88, 0.92, 0.87, 0.91, 0.86, 0.89, 0.9, 0.93] * 6  # 60 runs, median 0.895


def test_statistics_over_the_last_axis():
    x = np.array([[3.0, 1.0, 2.0, 4.0]])
    assert FU.statistic("median", x)[0] == 2.5  # numpy's: the mean of the middle two
    assert FU.statistic("sd", x)[0] == pytest.approx(np.sqrt(1.25))  # population SD, as printed
    by = np.array([[0.1, 0.9, 0.5, 0.3]])
    assert FU.statistic("at-max", x, by)[0] == 1.0  # x at the run `by` ranks first
    assert FU.statistic("at-median", x, by)[0] == 2.0  # sorted by `by`: 0.1, 0.3, 0.5, 0.9 -> element 2
    assert FU.statistic("count", np.array([[1.0, 0.0, 1.0]]))[0] == 2


def test_a_median_inside_the_range_of_n_runs_is_consistent_and_one_far_outside_differs():
    ok = FU.judge_statistic(item(statistic="median", value=0.89, decimals=2, n=32), runs(SCORES))
    assert ok.status == FU.CONSISTENT and ok.reproduced == pytest.approx(0.895)
    assert ok.prediction[0] <= 0.89 <= ok.prediction[1] and ok.runs == 60
    far = FU.judge_statistic(item(statistic="median", value=0.70, decimals=2, n=32), runs(SCORES))
    assert far.status == FU.DIFFERS and "below" in far.reason


def test_the_printed_precision_widens_the_range_by_half_a_digit():
    # every run is 0.9: a statistic of any n runs is exactly 0.9; 0.904 printed as 0.90 is consistent
    same = runs([0.9] * 40)
    assert FU.judge_statistic(item(statistic="mean", value=0.90, decimals=2, n=16), same).status == FU.CONSISTENT
    assert FU.judge_statistic(item(statistic="mean", value=0.91, decimals=2, n=16), same).status == FU.DIFFERS
    assert FU.judge_statistic(item(statistic="mean", value=0.904, decimals=3, n=16), same).status == FU.DIFFERS


def test_counts_are_compared_as_rates_by_fishers_exact_test():
    scores = [0.05] * 4 + [0.9] * 56  # 4 of 60 below 0.1
    ok = FU.judge_statistic(item(statistic="count", quantity="{probes.groups.zero.score} < 0.1", value=2, n=32),
                            runs(scores))
    assert ok.status == FU.CONSISTENT and ok.reproduced == 4 and ok.p == pytest.approx(1.0)
    bad = FU.judge_statistic(item(statistic="count", quantity="{probes.groups.zero.score} < 0.1", value=20, n=32),
                             runs(scores))
    assert bad.status == FU.DIFFERS and bad.p < 0.05
    lo, hi = FU.clopper_pearson(0, 32)
    assert lo == 0 and hi == pytest.approx(0.1089, abs=1e-4)  # the exact 95% bound of 0/32


def test_facts_match_or_fail_and_seeds_are_not_judged():
    fact = FU.judge_statistic(item(statistic="exact", quantity="{probes.sizes.others}", value=337), runs(SCORES))
    assert fact.status == FU.MATCHES
    wrong = FU.judge_statistic(item(statistic="exact", quantity="{probes.sizes.others}", value=404), runs(SCORES))
    assert wrong.status == FU.MISMATCH
    missing = FU.judge_statistic(item(statistic="mean", quantity="{probes.nothing}", value=1, n=3), runs(SCORES))
    assert missing.status == FU.NOT_FOUND and FU.NOT_FOUND in FU.FAILING
    seed = FU.judge_statistic(item(statistic="seed", quantity="{seed}", value=13, n=16), runs(SCORES))
    assert seed.status == FU.SCA2_ONLY and seed.reproduced is None


def test_the_same_registry_gives_the_same_intervals():
    a = FU.judge_statistic(item(statistic="sd", value=0.02, decimals=3, n=32), runs(SCORES))
    b = FU.judge_statistic(item(statistic="sd", value=0.02, decimals=3, n=32), runs(SCORES))
    assert a.prediction == b.prediction and a.interval == b.interval


def test_findings_are_read_on_repros_statistics_and_on_the_printed_ones():
    stats = {"a": FU.judge_statistic(item(id="a", statistic="median", value=0.81, decimals=2, n=32), runs(SCORES)),
             "b": FU.judge_statistic(item(id="b", statistic="max", value=0.90, decimals=2, n=32), runs(SCORES))}
    f = FU.judge_finding(FindingItem(id="f", claim="c", source="s", predicate="{stat[a]} < {stat[b]}",
                                     published="p", threshold="t"), stats)
    assert f.holds is True and f.holds_as_printed is True and f.values == {"a": pytest.approx(0.895), "b": 0.93}
    g = FU.judge_finding(FindingItem(id="g", claim="c", source="s", predicate="{stat[a]} > {stat[b]}",
                                     published="p", threshold="t"), stats)
    assert g.status == FU.NOT_HOLDS and g.holds_as_printed is False


def test_the_registrys_follow_up_is_well_formed():
    r = load_registry()
    ids = {st.id for st in r.statistics}
    assert len(r.statistics) >= 60 and len(r.findings) >= 20
    assert all(st.value is not None or st.id.startswith("sca2.aux.") for st in r.statistics)
    assert {"sca2.ex-2.9.2.fallback_reflect.red_pure.mean", "sca2.ex-2.9.1.best.score"} <= ids
    assert sum(bool(f.contradiction) for f in r.findings) >= 2  # C2.6 and C2.14


def test_the_range_accounts_for_our_own_sample_too():
    # two-stage: our 60 runs resampled before n are drawn: wider than drawing n from them as they are
    x = np.array(SCORES)[:, None]
    one = FU.bootstrap("mean", x, None, 32, np.random.default_rng(0))
    two = FU.bootstrap("mean", x, None, 32, np.random.default_rng(0), two_stage=True)
    assert two[1] - two[0] > (one[1] - one[0]) * 1.1


def test_pooled_experiments_are_resampled_in_proportion():
    groups = np.array([0] * 60 + [1] * 60)
    idx = FU.resample(groups, 64, np.random.default_rng(0), resamples=50)
    assert idx.shape == (50, 64) and ((idx < 60).sum(axis=1) == 32).all()
    assert FU._shares(7, [60, 60, 60]) in ([3, 2, 2], [2, 3, 2], [2, 2, 3])


class Seeds:
    """What check_followup reads of the results: every seed's metrics per experiment."""

    def __init__(self, table):
        self.table, self.read = table, []

    def seeds(self, x):
        self.read.append(x)
        return self.table[x]


def test_check_followup_reads_only_what_was_asked_and_judges_the_port_variants():
    table = {x: {s: r for s, r in enumerate(runs(SCORES[:20]))} for x in ("a", "b", "a-port", "b-port")}
    stats = [item(id="s.a", experiments=["a"], statistic="median", value=0.9, decimals=2, n=16),
             item(id="s.ab", experiments=["a", "b"], statistic="median", value=0.9, decimals=2, n=32)]
    finding = FindingItem(id="f", claim="c", source="s", predicate="{stat[s.a]} > 0.5", published="p", threshold="t")
    data = Seeds(table)
    results, findings = FU.check_followup(stats, [finding], data, ["a"], {"a": "a-port", "b": "b-port"})
    assert [r.id for r in results] == ["s.a"] and set(data.read) == {"a", "a-port"}  # b is not trained for it
    assert results[0].port["experiments"] == ["a-port"] and findings[0].holds_port is True
    assert findings[0].support == 1.0  # every resample's median is far above 0.5
    # asking for a port variant judges the statistics of its original
    results, _ = FU.check_followup(stats, [], Seeds(table), ["a-port"], {"a": "a-port", "b": "b-port"})
    assert [r.id for r in results] == ["s.a"]
