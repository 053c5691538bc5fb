"""Speed and memory of one training run and of a whole `repro run` (goals: <= 2.5 s training,
<= 8 s for the command including imports, <= 450 MB peak RSS on the 2-core machine).

Usage: python bench/bench_run.py [--repeats 3]. Prints a JSON summary and writes it to
bench/results-run.json with the machine it ran on. Medians of the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def train_once(name: str) -> float:
    code = (
        "import json, tempfile, os; os.environ['REPRO_RESULTS'] = tempfile.mkdtemp()\n"
        "from repro.config.spec import load_spec; from repro.pipeline.runner import train_one\n"
        f"t = train_one(load_spec({name!r})); print(json.dumps(t.record['train_s']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def command_once(name: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `repro run NAME --force` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "REPRO_RESULTS": tmp}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "repro.cli", "run", name, "-q"], check=True, env=env, cwd=ROOT,
                       capture_output=True)
        wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, rss_mb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--experiment", default="ex-2.4.1")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from repro.base.machine import environment, pinned

    train = [train_once(args.experiment) for _ in range(args.repeats)]
    runs = [command_once(args.experiment) for _ in range(args.repeats)]
    with pinned():  # record the thread settings the timed commands ran with, not this driver's
        machine = environment(ROOT)
    summary = {
        "experiment": args.experiment,
        "train_s_median": statistics.median(train), "train_s": train,
        "repro_run_s_median": statistics.median(w for w, _ in runs), "repro_run_s": [w for w, _ in runs],
        "peak_rss_mb": max(r for _, r in runs),
        "machine": {**machine, "cores": os.cpu_count()},
    }
    print(json.dumps(summary, indent=2))
    (ROOT / "bench" / "results-run.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
