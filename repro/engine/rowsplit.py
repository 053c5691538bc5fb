"""A linear layer's weight gradient at one thread, rounded as upstream's two threads rounded it.

Upstream trained with two intra-op threads. Of all the kernels a training step runs, one gives
other bits at one thread: on amd-avx512, MKL (torch 2.13.0's oneMKL 2024.2) splits the rows of
autograd's weight-gradient product `grad_out.T @ input` between its two threads for some shapes,
and a row computed in a smaller block rounds differently from the same row of the whole product.
Computing each thread's block as its own one-thread product gives the two-thread bits exactly
(measured on amd-avx512: every one of 1501 real gradients and 15,000 random cases, all six
upstream fingerprints, all 120 seeds of the 5-D sweeps; shared/reference/one-thread-amd-avx512.md).

So results are made at one thread (no OpenMP thread spins, and a busy machine slows training by
its fair share, not tenfold), and a layer this table names computes its weight gradient in
blocks. The table is per platform, measured, and re-checked by tests/unit/test_rowsplit.py at two
threads on whatever machine runs it; a platform without an entry (intel-avx512: no product
differs between one and two threads, bench/probe_threads.py) uses the plain product.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from repro.base.machine import current_platform

# Rows (the layer's out_features) -> the first thread's block, for products with at least
# MIN_COLUMNS columns (in_features); MKL splits no other shape (amd-avx512: n = 1..16 rows,
# K in {31, 32, 64, 128}, m in {1..32} columns, 12 random cases each).
SPLITS: dict[str, dict[int, int]] = {
    "amd-avx512": {5: 4, 6: 4, 7: 4, 9: 8, 10: 8, 11: 8},
}
MIN_COLUMNS = 12
# Under these MKL variables the two-thread partition is different and no block reproduces it
# (amd-avx512, MKL_CBWR=AUTO/AVX2/AVX512[,STRICT]); they are kernel variants, not upstream's
# arithmetic, so the plain product is used. oneDNN's and ATen's variables leave MKL's sgemm alone
# (measured: ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS).
UNKNOWN_UNDER = ("MKL_CBWR", "MKL_DEBUG_CPU_TYPE")


@cache
def _table() -> dict[int, int]:
    p = current_platform()
    if any(k in UNKNOWN_UNDER for k, _ in p.kernel_env):
        return {}
    return SPLITS.get(p.id.split("+")[0], {})


def row_split(out_features: int, in_features: int) -> int | None:
    """The first block's row count for this layer's weight gradient here, or None (one block)."""
    return _table().get(out_features) if in_features >= MIN_COLUMNS else None


def table() -> dict:
    """What the training key records: the blocks this platform's weight gradients use."""
    return {"min_columns": MIN_COLUMNS, "splits": {str(k): v for k, v in sorted(_table().items())}}


def weight_grad(grad_out: Tensor, inp: Tensor, split: int | None, out: Tensor | None = None) -> Tensor:
    """grad_out.T @ inp ([out, B] x [B, in]) as autograd's mm computes it, in row blocks
    [:split] and [split:] when split is set."""
    a = grad_out.t()
    if out is None:
        out = torch.empty(a.shape[0], inp.shape[1], dtype=inp.dtype)
    if split is None:
        return torch.mm(a, inp, out=out)
    torch.mm(a[:split], inp, out=out[:split])
    torch.mm(a[split:], inp, out=out[split:])
    return out
