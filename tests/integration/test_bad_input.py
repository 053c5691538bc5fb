"""Bad input gets one line naming the file and field, exit status 2, no traceback, and nothing
trained or written first (each case was a traceback, a hang or a silent wrong result before)."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration
EXPERIMENTS = ROOT / "experiments"


def repro(*args, cwd=ROOT, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "repro.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture
def exp(tmp_path):
    """A private experiments folder holding copies of the shipped specs and sheets."""
    d = tmp_path / "experiments"
    d.mkdir()
    for f in EXPERIMENTS.iterdir():
        (d / f.name).write_bytes(f.read_bytes())
    return d


def one_line_error(out, *needles):
    assert out.returncode == 2, (out.returncode, out.stdout[-500:], out.stderr[-2000:])
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_binary_spec(exp, tmp_path):
    (exp / "bad.toml").write_bytes(b"\xff\xfe\x00\x01binary")
    one_line_error(repro("run", str(exp / "bad.toml"), env={"REPRO_RESULTS": str(tmp_path / "r")}),
                   "bad.toml", "not UTF-8")


def test_binary_dopesheet(exp, tmp_path):
    (exp / "ex-2.4.1.csv").write_bytes(b"STEP,PHASE\xff\xfe\n")
    one_line_error(repro("run", str(exp / "ex-2.4.1.toml"), env={"REPRO_RESULTS": str(tmp_path / "r")}),
                   "ex-2.4.1.csv", "not UTF-8")


def test_dopesheet_that_is_a_fifo(exp, tmp_path):
    os.unlink(exp / "ex-2.4.1.csv")
    os.mkfifo(exp / "ex-2.4.1.csv")
    one_line_error(repro("run", str(exp / "ex-2.4.1.toml"), env={"REPRO_RESULTS": str(tmp_path / "r")}, timeout=30),
                   "ex-2.4.1.csv", "regular file")


def test_duplicate_dopesheet_columns(exp, tmp_path):
    sheet = (exp / "ex-2.4.1.csv").read_text().splitlines()
    sheet[0] += ",anchor"
    sheet[1:] = [line + ("," if i else ",0.5") for i, line in enumerate(sheet[1:])]
    (exp / "ex-2.4.1.csv").write_text("\n".join(sheet) + "\n")
    one_line_error(repro("run", str(exp / "ex-2.4.1.toml"), env={"REPRO_RESULTS": str(tmp_path / "r")}),
                   "ex-2.4.1.csv", "column 'anchor' appears twice")


def test_list_on_a_missing_experiments_folder(tmp_path):
    one_line_error(repro("list", env={"REPRO_EXPERIMENTS": str(tmp_path / "nowhere")}), "nowhere", "does not exist")


@pytest.mark.parametrize("make", ["file", "readonly"])
def test_results_folder_that_cannot_be_written_is_named_before_training(tmp_path, make):
    results = tmp_path / "results"
    if make == "file":
        results.write_text("not a folder")
    else:
        results.mkdir()
        results.chmod(0o500)
        if os.access(results, os.W_OK):  # root writes anywhere: make it a file below instead
            results.chmod(0o700)
            results = results / "file"
            results.write_text("x")
    out = repro("run", "ex-2.4.1", "-q", env={"REPRO_RESULTS": str(results)})
    one_line_error(out, str(results), "cannot write results")
    assert "step" not in out.stderr


@pytest.mark.parametrize("text, needle", [
    ('[[number]]\nid = "x"\nsource = "s"\nexperiment = "ex-2.4.1"\npath = "run:score"\nvalue = nan\ndecimals = 4\n',
     "value: expected a finite number"),
    ('[[number]]\nid = "x"\nsource = "s"\nexperiment = "ex-2.4.1"\npath = "run:score"\nvalue = 0.99\ndecimals = 4\n'
     'tolerance = inf\n', "unknown field 'tolerance'"),
    ('[[number]]\nid = "x"\nsource = "s"\nexperiment = "ex-2.4.1"\npath = "run:score"\nvalue = 0.99\ndecimals = -1\n',
     "decimals must lie in 0..20"),
    ('[[number]]\nid = "x"\nsource = "s"\nexperiment = "ex-2.4.1"\npath = "bogus:score"\nvalue = 0.99\ndecimals = 4\n',
     "must start with run:, sweep: or spec:"),
    ('[[claim]]\nid = "c"\nclaim = "c"\nsource = "s"\nexperiments = ["ex-2.4.1"]\npredicate = "__import__(1)"\n'
     'value = "{score}"\npublished = "p"\nthreshold = "t"\n', "only abs, min and max may be called"),
    ("\xff", "not UTF-8"),
])
def test_malformed_registry(tmp_path, text, needle):
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "bad.toml").write_bytes(text.encode("utf-8") if text != "\xff" else b"\xff\xfe")
    one_line_error(repro("verify", "--quick", env={"REPRO_REGISTRY": str(reg), "REPRO_RESULTS": str(tmp_path)}),
                   "bad.toml" if needle in ("not UTF-8", "unknown field 'tolerance'", "value: expected a finite number")
                   else "", needle)


@pytest.mark.parametrize("registry", ["missing", "empty"])
def test_an_empty_or_mistyped_registry_verifies_nothing_loudly(tmp_path, registry):
    reg = tmp_path / "registry"
    if registry == "empty":
        reg.mkdir()
    one_line_error(repro("verify", env={"REPRO_REGISTRY": str(reg), "REPRO_RESULTS": str(tmp_path)}), "no registry")


def test_jobs_beyond_the_cores_are_capped_and_said(tmp_path):
    out = repro("sweep", str(ROOT / "tests" / "specs" / "quick.toml"), "--seeds", "0", "--jobs", "100",
                env={"REPRO_RESULTS": str(tmp_path)}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--jobs 100 is more than the" in out.stderr
