"""The real paper built with real TeX into a temporary directory (reusing the repository's results
cache): its text, a byte-identical rebuild, and a build killed during LaTeX then rerun. The
report's pieces without TeX are tested in tests/unit/test_report.py."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from repro.report.collect import read_layout
from tests.conftest import ROOT


# ---------------------------------------------------------------------------------------------
# The real report


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _text_of_page(pdf, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _pages(pdf) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@pytest.fixture(scope="module")
def report(pipeline):
    return pipeline


@pytest.mark.paper
@pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
                    reason="needs TeX Live and poppler-utils")
class TestTheReport:
    def test_its_text_shows_reproduced_and_published_cells(self, report):
        from repro.report.collect import collect

        text = _text(report["pdf"])
        assert "Sparse Concept Anchoring, reproduced" in text
        for heading in ("Main results", "Anchored", "Isolated", "No-vibrant", "Hue subspace", "Seed notebook",
                        "Sweeps", "Verification", "Per-colour tables"):
            assert heading in text
        body = text[:text.rindex("Every published number lives in the project")]  # before the listing of ids
        assert "subspace_suppression" not in body and "Subspace suppression" in body
        assert "(S V)ˆ" not in body and "–set" not in body and "--set" in body
        # Table 1's reproduced cells, computed here from the selected runs (not copied from the PDF)
        layout = read_layout(report["tmp"] / "paper" / "report.toml")
        data = collect(layout, log=lambda m: None)
        start = text.index("The paper’s Table 1, reproduced")  # (pdftotext's apostrophe)
        table1 = text[start:text.index("The paper’s Table 2, reproduced")]
        shown = 0
        for exp, col in (("ex-2.4.1", "suppression"), ("ex-2.4.1", "ablation"), ("ex-2.9.1", "suppression"),
                         ("ex-2.9.1", "ablation")):
            for row in data[exp].metrics["per_color"]:
                if row["name"] in ("red", "cyan") and abs(row[col]["delta"]) >= 0.01:
                    assert f"+{row[col]['delta']:.3f}" in table1, (exp, col, row["name"])
                    shown += 1
        assert shown >= 4
        assert "+0.343" in table1  # the published isolated red ablation, beside ours
        # The front matter: the claims table with its per-seed counts, fidelity and provenance.
        front = text[:text.index("Where it differs and why")]
        verification = json.loads((report["results"] / "verification.json").read_text())
        assert "The paper’s claims, each tested" in front and "Provenance." in front and "Fidelity per experiment" in front
        # the criteria are printed, and the result leads: page 1 carries the fidelity table and the counts
        assert "How the numbers and claims are judged" in front and "a reproduced 0 would be judged" in front
        first = " ".join(_text_of_page(report["pdf"], 1).split())
        assert "Fidelity per experiment" in first and f"{verification['checked']} published numbers" in first
        for c in verification["claims"][:5]:
            assert f"{c['seeds_holding']}/{c['seeds']}" in front
        assert "not from the authors’ checkpoints" in front.replace("\n", " ")

    def test_the_follow_up_section_gives_every_finding_its_verdicts(self, report):
        """The authors' follow-up: each finding of the verification with its three verdicts, and the
        counts of the statistics' statuses, from results/verification.json."""
        fu = json.loads((report["results"] / "verification.json").read_text())["followup"]
        tex = (report["tmp"] / "tables" / "followup.tex").read_text()
        assert r"\section{The authors' later findings on the original model}" in tex
        for figure in ("followup-fallback-control", "followup-failure-timing"):  # strip plots, trajectories
            assert (report["tmp"] / "figures" / f"{figure}.pgf").exists() and figure in tex
        for f in fu["finding_results"]:
            assert f["id"].removeprefix("sca2.") in tex
        n = sum(fu["counts"].values())
        assert n >= 50 and f"{fu['counts']['consistent']} & {fu['counts']['differs']}" in tex
        assert (report["results"] / "followup.csv").read_text().count("\n") == len(fu["statistics"]) + 1

    def test_no_line_sticks_out_of_the_text(self, report):
        """TeX's log names every line wider than the text; 1 pt of slack is invisible. No command
        lands in math mode where it is invalid (an en dash there prints as a breve)."""
        log = (report["pdf"].parent / "main.log").read_text(errors="replace")
        wide = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
        assert all(w < 1.0 for w in wide), [w for w in wide if w >= 1.0]
        assert "invalid in math mode" not in log, re.findall(r".*invalid in math mode.*", log)

    def test_it_is_short_and_its_listing_is_short(self, report):
        """At most 33 pages (30 before the follow-up's section of three); the verification appendix
        (the last section) at most 5."""
        pages = _pages(report["pdf"])
        assert pages <= 33, pages
        start = next(p for p in range(pages, 0, -1) if re.search(r"^\s*B\s+Verification\s*$", _text_of_page(
            report["pdf"], p), re.M))
        assert pages - start + 1 <= 5, (start, pages)

    def test_a_rebuild_with_nothing_changed_is_byte_identical_and_quick(self, report):
        t0 = time.perf_counter()
        out = subprocess.run(report["cmd"], capture_output=True, text=True, cwd=ROOT, env=report["env"])
        assert out.returncode == 0, out.stderr[-3000:]
        assert "no input changed" in out.stderr
        assert _sha(report["pdf"]) == report["sha"]
        assert time.perf_counter() - t0 < 60

    def test_a_build_killed_during_latex_leaves_the_old_pdf_and_a_rerun_gives_the_same_bytes(self, report):
        build = report["pdf"].parent
        (build / "main.inputs").unlink()  # so that LaTeX runs
        proc = subprocess.Popen(report["cmd"], cwd=ROOT, env=report["env"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 300
        while not any(build.glob(".work-*/main.log")):  # pdflatex has started writing
            assert proc.poll() is None, "the build ended before LaTeX started"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _sha(report["pdf"]) == report["sha"]  # untouched, never truncated
        out = subprocess.run(report["cmd"], capture_output=True, text=True, cwd=ROOT, env=report["env"])
        assert out.returncode == 0, out.stderr[-3000:]
        assert _sha(report["pdf"]) == report["sha"]
        assert not list(build.glob(".work-*"))  # the killed build's directory was cleared
        assert json.loads((report["results"] / "verification.json").read_text())  # still a whole report
