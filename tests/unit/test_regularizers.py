import pytest
import torch

from repro.method import regularizers as R

Z = torch.tensor([[1, 0, 0, 0], [.6, .8, 0, 0], [-.6, .8, 0, 0], [0, 1, 0, 0], [.5, .5, .5, .5], [1, 0, 0, 0.]])
E0 = torch.tensor([1, 0, 0, 0.])


def close(t, expected, tol=1e-5):
    torch.testing.assert_close(t, torch.tensor(expected, dtype=torch.float32), atol=tol, rtol=1e-4)


def test_separate_vectors():
    close(R.separate(Z, 1.0, True), [3.25, 4.49, 2.99, 4.05, 4.15, 3.25])
    close(R.separate(Z, 1.0, False), [0.5, 2.98, -0.02, 2.1, 2.3, 0.5])
    close(R.separate(Z, 100.0, True), [2.04025e-10, 2.66492e-05, 2.65613e-05, 5.31227e-05, 8.74779e-08, 2.04025e-10],
          tol=1e-12)
    close(R.separate(Z, 10.0, False), [0.0130698, 0.147718, 0.119470, 0.215725, 0.0311772, 0.0130698])


def test_anchor_and_anti_anchor_vectors():
    close(R.anchor(Z, E0), [0, .4, 1.6, 1, .5, 0])
    close(R.anti_anchor(Z, -E0), [0, 0, .6, 0, 0, 0])
    close(R.anchor(torch.tensor([[1, 0.], [-1, 0], [0, 1]]), torch.tensor([1, 0.])), [0, 2, 1])
    close(R.anti_anchor(torch.tensor([[0, 1.], [0, -1], [1, 0]]), torch.tensor([0, 1.])), [1, 0, 0])


def test_subspace_vectors():
    close(R.subspace(Z, (0, 1)), [0, 0, 0, 0, .5, 0])
    close(R.anti_subspace(Z, (0,)), [1, .36, .36, 0, .25, 1])


def test_label_gated_reduction():
    anchor = R.AnchorSpec(kind="anchor", direction=[1.0, 0.0, 0.0, 0.0], labels={"red": 1.0}, validate=True).build("anchor")
    red = torch.tensor([1, 0, 1, 0, 0, 0.])
    assert anchor.term(Z, {"red": red}).item() == pytest.approx(0.8)
    assert anchor.term(Z, {"red": torch.zeros(6)}).item() == 0.0
    assert anchor.term(Z, {"vibrant": red}) is None
    sub = R.SubspaceSpec(kind="subspace", dims=[0, 1], labels={"red": .5, "vibrant": .8}, validate=True).build("s")
    labels = {"red": torch.tensor([1, 1, 0, 0, 0, 0.]), "vibrant": torch.tensor([1, 0, 1, 0, 1, 0.])}
    assert sub.term(Z, labels).item() == pytest.approx(0.4 / 3.1, rel=1e-5)


def test_unlabelled_terms_average_every_sample():
    sep = R.SeparateSpec(kind="separate", power=1.0, shift=True, validate=False).build("separate")
    assert sep.term(Z, {}).item() == pytest.approx(sum([3.25, 4.49, 2.99, 4.05, 4.15, 3.25]) / 6, rel=1e-5)
