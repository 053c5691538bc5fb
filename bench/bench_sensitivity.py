"""Cold cost of the float-noise bands (`repro sensitivity` for every published experiment: the
selected seed under 9 kernel variants and the default, and for the 5-D experiments the whole
sweep under 5 variants and the default) from an empty cache. Goal: <= 8 min on the 2-core
machine. Usage: python bench/bench_sensitivity.py. Writes bench/results-sensitivity.json."""

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


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from repro.machine import environment, pinned

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "REPRO_RESULTS": tmp}
        for name in EXPERIMENTS:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "repro.cli", "sensitivity", name, "--jobs", "2"], check=True,
                           env=env, cwd=ROOT, capture_output=True)
            rows[name] = round(time.perf_counter() - t0, 1)
            print(name, rows[name], flush=True)
    with pinned():  # record the thread settings the timed commands ran with, not this driver's
        machine = environment(ROOT)
    summary = {"sensitivity_wall_s": rows, "total_s": round(sum(rows.values()), 1),
               "machine": {**machine, "cores": os.cpu_count()}}
    print(json.dumps(summary, indent=2))
    (ROOT / "bench" / "results-sensitivity.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
