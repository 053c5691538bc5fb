"""Cold cost of the float-noise bands: `repro sensitivity` for every published experiment (the
selected seed under the default kernels and 9 variants; for the 5-D experiments the whole sweep
under the default and 5 variants), in one command as `repro paper` computes them.

Two figures, each from an empty cache:
- "after the sweeps" (the goal, <= 3 min on the 2-core machine): the default kernels' sweeps and
  selected runs already cached, as when `repro paper` reaches the bands (not timed);
- "from nothing" (with --from-nothing): the default kernels' sweeps and runs included.

Usage: python bench/bench_sensitivity.py [--from-nothing]. Writes bench/results-sensitivity.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = ["ex-2.4.1-notebook", "ex-2.4.1", "ex-2.5.1", "ex-2.7.1", "ex-2.9.1", "ex-2.10.1"]
SWEPT = ["ex-2.9.1", "ex-2.10.1"]


def _repro(env: dict, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "repro.cli", *args], check=True, env=env, cwd=ROOT, capture_output=True)
    return round(time.perf_counter() - t0, 1)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from repro.base.machine import environment, pinned

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "REPRO_RESULTS": f"{tmp}/a"}
        prepare = sum(_repro(env, "sweep", x, "--jobs", "2") for x in SWEPT)
        prepare += sum(_repro(env, "run", x, "-q") for x in EXPERIMENTS)
        rows["after_the_sweeps_s"] = _repro(env, "sensitivity", *EXPERIMENTS, "--jobs", "2")
        rows["default_sweeps_and_runs_s"] = round(prepare, 1)
        print(rows, flush=True)
        if "--from-nothing" in sys.argv[1:]:
            rows["from_nothing_s"] = _repro({**os.environ, "REPRO_RESULTS": f"{tmp}/b"}, "sensitivity",
                                            *EXPERIMENTS, "--jobs", "2")
        print(rows, flush=True)
    with pinned():  # record the thread settings the timed commands ran with, not this driver's
        machine = environment(ROOT)
    summary = {**rows, "goal_after_the_sweeps_s": 180, "date": time.strftime("%Y-%m-%d"),
               "machine": {**machine, "cores": os.cpu_count()}}
    print(json.dumps(summary, indent=2))
    (ROOT / "bench" / "results-sensitivity.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
