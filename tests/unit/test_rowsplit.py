"""The row-split table (repro.engine.rowsplit) reproduces this machine's two-thread weight gradients.

Upstream trained at two intra-op threads, and repro trains at one. For every weight-gradient
shape the models have (and the grid the table was derived on), random gradients of the scales
training produces are multiplied at two threads by MKL as autograd does it, and at one thread
as repro.engine.rowsplit does it here; the bits must be equal. On a platform whose table is wrong or
missing an entry this fails (amd-avx512 without its entry: every [5, 64] x [64, 16] case)."""

import pytest
import torch
import torch.nn.functional as F

from repro.engine import rowsplit
from repro.base.machine import current_platform

# (out_features, in_features) of every linear layer of every experiment (widths 16 and 10,
# latents 4 and 5), then the grid of one-thread-amd-avx512.md §2.
LAYERS = {(16, 3), (16, 16), (4, 16), (5, 16), (16, 4), (16, 5), (3, 16), (10, 3), (10, 10), (5, 10), (10, 5), (3, 10)}
GRID = {(n, m) for n in range(1, 17) for m in (1, 2, 4, 8, 10, 12, 16, 17, 20, 24, 32)}


def _case(gen: torch.Generator, batch: int, n: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    scale = 10 ** (torch.rand((), generator=gen) * 5 - 4)
    grad_out = torch.randn(batch, n, generator=gen) * scale
    inp = F.gelu(torch.randn(batch, m, generator=gen))
    return grad_out, inp


@pytest.mark.parametrize("batch", [64, 32])
def test_one_thread_blocks_equal_two_threads(batch):
    gen = torch.Generator().manual_seed(batch)
    before = torch.get_num_threads()
    wrong = []
    try:
        for n, m in sorted(LAYERS | GRID):
            for _ in range(4 if (n, m) in LAYERS else 2):
                grad_out, inp = _case(gen, batch, n, m)
                torch.set_num_threads(2)
                two = grad_out.t().mm(inp)
                torch.set_num_threads(1)
                one = rowsplit.weight_grad(grad_out, inp, rowsplit.row_split(n, m))
                if not torch.equal(one, two):
                    wrong.append((n, m))
    finally:
        torch.set_num_threads(before)
    assert not wrong, f"{current_platform().id}: one-thread weight gradients differ from two threads for " \
                      f"(out, in) {sorted(set(wrong))}; table {rowsplit.table()}"


def test_blocks_fill_the_given_output():
    g, x = torch.randn(64, 5), torch.randn(64, 16)
    out = torch.full((5, 16), float("nan"))
    assert rowsplit.weight_grad(g, x, 4, out=out) is out
    assert torch.allclose(out, g.t() @ x, rtol=1e-5, atol=1e-6)


def test_an_aten_capability_torch_ignored_does_not_change_the_platform(monkeypatch):
    import torch

    from repro.base.machine import current_platform

    plain = current_platform().id
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx9000")  # not a capability: torch ignores it
    assert current_platform().id == plain
    # one torch reports as its capability took effect, and is part of the key
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", torch.backends.cpu.get_cpu_capability().lower())
    assert current_platform().id.endswith(f"+ATEN_CPU_CAPABILITY={torch.backends.cpu.get_cpu_capability().lower()}")
