"""Robustness to a busy machine: `repro run EXP --force` alone, and two of them side by side (as
a researcher's second shell, a test run or an editor would load the machine). Goal: side by side
each takes at most 2.5x its time alone (a fair share of 2 cores is 1x-2x).

Usage: python bench/bench_robustness.py [--repeats 5] [--experiment ex-2.4.1] [--root CHECKOUT]
--root times another checkout's code (its own .venv), e.g. an older commit, with this script,
so that both are measured in one sitting. Writes bench/results-robustness.json (or prints only,
with --root). Reports the training seconds each run states in its metrics and the whole
process's wall time; medians over the repeats, the alone and side-by-side runs interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _start(root: Path, name: str, results: str) -> tuple[subprocess.Popen, float]:
    python = root / ".venv" / "bin" / "python"
    env = {**os.environ, "REPRO_RESULTS": results}
    t0 = time.perf_counter()
    return subprocess.Popen([str(python), "-m", "repro.cli", "run", name, "--force"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True), t0


def _finish(p: subprocess.Popen, t0: float) -> tuple[float, float]:
    out, _ = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"repro run failed ({p.returncode})")
    train = float(re.search(r"Timings: train ([0-9.]+)s", out).group(1))
    return train, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--experiment", default="ex-2.4.1")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code is timed (default: this one)")
    args = ap.parse_args()
    root = args.root.resolve()
    alone: list[tuple[float, float]] = []
    pair: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [f"{tmp}/a", f"{tmp}/b"]
        _finish(*_start(root, args.experiment, dirs[0]))  # warm the disk caches; not timed
        for i in range(args.repeats):
            alone.append(_finish(*_start(root, args.experiment, dirs[0])))
            started = [_start(root, args.experiment, d) for d in dirs]
            pair += [_finish(*s) for s in started]
            print(f"repeat {i + 1}: alone train {alone[-1][0]:.2f}s; side by side {pair[-2][0]:.2f}s "
                  f"and {pair[-1][0]:.2f}s", flush=True)

    def med(rows, i):
        return round(statistics.median(r[i] for r in rows), 3)

    python = root / ".venv" / "bin" / "python"
    env_code = "import json; from repro.base import machine; from repro.base.machine import environment, pinned\n" \
               "from pathlib import Path\nwith pinned(): print(json.dumps(environment(Path('.'))))"
    machine = json.loads(subprocess.run([str(python), "-c", env_code], cwd=root, capture_output=True, text=True,
                                        check=True).stdout)
    summary = {
        "experiment": args.experiment,
        "date": time.strftime("%Y-%m-%d"),
        "code": machine.get("git_sha"),
        "alone": {"train_s_median": med(alone, 0), "wall_s_median": med(alone, 1), "train_s": [r[0] for r in alone]},
        "side_by_side": {"train_s_median": med(pair, 0), "wall_s_median": med(pair, 1), "train_s": [r[0] for r in pair]},
        "ratio_train": round(med(pair, 0) / med(alone, 0), 2),
        "ratio_wall": round(med(pair, 1) / med(alone, 1), 2),
        "goal_ratio": 2.5,
        "machine": {**machine, "cores": os.cpu_count(), "load_average_after": os.getloadavg()},
    }
    print(json.dumps(summary, indent=2))
    if root == ROOT:
        (ROOT / "bench" / "results-robustness.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
