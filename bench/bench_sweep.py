"""Wall time and peak memory of whole sweeps from an empty cache (goals: ex-2.4.1 <= 45 s,
all five <= 8 min on the 2-core machine). Usage: python bench/bench_sweep.py [EXP ...]
Writes bench/results-sweep.json with the machine it ran on."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALL = ["ex-2.4.1", "ex-2.5.1", "ex-2.7.1", "ex-2.9.1", "ex-2.10.1"]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from repro.base.machine import environment, pinned

    names = sys.argv[1:] or ALL
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "REPRO_RESULTS": tmp}
        for name in names:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "repro.cli", "sweep", name, "--jobs", "2"], check=True, env=env,
                           cwd=ROOT, capture_output=True)
            rows[name] = round(time.perf_counter() - t0, 1)
            print(name, rows[name], flush=True)
    with pinned():  # record the thread settings the timed commands ran with, not this driver's
        machine = environment(ROOT)
    summary = {"sweep_wall_s": rows, "total_s": round(sum(rows.values()), 1),
               "peak_rss_mb_any_process": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
               "machine": {**machine, "cores": os.cpu_count()}}
    print(json.dumps(summary, indent=2))
    (ROOT / "bench" / "results-sweep.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
