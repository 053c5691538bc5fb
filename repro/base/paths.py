"""Where the project's folders are: the one place that reads the REPRO_* variables.

Each folder defaults to the checkout's own (ROOT, the folder above the package) and can be
moved with its variable; an empty variable means unset.

    REPRO_EXPERIMENTS  experiment specs and dopesheets     experiments/
    REPRO_REGISTRY     published numbers and fingerprints  registry/
    REPRO_RESULTS      the cache of trained models         results/
    REPRO_PAPER        the report's LaTeX sources          paper/
    REPRO_FIGURES      the report's figures                figures/
    REPRO_TABLES       the report's tables                 tables/
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _folder(variable: str, default: str) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser() if value else ROOT / default  # '~/res' is the home's, as in a shell


def experiments_dir() -> Path:
    """Experiment specs and dopesheets (REPRO_EXPERIMENTS, else experiments/)."""
    return _folder("REPRO_EXPERIMENTS", "experiments")


def registry_dir() -> Path:
    """Published numbers, claims and fingerprints (REPRO_REGISTRY, else registry/)."""
    return _folder("REPRO_REGISTRY", "registry")


def results_dir() -> Path:
    """The result cache (REPRO_RESULTS, else results/)."""
    return _folder("REPRO_RESULTS", "results")


def paper_dir() -> Path:
    """The report's LaTeX sources and layout (REPRO_PAPER, else paper/)."""
    return _folder("REPRO_PAPER", "paper")


def figures_dir() -> Path:
    """The report's generated figures (REPRO_FIGURES, else figures/)."""
    return _folder("REPRO_FIGURES", "figures")


def tables_dir() -> Path:
    """The report's generated tables (REPRO_TABLES, else tables/)."""
    return _folder("REPRO_TABLES", "tables")
