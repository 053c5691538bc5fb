"""Sweeps: train every seed, score it, keep the Pareto front, pick the most selective run.

Workers are pure (spec in, record and weights out); only the driver reads and writes the cache,
so any `concurrent.futures`-shaped executor can run them: inline, local processes, or a Dask
cluster (`repro.executors`). Each seed is cached under its own spec hash, the directory
`repro run --seed N` uses, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import statistics
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from pathlib import Path

import torch

from repro.errors import ReproError
from repro.results import atomic_write_text, read_metrics, results_dir, run_dir
from repro.spec import Spec, spec_hash

RECORD = "record.json"


def parse_seeds(text: str) -> list[int]:
    """'0-59', '3', '0-4,10,20-22' -> sorted distinct seeds."""
    seeds: set[int] = set()
    for part in text.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ReproError(f"seeds {text!r}: {part!r} is not a seed or range; use e.g. 0-59 or 0-4,10")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ReproError(f"seeds {text!r}: range {part!r} is empty (it goes backwards)")
        seeds.update(range(lo, hi + 1))
    if not seeds:
        raise ReproError(f"seeds {text!r}: no seeds")
    return sorted(seeds)


def train_and_score(specs: list[Spec]) -> list[tuple[dict, dict]]:
    """Worker: train a chunk of seeds as one batched computation and score each one.
    Returns [(record, state_dict)] in order; touches no files."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    from repro.batched import build_many, train_many
    from repro.experiment import regularizers, schedule_of, score, validation_set
    from repro.model import fingerprint

    spec = specs[0]
    t0 = time.perf_counter()
    colors, models, plans = build_many(spec, [s.seed for s in specs])
    results = train_many(models, colors, plans, regularizers(spec), schedule_of(spec), len(spec.sheet),
                         validation_set(spec))
    out = []
    for sp, result in zip(specs, results):
        model = result.model.eval()
        record = {
            "seed": sp.seed,
            "score": score(sp, model),
            **(result.val_history[-1][1] if result.val_history else {}),
            **{f"labels/{k}": v for k, v in result.label_counts.items()},
            "runtime_s": (time.perf_counter() - t0) / len(specs),
            "model_sha256": fingerprint(model),
        }
        out.append((record, model.state_dict()))
    return out


def chunks(seeds: list[int], jobs: int) -> list[list[int]]:
    """Split seeds into one batch per worker: the per-step cost of a batch grows slowly with its size."""
    n = max(1, min(len(seeds), jobs))
    size = -(-len(seeds) // n)
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def _write_record(spec: Spec, record: dict, state: dict) -> None:
    path = run_dir(spec)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / f".{RECORD}.tmp"
    torch.save(state, path / "model.pt.tmp")
    (path / "model.pt.tmp").replace(path / "model.pt")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path / RECORD)


def _cached_record(spec: Spec) -> dict | None:
    """A seed already trained by a sweep (record.json) or by `repro run --seed N` (metrics.json)."""
    path = run_dir(spec)
    if not (path / "model.pt").exists():
        return None
    if (path / RECORD).exists():
        return json.loads((path / RECORD).read_text())
    if (path / "metrics.json").exists():
        m = read_metrics(path)
        return {"seed": m["seed"], "score": m["score"], **m["val_losses"],
                **{f"labels/{k}": v for k, v in m["label_counts"].items()},
                "runtime_s": m["timings"]["train_s"], "model_sha256": m["model_sha256"]}
    return None


def pareto_front(rows: list[dict], minimize: list[str], maximize: list[str]) -> list[int]:
    """Indices of non-dominated rows, as upstream: row i is dominated by a row j not yet marked
    dominated that is no worse on every objective and strictly better on one; NaN never wins."""
    n = len(rows)
    dominated = [False] * n

    def better_or_equal(a, b, col, hi):
        x, y = a.get(col, math.nan), b.get(col, math.nan)
        if x is None or y is None or math.isnan(x) or math.isnan(y):
            return False, False
        return (x >= y, x > y) if hi else (x <= y, x < y)

    for i in range(n):
        for j in range(n):
            if i == j or dominated[j]:
                continue
            ok, strict = True, False
            for col, hi in [(c, False) for c in minimize] + [(c, True) for c in maximize]:
                ge, gt = better_or_equal(rows[j], rows[i], col, hi)
                ok &= ge
                strict |= gt
            if ok and strict:
                dominated[i] = True
                break
    return [i for i in range(n) if not dominated[i]]


