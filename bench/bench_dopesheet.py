"""Dopesheet handling at scale: parse (resolve every STEP cell) and print (`repro show`'s table) a
sheet of 100,000 rows, the kind a generated schedule may have. Goal: under a second for both.

Usage: python bench/bench_dopesheet.py [--rows 100000] [--repeats 5]
Writes bench/results-dopesheet.json: medians over the repeats, with the machine and date.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date
from pathlib import Path

from repro.base.machine import environment
from repro.config.dopesheet import parse_dopesheet, to_markdown

ROOT = Path(__file__).resolve().parent.parent


def sheet(rows: int) -> str:
    """Absolute rows every third row, +N rows between them, five properties keyed on the absolute ones."""
    lines = ["STEP,PHASE,ACTION,lr,separate,anchor,anti-subspace,anti-anchor"]
    for i in range(rows):
        lines.append(f"{i},Train,,0.01,0.1,0.1,0.1,0.1" if i % 3 == 0 else f"+{i % 3},,,0.02,,,,")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    text = sheet(args.rows)
    parse_s, print_s = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        s = parse_dopesheet(text, "bench")
        t1 = time.perf_counter()
        to_markdown(s)
        t2 = time.perf_counter()
        parse_s.append(t1 - t0)
        print_s.append(t2 - t1)
    out = {"rows": args.rows, "repeats": args.repeats, "parse_s": statistics.median(parse_s),
           "print_s": statistics.median(print_s), "goal_s": 1.0, "date": date.today().isoformat(),
           "environment": environment(ROOT)}
    print(f"{args.rows} rows: parse {out['parse_s']:.3f}s, print {out['print_s']:.3f}s (medians of {args.repeats})")
    (ROOT / "bench" / "results-dopesheet.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
