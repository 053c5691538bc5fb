"""How far floating-point noise alone moves each published quantity: `repro sensitivity`.

MKL and oneDNN choose their kernels from environment variables read at start-up, and each
choice changes the last bits of every matrix product. Retraining the same seed under several
such choices (each in a fresh process) therefore shows how much last-bit noise in the
arithmetic moves a result: in the 4-D models very little, in the 5-D ones a lot (rng-replay.md
§10). The variants are a fixed, documented list; each one's models are cached like any other
result (its kernel variables are part of the training key), and this module stores, for every
run and sweep quantity, its value under each variant (`sensitivity-KEY.json`), from which
`repro verify` takes each registry entry's band.

Work is done in one process per kernel variant and kind of work (the selected seeds of every
experiment; one experiment's sweep, trained batched), as many side by side as there are cores,
longest first. The default kernels' draw is the ordinary cache: `repro run` and `repro sweep`
made it, or it is made here once for both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro.store import keys
from repro.base import machine
from repro.store import layout
from repro.store import results as R
from repro.base.errors import ReproError
from repro.config.spec import Spec, load_spec
from repro.base.paths import ROOT


@dataclass(frozen=True)
class Variant:
    """A kernel variant: a name and the environment variables that select it."""

    name: str
    env: dict[str, str]


# Each changes the trained bits on the development machines (measured 2026-11-30 on an AMD EPYC
# with AVX-512: the seed notebook's seed 0 and ex-2.9.1's seed 33 give 8 and 10 distinct models
# under the default and these nine). They reach every kind of kernel a training step runs: MKL
# (matrix products), oneDNN (linear layers) and ATen's own vectorised kernels (reductions,
# elementwise ops; "default" is its scalar code). Variables that changed nothing there
# (MKL_ENABLE_INSTRUCTIONS alone, MKL_CBWR=AVX512, ATEN_CPU_CAPABILITY=avx2) are left out.
VARIANTS = (
    Variant("onednn-avx2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    Variant("mkl-compatible", {"MKL_CBWR": "COMPATIBLE"}),
    Variant("aten-scalar", {"ATEN_CPU_CAPABILITY": "default"}),
    Variant("onednn-sse41", {"ONEDNN_MAX_CPU_ISA": "SSE41"}),
    Variant("mkl-avx2-strict", {"MKL_CBWR": "AVX2,STRICT"}),
    Variant("onednn-avx2+mkl-compatible", {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE"}),
    Variant("onednn-avx2+mkl-avx2-strict", {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2,STRICT"}),
    Variant("aten-scalar+onednn-sse41", {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}),
    Variant("aten-scalar+mkl-compatible", {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}),
)
# Sweep statistics take a whole sweep per variant: the first SWEEP_VARIANTS variants (one per
# kind of kernel, and two more), for the experiments whose published sweeps differ from ours
# (the 5-D ones). Elsewhere only the selected seed is retrained.
SWEEP_VARIANTS = 5
SWEEP_EXPERIMENTS = ("ex-2.9.1", "ex-2.10.1")
# A variant's sweep trains in one process, as one batch: the per-step cost is shared by more
# seeds than in an interactive sweep's chunks, and nobody waits for its chunks to be cached.
SWEEP_CHUNK = 60


def sensitivity_inputs(spec: Spec, sweep: bool) -> dict:
    """What a noise band depends on: the variants, the training and evaluation inputs, the objectives and
    the code."""
    tk = keys.digest(keys.training_inputs(spec))
    variants = VARIANTS[:SWEEP_VARIANTS] if sweep else VARIANTS
    return {"variants": [[v.name, v.env] for v in variants], "training": keys.training_inputs(spec),
            "evaluation": keys.evaluation_inputs(spec, tk), "sweep": sweep,
            "objectives": spec.sweep.model_dump(mode="json") if sweep else None,
            "code": keys.code_digests(("repro.pipeline.sensitivity", "repro.pipeline.sweep") if sweep
                                           else ("repro.pipeline.sensitivity",))}


def sensitivity_file(spec: Spec, sweep: bool) -> tuple[Path, dict]:
    """Where an experiment's noise band is stored, and the inputs its key was made from."""
    inputs = sensitivity_inputs(spec, sweep)
    return layout.sensitivity_file(spec.name, sweep, keys.digest(inputs)), inputs


