import numpy as np
import pytest
from scipy.stats import pearsonr

from repro.evaluate import concept_target, pearson


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
