"""Where each result lives in the cache: the one module that spells its folders and file names.

    results/EXPERIMENT/TRAINING_KEY/           one trained model
        training.json  model.pt  losses.npy  spec.toml  dopesheet.csv  env.json
        score-SCORE_KEY.json                   its selection score (sweeps)
        eval-EVALUATION_KEY/                   its full evaluation
            metrics.json  per_color.csv  spec.toml  env.json
    results/EXPERIMENT/sweep-KEY/              summary.json  runs.csv
    results/EXPERIMENT/sensitivity-{runs,sweeps}-KEY.json
    results/verification.json                  (a subset or --quick: verification-partial.json)
    results/verification.csv                   every number's verdict as a table (beside the .json)
    results/paper-timings.json

The keys come from repro.store.keys; the folder under all of it from repro.base.paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from repro.base.paths import results_dir

# The files of a trained model's folder (training.json last: it vouches for the others).
TRAINING, MODEL, LOSSES, SPEC, DOPESHEET, ENV = (
    "training.json", "model.pt", "losses.npy", "spec.toml", "dopesheet.csv", "env.json")
TRAJECTORY = "trajectory.npy"  # only when the spec records one (validation.trajectory)
# The files of an evaluation's folder.
METRICS, PER_COLOR = "metrics.json", "per_color.csv"
# The files of a sweep's folder.
SUMMARY, RUNS = "summary.json", "runs.csv"
SCORE_GLOB, EVALUATION_GLOB = "score-*.json", "eval-*"


def contained(path: Path) -> Path:
    """`path`, checked not to lead out of the results folder through a link planted in it (a
    write would follow the link and land elsewhere). Paths outside the results folder (the
    report's own folders) are the caller's and pass as they are."""
    from repro.base.errors import ReproError

    root = results_dir()
    if Path(os.path.abspath(path)).is_relative_to(os.path.abspath(root)):
        if not path.resolve().is_relative_to(root.resolve()):
            raise ReproError(f"{path}: a link in the results folder leads out of it (to {path.resolve()}); "
                             "remove the link, then run again")
    return path


def experiment_dir(experiment: str) -> Path:
    """An experiment's folder of the cache."""
    return results_dir() / experiment


def training_dir(experiment: str, key: str) -> Path:
    """A trained model's folder."""
    return experiment_dir(experiment) / key


def trained_models(experiment: str) -> list[Path]:
    """Every training.json of an experiment's trained models (current or not)."""
    return sorted(experiment_dir(experiment).glob(f"*/{TRAINING}"))


def score_file(training: Path, key: str) -> Path:
    """A trained model's selection score under a score key."""
    return training / f"score-{key}.json"


def evaluation_dir(training: Path, key: str) -> Path:
    """A trained model's evaluation folder under an evaluation key."""
    return training / f"eval-{key}"


def sweep_dir(experiment: str, key: str) -> Path:
    """A sweep's folder."""
    return experiment_dir(experiment) / f"sweep-{key}"


def sensitivity_file(experiment: str, sweep: bool, key: str) -> Path:
    """An experiment's noise band of its selected run, or of its sweep."""
    return experiment_dir(experiment) / f"sensitivity-{'sweeps' if sweep else 'runs'}-{key}.json"


def verification_file(results: Path | None = None, complete: bool = True) -> Path:
    """verification.json for the whole registry; verification-partial.json for a subset."""
    return (results or results_dir()) / ("verification.json" if complete else "verification-partial.json")


def verification_table(report_file: Path) -> Path:
    """The CSV listing written beside a verification report (verification.csv, verification-partial.csv)."""
    return report_file.with_suffix(".csv")


def followup_table(report_file: Path) -> Path:
    """The follow-up's statistics as CSV, beside a verification report (followup.csv, followup-partial.csv)."""
    return report_file.with_name(report_file.stem.replace("verification", "followup") + ".csv")


def timings_file() -> Path:
    """Where `repro paper` writes where its time went."""
    return results_dir() / "paper-timings.json"
