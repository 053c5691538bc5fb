"""Adam as the paper trains with it: torch's defaults (beta1 0.9, beta2 0.999, eps 1e-8), the
single-tensor update that torch.optim.Adam runs on CPU, op for op."""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor

BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


class FastAdam:
    """torch.optim.Adam's single-tensor update (the CPU default) with default hyperparameters,
    op for op, without the Optimizer machinery around it (hooks, profiling, state dicts)."""

    def __init__(self, params):
        self.params = list(params)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    @torch.no_grad()
    def step(self, lr: float, grads: list[Tensor] | None = None) -> None:
        """One update. `grads` defaults to each parameter's .grad (which is then cleared)."""
        self.t += 1
        step = float(self.t)
        bias_correction1 = 1 - BETA1**step
        bias_correction2 = 1 - BETA2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        # On CPU the _foreach_ ops loop over the tensors calling the same kernels as the
        # per-tensor ops would (exactly _single_tensor_adam's sequence), in one call each.
        own = grads is None
        g = [cast(Tensor, p.grad) for p in self.params] if grads is None else grads
        torch._foreach_lerp_(self.exp_avg, g, 1 - BETA1)
        torch._foreach_mul_(self.exp_avg_sq, BETA2)
        torch._foreach_addcmul_(self.exp_avg_sq, g, g, value=1 - BETA2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, bias_correction2_sqrt)
        torch._foreach_add_(denom, ADAM_EPS)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, value=-step_size)
        if own:
            for p in self.params:
                p.grad = None
