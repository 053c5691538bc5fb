"""Bad input gets one line naming the file and field, exit status 2, no traceback, and nothing
trained or written first (each case was a traceback, a hang or a silent wrong result before)."""

import os
import shutil
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
     "must start with run:, sweep:, seeds: or spec:"),
    ('[[claim]]\nid = "c"\nclaim = "c"\nsource = "s"\nexperiments = ["ex-2.4.1"]\npredicate = "__import__(1)"\n'
     'value = "{score}"\npublished = "p"\nthreshold = "t"\n', "only abs, min and max may be called"),
    ('[[claim]]\nid = "c"\nclaim = "c"\nsource = "s"\nexperiments = ["ex-2.4.1"]\npredicate = "{score} > 0"\n'
     'value = "{score}"\npublished = "p"\nthreshold = "t"\nexpected = "fails"\ndiscrepancy = "disc.none"\n',
     "discrepancy 'disc.none' is not a [[discrepancy]] id"),
    ('[[claim]]\nid = "c"\nclaim = "c"\nsource = "s"\nexperiments = ["ex-2.4.1"]\npredicate = "{score} > 0"\n'
     'value = "{score}"\npublished = "p"\nthreshold = "t"\nof = "most seeds"\n', "of"),
    ('[[number]]\nid = "x\\u001b[2J"\nsource = "s"\nexperiment = "ex-2.4.1"\npath = "run:score"\nvalue = 0.99\n'
     'decimals = 2\n', "use only letters, digits"),
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