def stats(rows: list[dict], keys: list[str]) -> dict:
    """min, max, mean and (sample) std per metric, like pandas describe()."""
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None and math.isfinite(r[k])]  # NaN runs are listed, not averaged
        if vals:
            out[k] = {"min": min(vals), "max": max(vals), "mean": statistics.fmean(vals),
                      "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    return out


def sweep_dir(spec: Spec, seeds: list[int]) -> Path:
    key = hashlib.sha256(f"{spec_hash(dataclasses.replace(spec, seed=0))}:{seeds}".encode()).hexdigest()[:16]
    return results_dir() / spec.name / f"sweep-{key}"


Progress = Callable[[int, int, float], None]  # (seeds done, seeds total, estimated seconds left)


def run_sweep(spec: Spec, seeds: list[int] | None = None, executor=None, progress: Progress | None = None,
              evaluate_selected: bool = True) -> tuple[Path, dict]:
    seeds = seeds or parse_seeds(spec.sweep.seeds)
    t0 = time.perf_counter()
    specs = {s: dataclasses.replace(spec, seed=s) for s in seeds}
    records: dict[int, dict] = {}
    todo = []
    for s, sp in specs.items():
        rec = _cached_record(sp)
        if rec is not None:
            records[s] = rec
        else:
            todo.append(s)
    done_before = len(records)
    if todo:
        from repro.executors import make_executor

        own = executor is None
        ex = executor or make_executor("inline")
        try:
            jobs = getattr(ex, "_max_workers", None) or getattr(ex, "jobs", 1)
            futures = {ex.submit(train_and_score, [specs[s] for s in chunk]): chunk for chunk in chunks(todo, jobs)}
            started = time.perf_counter()
            for fut in as_completed(futures):
                chunk = futures[fut]
                try:
                    results = fut.result()
                except Exception as e:  # a worker died or raised: keep what finished, say how to resume
                    raise ReproError(f"seeds {chunk[0]}-{chunk[-1]} failed ({type(e).__name__}: {e}); the "
                                     f"{len(records) - done_before} seeds finished so far are cached: run the same "
                                     "command again to resume") from e
                for s, (record, state) in zip(chunk, results):
                    _write_record(specs[s], record, state)
                    records[s] = record
                if progress:
                    n_new = len(records) - done_before
                    rate = (time.perf_counter() - started) / n_new
                    progress(len(records), len(seeds), rate * (len(seeds) - len(records)))
        finally:
            if own:
                ex.shutdown()
    rows = [records[s] for s in seeds]
    front = pareto_front(rows, list(spec.sweep.minimize), list(spec.sweep.maximize))
    # Like pandas' idxmax upstream: the first row holding the highest score, NaN never chosen.
    scored = [i for i in front if rows[i].get("score") is not None and math.isfinite(rows[i]["score"])]
    if not scored:
        raise ReproError(f"{spec.name}: no seed has a finite score; nothing to select")
    best = max(scored, key=lambda i: (rows[i]["score"], -i))
    selected = rows[best]["seed"]
    metric_keys = ["score", *sorted({k for r in rows for k in r if k.startswith("val_")}),
                   *sorted({k for r in rows for k in r if k.startswith("labels/")}), "runtime_s"]
    summary = {
        "experiment": spec.name,
        "seeds": seeds,
        "selected_seed": selected,
        "pareto_seeds": [rows[i]["seed"] for i in sorted(front, key=lambda i: -rows[i]["score"])],
        "pareto_count": len(front),
        "objectives": {"minimize": list(spec.sweep.minimize), "maximize": list(spec.sweep.maximize)},
        "stats": stats(rows, metric_keys),
        "runs": rows,
    }
    if evaluate_selected:
        from repro.runner import run_one

        path, metrics, _ = run_one(specs[selected])
        summary["selected_result"] = str(path)
        summary["selected_score"] = metrics["score"]
    summary["timings"] = {"total_s": time.perf_counter() - t0, "trained": len(todo), "cached": done_before}
    out = sweep_dir(spec, seeds)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    cols = ["seed", *metric_keys, "model_sha256"]
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    atomic_write_text(out / "runs.csv", "\n".join(lines) + "\n")
    return out, summary