def cached(spec: Spec, sweep: bool = False) -> dict | None:
    """The stored sensitivity of an experiment's selected seed (or of its sweep), if current."""
    path, inputs = sensitivity_file(spec, sweep)
    data = R._read_json(path)
    if data is None or not R._is_sealed(data) or data.get("inputs") != inputs:
        return None
    return data


def _variant_env(v: Variant | None) -> dict[str, str]:
    """The environment of a variant's process: this one's, without any variant's variables,
    plus the variant's own, and this process's folders as absolute paths (its working directory
    is another, and an installed repro takes its default folders from the working directory)."""
    from repro.base.paths import folder_environment

    env = {k: val for k, val in os.environ.items() if k not in {k2 for var in VARIANTS for k2 in var.env}}
    return {**env, **folder_environment(), **(v.env if v else {})}


@dataclass(frozen=True)
class Task:
    """One process's work under one variant: the runs of `runs`' selected seeds, or one sweep."""
    variant: Variant | None
    runs: tuple[str, ...] = ()
    sweep: str | None = None

    @property
    def label(self) -> str:
        """How the progress line names this task."""
        what = f"{self.sweep} sweep" if self.sweep else f"{len(self.runs)} selected seed(s)"
        return f"{what} under {self.variant.name if self.variant else 'the default kernels'}"


def _measure(task: Task, chunk: int) -> dict:
    """Run a task in a fresh process (kernel variables are read when the libraries load)."""
    args = [sys.executable, "-m", "repro.pipeline.sensitivity", "--chunk", str(chunk)]
    args += ["--sweep", task.sweep] if task.sweep else ["--runs", *task.runs]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=_variant_env(task.variant))
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReproError(f"{task.label} failed: {last}")
    return json.loads(out.stdout)


def _tasks(runs: list[str], sweeps: list[str]) -> list[Task]:
    """Longest first, so that the last task to finish is a short one. The default kernels'
    sweep is the ordinary one: when `repro sweep` has made it, its task only reads the cache."""
    from repro.pipeline.sweep import parse_seeds, sweep_dir

    def made(x: str) -> bool:
        spec = load_spec(x)
        return (sweep_dir(spec, parse_seeds(spec.sweep.seeds)) / layout.SUMMARY).exists()

    heavy = [Task(None, sweep=x) for x in sweeps if not made(x)]
    out = heavy + [Task(v, sweep=x) for v in VARIANTS[:SWEEP_VARIANTS] for x in sweeps]
    if runs:
        out += [Task(v, runs=tuple(runs)) for v in [None, *VARIANTS]]
    return out + [Task(None, sweep=x) for x in sweeps if made(x)]


