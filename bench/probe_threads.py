"""Which operations of a training step give other bits at another intra-op thread count?

Trains the first steps of an experiment's selected seed with repro.engine.train at the thread count
results are made with (one), and re-runs every ATen operation it dispatches (same inputs, fresh
outputs) at two threads; prints each operation, with its input shapes, whose outputs differ.
This is how the thread count was found to be part of the arithmetic on amd-avx512 (the weight
gradient of the 5-output encoder layer, an MKL `mm` of [5, 64] x [64, 16]) and not on
intel-avx512. --plain switches repro.engine.rowsplit's blocks off, so that the probe lists every product
whose bits depend on the thread count (what the table must cover); without it, the probe checks
that training as repro runs it has none left. Output is per platform, so say which platform it
ran on when quoting it.

Usage: python bench/probe_threads.py [EXP ...] [--steps N] [--plain]   (default: every experiment, 20 steps)
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROOT = Path(__file__).resolve().parent.parent
ALL = ["ex-2.4.1-notebook", "ex-2.4.1", "ex-2.5.1", "ex-2.7.1", "ex-2.9.1", "ex-2.10.1"]


def _tensors(x) -> list[torch.Tensor]:
    return [t for t in tree_flatten(x)[0] if isinstance(t, torch.Tensor)]


class ThreadProbe(TorchDispatchMode):
    """Runs each op as asked, then again at `other` threads, and counts the ops that differ."""

    def __init__(self, other: int):
        super().__init__()
        self.other, self.differs, self.ops = other, Counter(), 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.is_view or func._schema.is_mutable or "out" in kwargs or "empty" in func.__name__:
            return out  # in-place and out= ops would change their inputs if run twice; empty is garbage
        threads = torch.get_num_threads()
        torch.set_num_threads(self.other)
        try:
            again = func(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
        self.ops += 1
        if any(a.dtype.is_floating_point and not torch.equal(a, b)
               for a, b in zip(_tensors(out), _tensors(again))):
            shapes = tuple(tuple(t.shape) for t in _tensors(args))
            self.differs[(str(func), shapes)] += 1
        return out


def probe(name: str, steps: int) -> ThreadProbe:
    from repro.engine import data as D
    from repro.base.machine import pinned
    from repro.config.spec import load_spec
    from repro.engine.train import train

    spec = load_spec(name)
    with pinned():
        colors, [model], [plan] = D.initial_models_and_plans(spec, [spec.seed])
        mode = ThreadProbe(other=1 if torch.get_num_threads() != 1 else 2)
        with mode:
            train(model, colors, plan, D.regularizers(spec), D.schedule_of(spec), steps, None)
    return mode


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from repro.base.machine import THREADS, current_platform

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="*", default=ALL)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--plain", action="store_true", help="without repro.engine.rowsplit's blocks")
    args = ap.parse_args()
    if args.plain:
        from repro.engine import rowsplit

        rowsplit._table = lambda: {}
    print(f"platform {current_platform().id}, {THREADS} threads against the other count, torch {torch.__version__}")
    for name in args.experiments:
        mode = probe(name, args.steps)
        print(f"{name}: {mode.ops} ops in {args.steps} steps, {sum(mode.differs.values())} differ")
        for (op, shapes), n in sorted(mode.differs.items()):
            print(f"  {n:5d} x {op} {shapes}")


if __name__ == "__main__":
    main()
