"""Where the project's folders are: the one place that reads the REPRO_* variables.

In a checkout each folder defaults to the checkout's own (ROOT, the folder above the package).
Installed from a wheel, the specs and the registry are the copies the wheel installed
(share/repro/), and the folders repro writes (results, figures, tables) and the report's
sources are the current directory's. Each can be moved with its variable; an empty variable
means unset.

    REPRO_EXPERIMENTS  experiment specs and dopesheets     experiments/
    REPRO_REGISTRY     published numbers and fingerprints  registry/
    REPRO_RESULTS      the cache of trained models         results/
    REPRO_PAPER        the report's LaTeX sources          paper/
    REPRO_FIGURES      the report's figures                figures/
    REPRO_TABLES       the report's tables                 tables/
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _is_checkout(root: Path) -> bool:
    """A checkout (or an editable install of one): the package sits beside repro's own
    pyproject.toml and its experiments/ folder."""
    import tomllib

    try:
        name = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {}).get("name")
    except (OSError, ValueError):
        return False
    return name == "repro" and (root / "experiments").is_dir()


CHECKOUT = _is_checkout(ROOT)
SHIPPED = ("experiments", "registry")  # installed with the wheel (pyproject.toml: data-files)


@cache
def _installed(folder: str) -> Path | None:
    """Where the wheel installed share/repro/FOLDER, or None (not installed that way)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("repro").files
    except PackageNotFoundError:
        return None
    if files is None:  # an install without a RECORD: where pip puts data files by default
        import sysconfig

        guess = Path(sysconfig.get_path("data")) / "share" / "repro" / folder
        return guess if guess.is_dir() else None
    for f in files:
        parts = f.parts
        for i in range(len(parts) - 2):
            if parts[i:i + 3] == ("share", "repro", folder):
                return Path(str(distribution("repro").locate_file(Path(*parts[:i + 3])))).resolve()
    return None


def _folder(variable: str, default: str) -> Path:
    value = os.environ.get(variable)
    if value:
        return Path(value).expanduser()  # '~/res' is the home's, as in a shell
    if CHECKOUT:
        return ROOT / default
    if default in SHIPPED:
        return _installed(default) or Path.cwd() / default
    return Path.cwd() / default


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


def folder_environment() -> dict[str, str]:
    """The REPRO_* variables that give a child process this process's folders, as absolute paths
    (a child started in another working directory would otherwise find others)."""
    folders = {"REPRO_EXPERIMENTS": experiments_dir(), "REPRO_REGISTRY": registry_dir(), "REPRO_RESULTS": results_dir(),
               "REPRO_PAPER": paper_dir(), "REPRO_FIGURES": figures_dir(), "REPRO_TABLES": tables_dir()}
    return {k: str(v.resolve()) for k, v in folders.items()}