def run_all(experiments: list[str], sweeps: bool = True, jobs: int = 2, log=None) -> dict[tuple[str, bool], dict]:
    """The noise bands of `experiments` (their selected seeds; with `sweeps`, also the sweeps of
    SWEEP_EXPERIMENTS): cached ones are read, the rest computed together and cached per
    experiment in results/EXPERIMENT/sensitivity-{runs,sweeps}-KEY.json. Keyed by (experiment, sweep)."""
    say = log or (lambda m: None)
    specs = {x: load_spec(x) for x in experiments}
    out: dict[tuple[str, bool], dict] = {}
    for x, spec in specs.items():
        for sweep in (False, True) if sweeps and x in SWEEP_EXPERIMENTS else (False,):
            hit = cached(spec, sweep)
            if hit is not None:
                out[x, sweep] = hit
    runs = [x for x in experiments if (x, False) not in out]
    sweep_todo = [x for x in experiments if sweeps and x in SWEEP_EXPERIMENTS and (x, True) not in out]
    if not runs and not sweep_todo:
        return out
    tasks = _tasks(runs, sweep_todo)
    side_by_side = max(1, min(jobs, machine.cores()))
    t0 = time.perf_counter()
    say(f"noise bands: {len(runs)} selected seed(s) under the default kernels and {len(VARIANTS)} variants"
        + (f", the sweeps of {', '.join(sweep_todo)} under the default and {SWEEP_VARIANTS}" if sweep_todo else "")
        + f"; {len(tasks)} processes, {side_by_side} at a time")
    results: dict[int, dict] = {}  # by task index
    seconds: dict[int, float] = {}

    def timed(task: Task) -> tuple[dict, float]:
        start = time.perf_counter()
        return _measure(task, SWEEP_CHUNK), time.perf_counter() - start

    with ThreadPoolExecutor(max_workers=side_by_side) as pool:
        pending = {pool.submit(timed, t): i for i, t in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    results[i], seconds[i] = fut.result()
                    say(f"noise bands: {len(results)}/{len(tasks)} done ({tasks[i].label}, {seconds[i]:.0f}s), "
                        f"{time.perf_counter() - t0:.0f}s elapsed")
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    for x in runs:
        mine = sorted((i for i, t in enumerate(tasks) if x in t.runs), key=lambda i: _order(tasks[i].variant))
        out[x, False] = _store(specs[x], False, [(tasks[i].variant, {"platform": results[i]["platform"],
                                                                     "run": results[i]["runs"][x]}) for i in mine],
                               sum(seconds[i] / len(tasks[i].runs) for i in mine))
    for x in sweep_todo:
        mine = sorted((i for i, t in enumerate(tasks) if t.sweep == x), key=lambda i: _order(tasks[i].variant))
        out[x, True] = _store(specs[x], True, [(tasks[i].variant, results[i]) for i in mine],
                              sum(seconds[i] for i in mine))
    say(f"noise bands: done in {time.perf_counter() - t0:.0f}s")
    return out


def _order(v: Variant | None) -> int:
    """The stored order of the draws: the default kernels, then VARIANTS in order."""
    return 0 if v is None else 1 + VARIANTS.index(v)


def _store(spec: Spec, sweep: bool, measured: list[tuple[Variant | None, dict]], seconds: float) -> dict:
    path, inputs = sensitivity_file(spec, sweep)
    data: dict[str, Any] = {
        "experiment": spec.name,
        "inputs": inputs,
        "variants": [{"name": v.name if v else "default", "env": v.env if v else {}, **m} for v, m in measured],
        "process_s": seconds,  # this experiment's share of its processes' time (they run side by side)
    }
    data["distinct_models"] = len({m["run"]["model_sha256"] for m in data["variants"]})
    if sweep:
        data["distinct_selections"] = len({m["sweep"]["selected_seed"] for m in data["variants"]})
    data = R.sealed(data)
    R.atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    return data


def run_sensitivity(experiment: str, sweep: bool = False, jobs: int = 2, log=None) -> dict:
    """One experiment's selected-seed (or sweep) noise bands; see run_all."""
    return run_all([experiment], sweeps=sweep, jobs=jobs, log=log)[experiment, sweep]


def _main(argv: list[str]) -> None:
    """The process a task runs in: train (or reuse), evaluate, print the metrics as JSON."""
    import argparse

    from repro.base.machine import current_platform
    from repro.pipeline.runner import run_one

    ap = argparse.ArgumentParser(prog="python -m repro.pipeline.sensitivity")
    ap.add_argument("--runs", nargs="*", default=[])
    ap.add_argument("--sweep")
    ap.add_argument("--chunk", type=int, default=SWEEP_CHUNK)
    args = ap.parse_args(argv)
    out: dict = {"platform": current_platform().id}
    if args.sweep:
        from repro.pipeline.sweep import run_sweep

        spec = load_spec(args.sweep)
        _, summary = run_sweep(spec, chunk_size=args.chunk)  # batched, in this process
        out["sweep"] = {k: v for k, v in summary.items() if k not in ("selected_result", "timings")}
        out["run"] = {"model_sha256": next(r["model_sha256"] for r in summary["runs"] if r["seed"] == spec.seed)}
    else:
        out["runs"] = {x: _compact(run_one(load_spec(x))[1]) for x in args.runs}
    json.dump(out, sys.stdout)


def _compact(metrics: Mapping[str, Any]) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("inputs", "val_history", "record_sha256")}


if __name__ == "__main__":
    _main(sys.argv[1:])
