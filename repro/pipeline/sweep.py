"""Sweeps: train every seed, score it, keep the Pareto front, pick the most selective run.

Workers are pure (spec and seeds in, weights and records out); only the driver reads and writes
the cache, so any `concurrent.futures`-shaped executor can run them: inline, local processes, or
a Dask cluster (`repro.pipeline.executors`). Each seed is cached in the directory `repro run --seed N`
uses, as soon as its chunk of seeds finishes, so an interrupted sweep resumes where it stopped.
Seeds are trained in chunks of up to CHUNK as one batched computation (repro.engine.batched).
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import time
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from repro.store import keys
from repro.base import machine
from repro.store import layout
from repro.store import results as R
from repro.base.errors import ReproError
from repro.base.progress import Log, Progress
from repro.store.records import Metrics, SweepSummary, TrainingRecord
from repro.config.spec import Spec, parse_seeds  # noqa: F401  (parse_seeds: part of this module's API)
from repro.method.model import SphericalAutoencoder, from_bytes, to_bytes
from repro.pipeline.executors import NO_MAIN_GUARD, Workers

# Seeds per batched worker task. Each step has a fixed cost (vmap's transforms, ~4.5 ms) besides
# each seed's share (~0.3 ms): on intel-avx512, ex-2.9.1 costs 0.96 s a seed in chunks of 15,
# 0.57 s in chunks of 30 and 0.46 s in chunks of 60 (1.9 s alone). 30 is one chunk per worker
# of a 60-seed sweep on two cores, cached as each finishes.
CHUNK = 30


def train_chunk(spec: Spec, seeds: list[int], progress=None) -> list[dict]:
    """Worker: train `seeds` as one batched computation and score each model (so that the driver
    does not score them one by one while the workers wait); touches no files.
    `progress`, if given, is a queue that receives (first seed, steps done, steps total)."""
    from repro.engine.batched import train_many
    from repro.engine.data import initial_models_and_plans, regularizers, schedule_of, validation_set
    from repro.engine.evaluate import score
    from repro.engine.trajectory import probe_of
    from repro.method.model import fingerprint

    def report(done: float, total: float, note: str = "") -> None:
        if progress is not None:
            progress.put((seeds[0], done, total))

    out = []
    with machine.pinned():
        colors, models, plans = initial_models_and_plans(spec, seeds)
        init = [fingerprint(m) for m in models]
        results = train_many(models, colors, plans, regularizers(spec), schedule_of(spec), len(spec.sheet),
                             validation_set(spec), report, probe_of(spec))
        for s, sha, result in zip(seeds, init, results):
            seed_spec = spec.with_seed(s)
            model = result.model.eval()
            out.append({"seed": s, "inputs": keys.training_inputs(seed_spec), "init_sha256": sha,
                        "state": to_bytes(model), "label_counts": result.label_counts,
                        "val_history": result.val_history, "final_loss": result.final_loss,
                        "train_s": result.train_s, "losses": result.losses.numpy(), "diverged": result.diverged,
                        "trajectory": result.trajectory,
                        "score": None if result.diverged else score(seed_spec, model)})
    return out


def chunks(seeds: list[int], jobs: int, size: int = CHUNK) -> list[list[int]]:
    """Split seeds into chunks of at most `size`, and at least one per worker."""
    n = max(1, min(len(seeds), max(jobs, -(-len(seeds) // size))))
    step = -(-len(seeds) // n)
    return [seeds[i:i + step] for i in range(0, len(seeds), step)]


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


def select(rows: list[dict], minimize: list[str], maximize: list[str], name: str = "sweep") -> tuple[list[int], int]:
    """(indices of the Pareto front, the selected seed): like pandas' idxmax upstream, the first
    front row holding the highest score; a NaN score is never chosen."""
    front = pareto_front(rows, minimize, maximize)
    scored = [i for i in front if rows[i].get("score") is not None and math.isfinite(rows[i]["score"])]
    if not scored:
        raise ReproError(f"{name}: no seed has a finite score; nothing to select")
    best = max(scored, key=lambda i: (rows[i]["score"], -i))
    return front, rows[best]["seed"]


def stats(rows: list[dict], keys_: list[str]) -> dict:
    """min, max, mean and (sample) std per metric, like pandas describe()."""
    out = {}
    for k in keys_:
        vals = [r[k] for r in rows if r.get(k) is not None and math.isfinite(r[k])]  # NaN runs are listed, not averaged
        if vals:
            out[k] = {"min": min(vals), "max": max(vals), "mean": statistics.fmean(vals),
                      "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    return out


def sweep_dir(spec: Spec, seeds: list[int]) -> Path:
    """Where a sweep over these seeds of this spec is stored."""
    inputs = keys.training_inputs(spec)
    inputs["spec"].pop("seed")
    key = keys.digest({"training": inputs, "seeds": seeds})
    return layout.sweep_dir(spec.name, key)


def row_of(record: TrainingRecord, score: float, objectives: list[str]) -> dict:
    """A seed's line in the sweep: score, validation losses, label counts, final training loss,
    timing, fingerprint.
    A diverged seed has NaN objectives (listed, never selected) and the step it diverged at."""
    diverged = record.get("diverged")
    nan = {k: math.nan for k in objectives if k.startswith("val_")} if diverged else {}
    return {"seed": record["seed"], "score": score, **nan, **record["val_losses"],
            **({"diverged_at": diverged[0]} if diverged else {}),
            **{f"labels/{k}": v for k, v in record["label_counts"].items()},
            "final_loss": record.get("final_loss"),  # the last step's training loss, as a notebook's widget printed it
            "runtime_s": record["train_s"], "model_sha256": record["model_sha256"],
            "training_key": record["training_key"]}


def run_sweep(spec: Spec, seeds: list[int] | None = None, executor: Workers | None = None, progress: Progress | None = None,
              evaluate_selected: bool = True, log: Log | None = None,
              chunk_size: int = CHUNK) -> tuple[Path, SweepSummary]:
    """`chunk_size`: seeds per batched task at most (a smaller chunk is cached sooner; a larger one
    trains faster, for batch jobs that are not watched)."""
    from repro.pipeline.runner import Trained, cached_training, score_one

    if seeds is None:
        seeds = parse_seeds(spec.sweep.seeds)
    elif not seeds:
        raise ReproError("seeds: give at least one seed (None means the spec's sweep seeds)")
    else:
        seeds = sorted(set(seeds))  # as the CLI's seed ranges give them: a seed counts once
    t0 = time.perf_counter()
    specs = {s: spec.with_seed(s) for s in seeds}
    trained: dict[int, Trained] = {}
    todo = []
    said: list[str] = []
    for s, sp in specs.items():
        hit = cached_training(sp, said.append if log else None)
        if hit is not None:
            trained[s] = hit
        else:
            todo.append(s)
    if log:
        _say_once_per_reason(said, log)
    cached = len(trained)
    if todo:
        _train(spec, specs, todo, trained, executor, progress, t0, chunk_size)
    objectives = [*spec.sweep.minimize, *spec.sweep.maximize]
    rows = [row_of(trained[s].record, score_one(specs[s], trained[s], log), objectives) for s in seeds]
    diverged = [r["seed"] for r in rows if "diverged_at" in r]
    if diverged and log:
        log(f"{spec.name}: {len(diverged)} seed(s) diverged and are listed without scores: "
            f"{', '.join(map(str, diverged[:10]))}{' ...' if len(diverged) > 10 else ''}")
    front, selected = select(rows, list(spec.sweep.minimize), list(spec.sweep.maximize), spec.name)
    metric_keys = ["score", *sorted({k for r in rows for k in r if k.startswith("val_")}),
                   *sorted({k for r in rows for k in r if k.startswith("labels/")}), "runtime_s"]
    summary: SweepSummary = {
        "experiment": spec.name,
        "seeds": seeds,
        "diverged_seeds": diverged,
        "selected_seed": selected,
        "pareto_seeds": [rows[i]["seed"] for i in sorted(front, key=lambda i: -rows[i]["score"])],
        "pareto_count": len(front),
        "objectives": {"minimize": list(spec.sweep.minimize), "maximize": list(spec.sweep.maximize)},
        "stats": stats(rows, metric_keys),
        "runs": rows,
    }
    if evaluate_selected:
        from repro.pipeline.runner import run_one

        path, metrics, _ = run_one(specs[selected], log=log)
        summary["selected_result"] = str(path)
        summary["selected_score"] = metrics["score"]
    summary["timings"] = {"total_s": time.perf_counter() - t0, "trained": len(todo), "cached": cached}
    out = sweep_dir(spec, seeds)
    R.atomic_write_text(out / layout.SUMMARY, json.dumps(summary, indent=2) + "\n")
    cols = ["seed", *metric_keys, "model_sha256"]
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    R.atomic_write_text(out / layout.RUNS, "\n".join(lines) + "\n")
    return out, summary


def _say_once_per_reason(lines: list[str], log: Log) -> None:
    """Why cached models were not reused: the first seed's line per reason, then how many more seeds
    had it (a changed spec or code supersedes every seed's model at once)."""
    import re

    groups: dict[str, list[str]] = {}
    for line in lines:  # "NAME seed N: ... in PATH ..." -> the reason without the seed and folder
        reason = re.sub(r"^\S+ seed \d+: ", "", line)
        reason = re.sub(r"(?<=\s)\S*/[0-9a-f]{16}\b", "FOLDER", reason)
        groups.setdefault(reason, []).append(line)
    for same in groups.values():
        log(same[0])
        if len(same) > 1:
            log(f"  ... and {len(same) - 1} more seed{'s' if len(same) > 2 else ''} for the same reason")


def _train(spec, specs, todo, trained, executor, progress, t0, chunk_size) -> None:
    """Train the missing seeds on the executor, caching each chunk as it finishes."""
    from repro.pipeline.executors import deferred_interrupt, make_executor

    own = executor is None
    ex = executor or make_executor("inline")
    futures: dict = {}
    # With workers elsewhere, Ctrl-C is taken between polls, never inside a call to the progress
    # queue or the cluster (which would leave them half-spoken and print tracebacks).
    guard = contextlib.nullcontext(lambda: False) if ex.inline else deferred_interrupt()
    try:
        with guard as interrupted:
            _run_chunks(spec, specs, todo, trained, ex, futures, interrupted, progress, t0, chunk_size)
        if interrupted():  # a Ctrl-C recorded on the way out (the progress queue's proxy talks as it goes)
            raise KeyboardInterrupt
    except BaseException:
        for f in futures:
            f.cancel()
        if own:
            ex.terminate()
        raise
    if own:
        ex.shutdown()


def _run_chunks(spec, specs, todo, trained, ex, futures, interrupted, progress, t0, chunk_size) -> None:
    import torch

    from repro.pipeline.runner import score_one, store_training
    from repro.engine.train import TrainResult

    queue = ex.progress_queue()
    work = chunks(todo, ex.jobs, chunk_size)
    # The inline executor trains inside submit(): hand it one chunk at a time, so that each is
    # cached before the next is trained. Worker pools queue them all.
    capacity = 1 if ex.inline else len(work)
    pending: set = set()

    def submit_more() -> None:
        while work and len(pending) < capacity:
            chunk = work.pop(0)
            fut = ex.submit(train_chunk, spec, chunk, queue)
            futures[fut] = chunk
            pending.add(fut)

    steps: dict[int, int] = {}
    finished_chunks: set[int] = set()
    n_steps = len(spec.sheet)
    done = 0
    submit_more()
    while pending:
        finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
        if interrupted():
            raise KeyboardInterrupt
        for fut in finished:
            chunk = futures[fut]
            try:
                out = fut.result()
            except Exception as e:  # a worker died or raised: keep what finished, say how to resume
                raise ReproError(f"seeds {chunk[0]}-{chunk[-1]} failed ({type(e).__name__}: {e}); the "
                                 f"{done} seeds finished so far are cached: run the same command again to "
                                 "resume") from e
            for item in out:
                s = item["seed"]
                expected = keys.training_inputs(specs[s])
                if item["inputs"] != expected:
                    changed = keys.what_changed(expected, item["inputs"])
                    raise ReproError(f"the worker that trained seed {s} differs from this machine in "
                                     f"{', '.join(changed)}; its models would not be this platform's")
                model = _model_from(specs[s], item["state"])
                result = TrainResult(model, item["label_counts"], item["val_history"], item["final_loss"],
                                     item["train_s"], torch.from_numpy(item["losses"]), item.get("diverged"),
                                     item.get("trajectory"))
                trained[s] = store_training(specs[s], result, item["init_sha256"], loop="batched")
                score_one(specs[s], trained[s], value=item.get("score"))
            done += len(chunk)
            finished_chunks.add(chunk[0])
            steps.pop(chunk[0], None)
        submit_more()
        while queue is not None and not queue.empty():
            first, k, _ = queue.get()
            if first not in finished_chunks:
                steps[first] = k
        now = time.perf_counter()
        if progress:
            # The seeds in flight count by their chunks' steps (and trained chunks waiting to be cached).
            partial = sum(len(c) * steps.get(c[0], 0) / n_steps for c in futures.values() if c[0] in steps)
            # Finished only once every seed is cached: trained chunks waiting to be stored count as 99%.
            shown = done + partial if done == len(todo) else min(done + partial, len(todo) - 0.01)
            progress(shown, len(todo), _progress_note(done, partial, len(todo), now - t0))


def _progress_note(done: int, partial: float, total: int, elapsed: float) -> str:
    frac = (done + partial) / total if total else 1.0
    left = f", about {elapsed * (1 - frac) / frac:.0f}s left" if 0.02 < frac < 1 else ""
    return f"{done} cached{left}"


def _model_from(spec: Spec, state: bytes) -> SphericalAutoencoder:
    m = spec.model
    return from_bytes(state, m.latent_dim, m.hidden_width, m.hidden_layers, m.gelu)


def evaluate_chunk(spec: Spec, items: list[tuple[int, bytes]]) -> list[dict]:
    """Worker: score and fully evaluate trained models (seed, state_dict bytes); touches no files."""
    from repro.engine.evaluate import evaluate, score

    out = []
    with machine.pinned():
        for seed, state in items:
            t0 = time.perf_counter()
            seed_spec = spec.with_seed(seed)
            model = _model_from(seed_spec, state)
            out.append({"seed": seed, "score": score(seed_spec, model), "evaluation": evaluate(seed_spec, model),
                        "eval_s": time.perf_counter() - t0})
    return out


def evaluate_all(spec: Spec, seeds: list[int], executor: Workers | None = None, log: Log | None = None) -> dict[int, Metrics]:
    """Every seed's full evaluation (metrics.json), computed in parallel where missing. The
    seeds must be trained (run_sweep first)."""
    from repro.pipeline.executors import make_executor
    from repro.pipeline.runner import cached_evaluation, cached_training, store_evaluation

    out: dict[int, Metrics] = {}
    todo = {}
    for s in seeds:
        sp = spec.with_seed(s)
        trained = cached_training(sp, log)
        if trained is None:
            raise ReproError(f"{spec.name} seed {s} is not trained; run the sweep first")
        if trained.record.get("diverged"):
            continue  # nothing to evaluate
        _, metrics = cached_evaluation(sp, trained, log)
        if metrics is not None:
            out[s] = metrics
        else:
            todo[s] = trained
    if not todo:
        return out
    own = executor is None
    ex = executor or make_executor("inline")
    try:
        jobs = ex.jobs
        order = list(todo)
        futures = [ex.submit(evaluate_chunk, spec, [(s, to_bytes(todo[s].model)) for s in chunk])
                   for chunk in chunks(order, jobs, size=10)]
        for fut in futures:
            try:
                items = fut.result()
            except BrokenProcessPool:  # above all, workers that re-ran an unguarded script and exited
                raise ReproError(f"the workers evaluating {spec.name}'s seeds died before they were done (the evaluations "
                                 f"finished so far are cached). If a script called this: {NO_MAIN_GUARD}") from None
            for item in items:
                s = item["seed"]
                out[s] = store_evaluation(spec.with_seed(s), todo[s], item["evaluation"], item["score"], item["eval_s"])
    finally:
        if own:
            ex.shutdown()
    return out
