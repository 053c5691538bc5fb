"""How far floating-point noise alone moves each published quantity: `repro sensitivity`.

MKL and oneDNN choose their kernels from environment variables read at start-up, and each
choice changes the last bits of every matrix product. Retraining the same seed under several
such choices (each in a fresh process) therefore shows how much last-bit noise in the
arithmetic moves a result: in the 4-D models very little, in the 5-D ones a lot (rng-replay.md
§10). The variants are a fixed, documented list; each one's models are cached like any other
result (its kernel variables are part of the training key), and this module stores, for every
run and sweep quantity, its value under each variant (`sensitivity-KEY.json`), from which
`repro verify` takes each registry entry's band.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from repro import keys, machine
from repro import results as R
from repro.errors import ReproError
from repro.spec import ROOT, Spec, load_spec


@dataclass(frozen=True)
class Variant:
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


def sensitivity_inputs(spec: Spec, sweep: bool) -> dict:
    tk = keys.digest(keys.training_inputs(spec))
    variants = VARIANTS[:SWEEP_VARIANTS] if sweep else VARIANTS
    return {"variants": [[v.name, v.env] for v in variants], "training": keys.training_inputs(spec),
            "evaluation": keys.evaluation_inputs(spec, tk), "sweep": sweep,
            "objectives": spec.sweep.model_dump(mode="json") if sweep else None,
            "code": keys.code_digests(("sensitivity", "sweep") if sweep else ("sensitivity",))}


def sensitivity_file(spec: Spec, sweep: bool) -> tuple[Path, dict]:
    inputs = sensitivity_inputs(spec, sweep)
    kind = "sweeps" if sweep else "runs"
    return R.experiment_dir(spec) / f"sensitivity-{kind}-{keys.digest(inputs)}.json", inputs


def cached(spec: Spec, sweep: bool = False) -> dict | None:
    """The stored sensitivity of an experiment's selected seed (or of its sweep), if current."""
    path, inputs = sensitivity_file(spec, sweep)
    data = R._read_json(path)
    if data is None or not R._is_sealed(data) or data.get("inputs") != inputs:
        return None
    return data


def _variant_env(v: Variant | None, side_by_side: int = 1) -> dict[str, str]:
    """The environment of a variant's process, `side_by_side` of them running at once."""
    env = {k: val for k, val in os.environ.items() if k not in {k2 for var in VARIANTS for k2 in var.env}}
    return {**env, **machine.side_by_side_env(side_by_side), **(v.env if v else {})}


def _measure(experiment: str, variant: Variant | None, sweep: bool, jobs: int, side_by_side: int = 1) -> dict:
    """One variant's run (and sweep) metrics, from a fresh process (the variables are read at start)."""
    args = [sys.executable, "-m", "repro.sensitivity", experiment, "--jobs", str(jobs)] + (["--sweep"] if sweep else [])
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=_variant_env(variant, side_by_side))
    if out.returncode != 0:
        name = variant.name if variant else "default"
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReproError(f"{experiment} under kernel variant {name} failed: {last}")
    return json.loads(out.stdout)


def run_sensitivity(experiment: str, sweep: bool = False, jobs: int = 2, log=None) -> dict:
    """Retrain the selected seed (sweep: the whole sweep) under the default kernels and each
    variant; cached in results/EXPERIMENT/sensitivity-{runs,sweeps}-KEY.json."""
    spec = load_spec(experiment)
    hit = cached(spec, sweep)
    if hit is not None:
        return hit
    path, inputs = sensitivity_file(spec, sweep)
    t0 = time.perf_counter()
    say = log or (lambda m: None)
    variants: list[Variant | None] = [None, *(VARIANTS[:SWEEP_VARIANTS] if sweep else VARIANTS)]
    what = "the whole sweep" if sweep else f"seed {spec.seed}"
    say(f"{experiment}: retraining {what} under the default kernels and {len(variants) - 1} kernel variants")
    if sweep:  # a sweep uses every core itself: one variant at a time
        measured = []
        for v in variants:
            measured.append(_measure(experiment, v, True, jobs))
            say(f"{experiment}: sweep under {v.name if v else 'the default kernels'} done "
                f"({time.perf_counter() - t0:.0f}s)")
    else:
        side_by_side = max(1, min(jobs, len(variants)))
        with ThreadPoolExecutor(max_workers=side_by_side) as pool:
            measured = list(pool.map(lambda v: _measure(experiment, v, False, 1, side_by_side), variants))
    data = {
        "experiment": experiment,
        "inputs": inputs,
        "variants": [{"name": v.name if v else "default", "env": v.env if v else {}, **m}
                     for v, m in zip(variants, measured)],
        "wall_s": time.perf_counter() - t0,
    }
    data["distinct_models"] = len({m["run"]["model_sha256"] for m in data["variants"]})
    if sweep:
        data["distinct_selections"] = len({m["sweep"]["selected_seed"] for m in data["variants"]})
    data = R.sealed(data)
    R.atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    say(f"{experiment}: {data['distinct_models']} distinct models of seed {spec.seed} from {len(variants)} "
        f"kernel choices, {data['wall_s']:.0f}s")
    return data


def _main(argv: list[str]) -> None:
    """The process a variant runs in: train (or reuse) and print the metrics as JSON."""
    import argparse

    from repro.machine import current_platform
    from repro.runner import run_one

    ap = argparse.ArgumentParser(prog="python -m repro.sensitivity")
    ap.add_argument("experiment")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    spec = load_spec(args.experiment)
    out = {"platform": current_platform().id}
    if not args.sweep:
        out["run"] = _compact(run_one(spec)[1])
    else:
        from repro.executors import running
        from repro.sweep import run_sweep

        with running("local", args.jobs) as ex:  # one chunk per worker: fastest, and nobody watches it
            _, summary = run_sweep(spec, executor=ex, chunk_size=100_000)
        out["sweep"] = {k: v for k, v in summary.items() if k not in ("selected_result", "timings")}
        out["run"] = {"model_sha256": next(r["model_sha256"] for r in summary["runs"] if r["seed"] == spec.seed)}
    json.dump(out, sys.stdout)


def _compact(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("inputs", "val_history", "record_sha256")}


if __name__ == "__main__":
    _main(sys.argv[1:])
