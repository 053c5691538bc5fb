"""Label counts as upstream's callback made them, step by step, against the vectorised count."""

import torch

from repro.method import colors as C
from repro.method.regularizers import Regularizer
from repro.engine.replay import every_n_steps, plan_batches
from repro.engine.train import count_labels


def counts_step_by_step(plan, regs, schedule, n_steps):
    """The callback's arithmetic: at each step, the labels some regulariser with a non-zero
    weight uses; their positives, the samples with any of them positive, and the step's size."""
    last_row = len(schedule["lr"]) - 2
    counts, any_count, total, total_active = {}, 0, 0, 0
    for k in range(n_steps):
        row = min(k, last_row)
        labels = plan.labels[k]
        active = sorted({lab for r in regs if r.labels is not None and schedule[r.name][row] != 0.0
                         for lab in r.labels if lab in labels})
        m = len(plan.index[k])
        total += m
        if active:
            total_active += m
            for a in active:
                counts[a] = counts.get(a, 0) + int(labels[a].sum())
            any_count += int((torch.stack([labels[a] for a in active]) > 0).any(0).sum())
    return {**counts, "_any": any_count, "total": total, "total_active": total_active}


def test_counts_equal_the_callbacks_step_by_step_counts():
    cube = C.rgb_cube(10).reshape(-1, 3)
    probs = {"red": torch.tensor(C.redness(cube) ** 2 * 0.3, dtype=torch.float32),
             "vibrant": torch.tensor(C.vibrancy(cube) ** 2 * 0.3, dtype=torch.float32)}
    plan = plan_batches(torch.Generator().manual_seed(5), 1000, probs, 120, 64, 4, every_n_steps(30))
    regs = [Regularizer("anchor", {"vibrant": 1.0}, True, None), Regularizer("sub", {"red": 1.0}, True, None),
            Regularizer("sep", None, False, None)]
    # vibrant is used first, then both, then neither, then red alone; the last row is never applied
    schedule = {"lr": [0.01] * 6, "sep": [1.0] * 6,
                "anchor": [1.0, 1.0, 0.0, 0.0, 0.0, 1.0], "sub": [0.0, 0.5, 0.0, 2.0, 2.0, 0.0]}
    for n_steps in (120, 3, 1):
        expected = counts_step_by_step(plan, regs, schedule, n_steps)
        got = count_labels(plan, regs, schedule, n_steps)
        assert list(got.items()) == list(expected.items())  # the order is written to metrics.json
    assert list(count_labels(plan, regs, schedule, 120)) == ["vibrant", "red", "_any", "total", "total_active"]
    assert count_labels(plan, regs[2:], schedule, 120) == {"_any": 0, "total": 7 * 1000 + 8 * 64, "total_active": 0}
