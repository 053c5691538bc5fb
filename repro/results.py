"""Result directories: results/EXPERIMENT/HASH/, written atomically (temp dir + rename).

A result holds the resolved spec, metrics.json, per_color.csv, model.pt (a state_dict, read
back with weights_only=True) and env.json (what it was computed on).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from repro import __version__
from repro.spec import ROOT, Spec, spec_hash, to_toml


def results_dir() -> Path:
    return Path(os.environ.get("REPRO_RESULTS", ROOT / "results"))


def run_dir(spec: Spec) -> Path:
    return results_dir() / spec.name / spec_hash(spec)


def environment() -> dict:
    def git_sha() -> str | None:
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
            return out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None

    return {
        "repro_version": __version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "git_sha": git_sha(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def per_color_csv(metrics: dict) -> str:
    ivs = [k for k in metrics["max_error"] if k != "baseline"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "hex", "baseline", *(f"{k}{s}" for k in ivs for s in ("", "_delta"))])
    for row in metrics["per_color"]:
        w.writerow([row["name"], row["hex"], f"{row['baseline']:.9f}",
                    *(f"{row[k][f]:.9f}" for k in ivs for f in ("mse", "delta"))])
    return buf.getvalue()


def write_result(spec: Spec, metrics: dict, model: torch.nn.Module) -> Path:
    """Write everything to a temporary directory, then rename it into place."""
    final = run_dir(spec)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        (tmp / "spec.toml").write_text(to_toml(spec))
        (tmp / "metrics.json").write_text(json.dumps({"spec_hash": spec_hash(spec), **metrics}, indent=2) + "\n")
        (tmp / "per_color.csv").write_text(per_color_csv(metrics))
        (tmp / "env.json").write_text(json.dumps(environment(), indent=2) + "\n")
        torch.save(model.state_dict(), tmp / "model.pt")
        if (final / "record.json").exists():  # a sweep's record of this seed stays valid
            shutil.copy2(final / "record.json", tmp / "record.json")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, path)


def read_metrics(path: Path) -> dict:
    return json.loads((path / "metrics.json").read_text())


def load_model(path: Path, spec: Spec):
    from repro.model import SphericalAutoencoder

    m = spec.model
    with torch.device("meta"):  # no init draws; the weights come from the file
        model = SphericalAutoencoder(m.latent_dim, m.hidden_width, m.hidden_layers)
    model.load_state_dict(torch.load(path / "model.pt", weights_only=True), assign=True)
    model.eval()
    return model
