import pytest
import torch

from repro.method.model import build_model, parameter_count
from repro.method.surgery import ablate, prune


def model(latent=4, layers=1, seed=0):
    return build_model(latent, 16, layers, torch.Generator().manual_seed(seed)).eval()


def test_parameter_counts():
    assert parameter_count(model(4, 1)) == 263
    assert parameter_count(model(5, 2)) == 840
    assert parameter_count(model(4, 2)) == 807


def test_ablation_zeroes_the_dimension_and_renormalises():
    m = ablate(model(), [0])
    x = torch.rand(32, 3, generator=torch.Generator().manual_seed(1))
    _, z = m(x)
    assert bool((z[:, 0] == 0).all()) and bool((z[:, 1:] != 0).any())
    torch.testing.assert_close(torch.linalg.vector_norm(z, dim=-1), torch.ones(32))


@pytest.mark.parametrize("latent, layers, dims", [(4, 1, [0]), (4, 1, [0, 1]), (5, 2, [0])])
def test_pruning_gives_ablations_outputs(latent, layers, dims):
    base = model(latent, layers)
    x = torch.rand(256, 3, generator=torch.Generator().manual_seed(2))
    ya, _ = ablate(base, dims)(x)
    yp, zp = prune(base, dims)(x)
    assert zp.shape[-1] == latent - len(dims)
    torch.testing.assert_close(ya, yp, atol=1e-6, rtol=0)


def test_surgery_leaves_the_original_alone_and_checks_dims():
    base = model()
    before = [p.clone() for p in base.parameters()]
    ablate(base, [0])
    assert all(torch.equal(a, b) for a, b in zip(before, base.parameters()))
    with pytest.raises(IndexError):
        ablate(base, [4])
    with pytest.raises(ValueError):
        prune(base, [0, 1, 2, 3])


def test_a_model_file_that_is_no_state_dict_is_one_line_without_torchs_advice():
    import io

    import torch

    from repro.base.errors import ReproError
    from repro.method.model import from_bytes

    buf = io.BytesIO()
    torch.save(__import__("fractions").Fraction(1, 2), buf)  # an object weights_only refuses to build
    for data in (buf.getvalue(), b"not a zip"):
        with pytest.raises(ReproError) as e:
            from_bytes(data, 4, 16, 1)
        assert "\n" not in str(e.value) and "weights_only" not in str(e.value) and "\x1b" not in str(e.value)
