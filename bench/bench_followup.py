"""Wall time and peak memory of the authors' follow-up experiments verified from an empty cache:
`repro verify` of every follow-up experiment (their sweeps, every seed's evaluation, the port
variants, the statistics and findings), one whole process (goal for all four of sca2's experiments:
<= 5 min on the 2-core machine; ex-2.9.1, ex-2.9.2 and two of ex-2.9.3's three arms are built so far).
Usage: python bench/bench_followup.py. Writes bench/results-followup.json with the machine it ran on."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from repro.base.machine import environment, pinned
    from repro.fidelity.registry import load_registry

    registry = load_registry()
    mine = sorted({x for st in registry.statistics for x in st.experiments})
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "REPRO_RESULTS": tmp}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "repro.cli", "verify", *mine], check=True, env=env, cwd=ROOT,
                       capture_output=True)
        wall = round(time.perf_counter() - t0, 1)
        report = json.loads((Path(tmp) / "verification-partial.json").read_text())["followup"]
    with pinned():  # record the thread settings the timed command ran with, not this driver's
        machine = environment(ROOT)
    summary = {"date": date.today().isoformat(), "experiments": registry.followup_experiments(),
               "seeds_each": 60, "verify_wall_s": wall, "statistics": len(report["statistics"]),
               "findings": report["findings"],
               "peak_rss_mb_any_process": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
               "machine": {**machine, "cores": os.cpu_count()}}
    print(json.dumps(summary, indent=2))
    (ROOT / "bench" / "results-followup.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
