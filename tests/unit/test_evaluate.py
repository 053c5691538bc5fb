import numpy as np
import pytest
from scipy.stats import pearsonr

from repro.engine.evaluate import concept_target, pearson


@pytest.mark.parametrize("n", [5, 50, 512])
def test_pearson_matches_scipy(n):
    rng = np.random.default_rng(n)
    x = rng.random(n)
    y = 0.3 * x + rng.random(n)
    ours, ref = pearson(x, y), pearsonr(x, y)
    assert ours.r == pytest.approx(ref.statistic, abs=1e-14)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-9)


def test_concept_targets():
    rgb = np.array([[1, 0, 0], [0, 1, 1], [.5, .5, .5], [1, .5, 0]], dtype=float)
    np.testing.assert_allclose(concept_target(rgb, "similarity", 2), [1, 0, 0, (2 / 3) ** 2])
    np.testing.assert_allclose(concept_target(rgb, "vibrancy", 1), [1, 1, 0, 1])


def test_pinned_settings_are_restored():
    """Library calls run with the settings results are made with, then give the caller's back."""
    import torch

    from repro.base import machine

    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    other = 1 if machine.THREADS != 1 else 2  # a caller's count that pinned() must change and give back
    torch.set_num_threads(other)
    torch.use_deterministic_algorithms(False)
    try:
        with machine.pinned() as s:
            assert s.threads == machine.THREADS == torch.get_num_threads()
            assert torch.are_deterministic_algorithms_enabled()
        assert torch.get_num_threads() == other and not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


def test_importing_the_figures_changes_no_global_state():
    import subprocess
    import sys

    # (dict.__getitem__: reading rcParams['backend'] the usual way would itself import pyplot)
    code = ("import sys, matplotlib; get = lambda: {k: dict.__getitem__(matplotlib.rcParams, k) for k in "
            "matplotlib.rcParams}; before = get(); import repro.report.plots, repro.report.build; "
            "assert 'matplotlib.pyplot' not in sys.modules; assert get() == before")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_evaluation_is_made_of_the_pieces_the_figures_draw():
    """The report's figures call intervened(), correlation_cube() and target_of(); evaluate()'s
    numbers must come out of the same pieces (one rule for the generator, the cube, the target)."""
    from repro.config.spec import load_spec
    from repro.engine.data import initial_models_and_plans
    from repro.engine.evaluate import BIG_BATCH, correlation_cube, evaluate, infer, intervened, loss_cube, target_of

    spec = load_spec("ex-2.4.1")
    _, [model], _ = initial_models_and_plans(spec, [spec.seed])
    metrics = evaluate(spec, model)
    rgb, _ = correlation_cube(spec)
    sets = intervened(spec, model)
    assert list(sets) == ["baseline", *spec.interventions]
    for name, s in sets.items():
        assert metrics["max_error"][name] == float(infer(s.model, loss_cube(spec).rgb, s.latent_map, BIG_BATCH).mse.max())
        if name != "baseline":
            r = pearson(target_of(spec, name, rgb), infer(s.model, rgb, s.latent_map, BIG_BATCH).mse).r
            assert metrics["selectivity"][name]["r"] == r
