"""Check that the batched sweep path (repro.engine.batched) gives every seed exactly the model, losses,
validation history and label counts of the per-seed loop (repro.engine.train), for every seed of every
sweep, at the thread count results are made with. Slow (a per-seed run of every seed, ~15 min on
the 2-core machine), so it is a script rather than a test; the tests check a few seeds.

Usage: python bench/check_batched.py [EXP ...]   (default: every experiment with a sweep)
Writes bench/results-batched-PLATFORM.json (e.g. amd-avx512) with the machine it ran on; exits 1
on any mismatch.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALL = ["ex-2.4.1", "ex-2.5.1", "ex-2.7.1", "ex-2.9.1", "ex-2.10.1"]


def check(name: str) -> dict:
    from repro.engine import data as D
    from repro.engine.batched import train_many
    from repro.method.model import fingerprint
    from repro.config.spec import load_spec, parse_seeds
    from repro.pipeline.sweep import CHUNK, chunks
    from repro.engine.train import train

    spec = load_spec(name)
    seeds = parse_seeds(spec.sweep.seeds)
    args = (D.regularizers(spec), D.schedule_of(spec), len(spec.sheet))
    mismatched, batched_s, single_s = [], 0.0, 0.0
    for chunk in chunks(seeds, 1, CHUNK):
        colors, models, plans = D.initial_models_and_plans(spec, chunk)
        t0 = time.perf_counter()
        batched = train_many(models, colors, plans, *args, D.validation_set(spec))
        batched_s += time.perf_counter() - t0
        for s, b in zip(chunk, batched):
            colors, [model], [plan] = D.initial_models_and_plans(spec, [s])
            t0 = time.perf_counter()
            one = train(model, colors, plan, *args, D.validation_set(spec))
            single_s += time.perf_counter() - t0
            if not (fingerprint(b.model) == fingerprint(one.model) and b.losses.equal(one.losses)
                    and b.val_history == one.val_history and b.label_counts == one.label_counts):
                mismatched.append(s)
        print(f"{name}: seeds {chunk[0]}-{chunk[-1]} checked; mismatched so far: {mismatched or 'none'}", flush=True)
    return {"seeds": len(seeds), "mismatched_seeds": mismatched,
            "batched_train_s": round(batched_s, 1), "per_seed_train_s": round(single_s, 1)}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from repro.base.machine import environment, pinned

    names = sys.argv[1:] or ALL
    with pinned():
        rows = {name: check(name) for name in names}
        machine = environment(ROOT)
    summary = {"experiments": rows, "machine": {**machine, "cores": os.cpu_count()}}
    print(json.dumps(summary, indent=2))
    (ROOT / "bench" / f"results-batched-{machine['platform']}.json").write_text(json.dumps(summary, indent=2) + "\n")
    sys.exit(1 if any(r["mismatched_seeds"] for r in rows.values()) else 0)


if __name__ == "__main__":
    main()
