"""Run one spec with caching: reuse results/EXPERIMENT/HASH if it exists, else compute it."""

from __future__ import annotations

from pathlib import Path

from repro.experiment import run_metrics
from repro.results import read_metrics, run_dir, write_result
from repro.spec import Spec, spec_hash
from repro.train import Progress


def run_one(spec: Spec, force: bool = False, progress: Progress | None = None) -> tuple[Path, dict, bool]:
    """(result directory, metrics, whether it was reused)."""
    path = run_dir(spec)
    if not force and (path / "metrics.json").exists():
        return path, read_metrics(path), True
    metrics, model = run_metrics(spec, progress)
    path = write_result(spec, metrics, model)
    return path, {"spec_hash": spec_hash(spec), **metrics}, False
