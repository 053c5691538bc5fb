"""The LaTeX filter against real pdfLaTeX: whatever text Hypothesis draws (any Unicode, and
prose with LaTeX's specials and the symbols registry notes use), `tex` of it compiles in the
report's preamble and loses no character ("Missing character"). It found the nine letters of
Latin Extended-A that T1 has no glyph for. Three documents of 60 strings; derandomised."""

import shutil
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from repro.report.latex import tex

PREAMBLE = r"""\documentclass[10pt,a4paper]{article}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage{amsmath, amssymb}
\begin{document}
"""
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
PROSE = st.text(alphabet=st.sampled_from(list("abc XYZ09.,;:!?'\"()[]{}<>|/\\#$%&_^~-+=*@`") +
                                          list("≈±×−≤≥≠→←²³°…√∞αβΔδλμσθΩℓ✓éüßøĳŁœ–—‘’“”ſĦ")),
                min_size=1, max_size=40)


@settings(max_examples=3, derandomize=True, deadline=None)
@given(st.lists(st.one_of(ANY_TEXT, PROSE), min_size=60, max_size=60))
def test_any_text_through_the_tex_filter_compiles_and_loses_nothing(tmp_path_factory, texts):
    assert shutil.which("pdflatex"), "the paper tier needs TeX Live (make paper installs it)"
    work = tmp_path_factory.mktemp("tex")
    body = "\n\n".join(tex(t) for t in texts)
    (work / "t.tex").write_text(PREAMBLE + body + "\n\\end{document}\n")
    out = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "t.tex"], cwd=work,
                         capture_output=True, timeout=120)  # its terminal output is not always UTF-8
    log = (work / "t.log").read_text(errors="replace")
    assert out.returncode == 0, log[-3000:]
    assert "Missing character" not in log, [line for line in log.splitlines() if "Missing character" in line][:5]


