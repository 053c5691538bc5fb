"""Installed from a built wheel, outside any checkout, repro finds its specs and registry (shipped
as the wheel's data files) and writes its results where the user stands."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"  # built from a copy: building writes build/ and *.egg-info beside the sources
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    for folder in ("repro", "experiments", "registry"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src),
                    "-w", str(tmp / "wheel")], check=True, capture_output=True)
    [wheel] = (tmp / "wheel").glob("repro-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True)
    # The dependencies are this environment's (torch is too big to install twice); a path in a
    # .pth file is put on sys.path without running the editable install's own .pth hooks.
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    return venv / "bin", work, env


def test_a_wheel_installed_outside_the_checkout_runs_an_experiment(installed):
    bin_, work, env = installed

    def repro(*args):
        return subprocess.run([str(bin_ / "repro"), *args], capture_output=True, text=True, cwd=work, env=env, timeout=120)

    where = subprocess.run([str(bin_ / "python"), "-c", "import repro; print(repro.__file__)"], capture_output=True,
                           text=True, cwd=work, env=env).stdout
    assert str(ROOT) not in where, where  # the installed copy, not the checkout
    listed = repro("list")
    assert listed.returncode == 0 and "ex-2.4.1" in listed.stdout and "ex-2.9.1" in listed.stdout, listed.stderr
    ran = repro("run", "ex-2.4.1", "-q")
    assert ran.returncode == 0, ran.stderr[-2000:]
    [record] = (work / "results" / "ex-2.4.1").glob("*/training.json")  # written where the user stands
    assert json.loads(record.read_text())["model_sha256"] in ran.stdout
    paper = repro("paper")
    assert paper.returncode == 2 and len(paper.stderr.strip().splitlines()) == 1
    assert "clone of the repository" in paper.stderr and "REPRO_PAPER" in paper.stderr
