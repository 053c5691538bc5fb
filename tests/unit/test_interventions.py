import math

import pytest
import torch

from repro.method.interventions import BezierMapper, BoundedFalloff, LinearMapper, Repulsion, SubspaceSuppression, Suppression

X = torch.tensor([0, .1, .2, .3, .5, .7, .9, 1.])
ROWS = torch.tensor([[1, 0, 0, 0], [.6, .8, 0, 0], [-.6, .8, 0, 0], [0, 1, 0, 0], [.5, .5, .5, .5]])
E0 = torch.tensor([1, 0, 0, 0.])
A90, A89 = math.cos(math.radians(90)), math.cos(math.radians(89))


def close(a, b, tol=1e-6):
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=torch.float32), atol=tol, rtol=0)


def test_mappers_and_falloff():
    close(LinearMapper(.2, .6)(X), [0, .1, .2, .25, .35, .45, .55, .6])
    close(BoundedFalloff(.3, .8, 2)(X), [0, 0, 0, 0, .0653061, .2612245, .5877550, .8])
    close(BoundedFalloff(A90, 1, 0)(X), [0, 1, 1, 1, 1, 1, 1, 1])
    close(LinearMapper(A90, A89)(X), A89 * X, tol=1e-7)
    b = BezierMapper(.2, .7)
    close(torch.stack(b.points), [[.2, .2], [.5535534, .5535534], [.7878680, .7], [1, .7]])
    y = b(X)
    close(y[:3], X[:3])  # identity at or below a
    close(y, [0, .1, .2, .2974658, .4730422, .6104300, .6893460, .7], tol=2e-4)  # FastBezier's table
    assert bool((y[1:] >= y[:-1]).all())


def test_suppression_vectors():
    out = Suppression(E0, BoundedFalloff(A90, 1, 0))(ROWS)
    close(out, [[0, 0, 0, 0], [0, .8, 0, 0], [-.6, .8, 0, 0], [0, 1, 0, 0], [0, .5, .5, .5]])
    out = Suppression(E0, BoundedFalloff(.5, .8, 2))(ROWS)
    close(out[:2], [[.2, 0, 0, 0], [.5808, .8, 0, 0]])
    close(out[2:], ROWS[2:])


def test_repulsion_vectors():
    out = Repulsion(E0, LinearMapper(A90, A89))(ROWS, torch.Generator().manual_seed(0))
    close(out @ E0, [.0174524, .0104714, -.6, 0, .0087262])
    close(out[4], [.0087262, .5773283, .5773283, .5773283])
    close(Repulsion(E0, LinearMapper(.2, .6))(ROWS[1:])[0], [.4, .9165151, 0, 0])
    close(torch.linalg.vector_norm(out, dim=-1), torch.ones(5))


def test_repulsion_of_the_concept_itself_is_seeded():
    """A latent on the concept has no direction to rotate into: the caller's generator picks one."""
    rep = Repulsion(E0, LinearMapper(A90, A89))
    a = rep(E0[None], torch.Generator().manual_seed(1))
    b = rep(E0[None], torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert abs(float(a[0] @ E0) - A89) < 1e-6
    with pytest.raises(ValueError, match="needs a generator"):
        rep(E0[None])


def test_subspace_suppression_zeroes_without_renormalising():
    out = SubspaceSuppression((0, 1))(ROWS)
    close(out[4], [0, 0, .5, .5])