def test_a_spec_file_whose_name_is_dots_cannot_write_outside_the_results(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    (d / "...toml").write_text((ROOT / "tests" / "specs" / "quick.toml").read_text())
    (d / "quick.csv").write_text((ROOT / "tests" / "specs" / "quick.csv").read_text())
    (d / "quick.toml").write_text((ROOT / "tests" / "specs" / "quick.toml").read_text())
    results = tmp_path / "r" / "results"
    one_line_error(repro("run", str(d / "...toml"), "-q", env={"REPRO_RESULTS": str(results)}), "is not a plain name")
    assert not any((tmp_path / "r").iterdir()) if (tmp_path / "r").exists() else True


@pytest.mark.parametrize("args, needle", [
    (["sweep", "tests/specs/quick.toml", "--seeds", ""], "is not a seed or range"),
    (["sweep", "tests/specs/quick.toml", "--seeds", ",".join(f"{i * 100000}-{i * 100000 + 99999}" for i in range(3))],
     "more than 100,000 seeds"),
    (["sweep", "tests/specs/quick.toml", "--executor", "inline", "--scheduler", "tcp://x:1"], "--scheduler needs"),
    (["sweep", "tests/specs/quick.toml", "--executor", "dask", "--scheduler", "not a url"], "cannot reach the Dask"),
    (["run", "tests/specs/quick.toml", "--seed", "5", "--set", "seed=6"], "both --seed and --set seed"),
    (["run", "tests/specs/quick.toml", "--set", "about.title=\"a\"\nseed=5"], "line break"),
    (["run", "tests/specs/quick.toml", "--set", "model.hidden_width=99999999999"], "model.hidden_width: must lie in"),
    (["run", "tests/specs/quick.toml", "--set", "data.grid=100000"], "needs grid in 2..64"),
    (["run", "tests/specs/quick.toml", "--set", "validation.grid=400"], "validation"),
    (["run", "tests/specs/quick.toml", "--set", "evaluation.loss_cube.hues=100000"], "4 million colours"),
    (["run", "tests/specs/quick.toml", "--set", "score.power=0.0"], "score.power: must be a finite number > 0"),
    (["run", "tests/specs/quick.toml", "--set", "interventions.suppression.falloff.strength=1e308"], "a strength in [0, 1]"),
    (["run", "tests/specs/quick.toml", "--set", "about.title=\"\\u001b]0;x\\u0007\""], "about.title: must be one line"),
    # click's own errors (bad options, unknown commands) are one line too, with where to find help
    (["sweep", "tests/specs/quick.toml", "--jobs", "0"], ("'--jobs' / '-j': 0 is not in the range x>=1 (see '", "sweep --help')")),
    (["sweep", "tests/specs/quick.toml", "--chunk", "1.5"], "'--chunk': '1.5' is not a valid integer range"),
    (["sweep", "tests/specs/quick.toml", "--executor", "slurm"], "is not one of 'inline', 'local', 'dask'"),
    (["run", "tests/specs/quick.toml", "--bogus"], ("No such option '--bogus' (see '", "run --help')")),
    (["nosuch"], "No such command 'nosuch'"),
    (["run"], "Missing argument 'EXPERIMENT'"),
])
def test_more_bad_input_is_one_line(tmp_path, args, needle):
    needles = needle if isinstance(needle, tuple) else (needle,)
    one_line_error(repro(*args, env={"REPRO_RESULTS": str(tmp_path)}), *needles)


@pytest.mark.parametrize("sheet, needle", [
    ("STEP,PHASE,ACTION,lr,separate,anchor,subspace\n0,Train,,,0.01,0.01,0.01\n200,,,,,,\n", "column 'lr': no keyframes"),
    ("STEP,PHASE,ACTION,lr,separate,anchor,subspace\n0,Train,,0.01,0.01,,0.01\n200,,,0.01,,,\n", "column 'anchor': no keyframes"),
    ("STEP,PHASE,ACTION,lr,separate,anchor,subspace\n0,Train,,0.01,-5,0.01,0.01\n200,,,0.01,,,\n", "is negative"),
    ("STEP,PHASE,ACTION,lr,separate,anchor,subspace\n0,Train,,0.01,0.01,0.01,0.01\n99999999999999999999,,,0.01,,,\n",
     "is beyond 1000000"),
    # A learning rate that float32 cannot hold once failed mid-training with a traceback.
    ("STEP,PHASE,ACTION,lr,separate,anchor,subspace\n0,Train,,0.01,0.01,0.01,0.01\n+10,,,1e308,,,\n200,,,0.01,,,\n",
     "float32"),
    ("STEP,PHASE,ACTION,lr,separate,anchor,subspace\n0,Train,,0.01,0.01,0.01,0.01\n+10,,,3e38,,,\n200,,,0.01,,,\n",
     "makes Adam's first step 3e+39"),
])
def test_schedules_that_would_do_nothing_or_overflow(tmp_path, sheet, needle):
    (tmp_path / "s.csv").write_text(sheet)
    (tmp_path / "quick.toml").write_text((ROOT / "tests" / "specs" / "quick.toml").read_text())
    (tmp_path / "quick.csv").write_text((ROOT / "tests" / "specs" / "quick.csv").read_text())
    (tmp_path / "s.toml").write_text('extends = "quick"\ndopesheet = "s.csv"\n')
    one_line_error(repro("run", str(tmp_path / "s.toml"), env={"REPRO_RESULTS": str(tmp_path / "r")}), needle)


def test_a_byte_order_mark_is_not_a_column(tmp_path):
    (tmp_path / "quick.toml").write_text((ROOT / "tests" / "specs" / "quick.toml").read_text())
    (tmp_path / "quick.csv").write_bytes(b"\xef\xbb\xbf" + (ROOT / "tests" / "specs" / "quick.csv").read_bytes())
    out = repro("show", str(tmp_path / "quick.toml"))
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("name, text, needle", [
    ("fingerprints.toml", '[trained.x]\n"a" = 1\n', "trained.x.a"),
    ("fingerprints.toml", '[emulated.amd-avx512]\nreproduces = "amd-avx2"\n', "emulated"),
    ("deep.toml", "a = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
])
def test_malformed_fingerprints_and_deep_registries(tmp_path, name, text, needle):
    reg = tmp_path / "registry"
    shutil.copytree(ROOT / "registry", reg)
    (reg / name).write_text(text)
    one_line_error(repro("verify", "ex-2.4.1", "--quick", env={"REPRO_REGISTRY": str(reg), "REPRO_RESULTS": str(tmp_path)}),
                   needle)


def test_a_registry_file_that_is_a_fifo_or_a_folder(tmp_path):
    reg = tmp_path / "registry"
    shutil.copytree(ROOT / "registry", reg)
    os.mkfifo(reg / "fifo.toml")
    one_line_error(repro("verify", "--quick", env={"REPRO_REGISTRY": str(reg), "REPRO_RESULTS": str(tmp_path)}, timeout=30),
                   "regular file")
    os.unlink(reg / "fifo.toml")
    (reg / "dir.toml").mkdir()
    one_line_error(repro("verify", "--quick", env={"REPRO_REGISTRY": str(reg), "REPRO_RESULTS": str(tmp_path)}),
                   "regular file")


def test_paper_without_tex_says_so_before_training_anything(tmp_path):
    # a PATH without pdflatex and latexmk: one line naming them and the packages, nothing trained
    out = repro("paper", env={"PATH": str(tmp_path / "empty"), "REPRO_RESULTS": str(tmp_path / "results")},
                timeout=30)
    one_line_error(out, "pdflatex, latexmk not found", "texlive-latex-base")
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
