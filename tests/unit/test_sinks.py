"""Property tests of the sinks text leaves the program through (the LaTeX filter, the terminal):
whatever text Hypothesis draws, nothing reaches them that they cannot show. The same filter
compiled by real pdfLaTeX: tests/paper/test_tex_filter.py. Derandomised: every run draws the
same inputs."""

import unicodedata
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from repro.base.errors import IneffectiveOverride, SpecError
from repro.config.spec import load_spec
from repro.report.latex import _NO_T1_GLYPH, tex
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
# What registry notes, claims and spec titles hold: Latin text with LaTeX's specials and symbols.
PROSE = st.text(alphabet=st.sampled_from(list("abc XYZ09.,;:!?'\"()[]{}<>|/\\#$%&_^~-+=*@`") +
                                          list("≈±×−≤≥≠→←²³°…√∞αβΔδλμσθΩℓ✓éüßøĳŁœ–—‘’“”")),
                min_size=1, max_size=40)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(ANY_TEXT)
def test_the_tex_filter_leaves_no_special_unescaped(text):
    out = tex(text)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in out)  # no control character reaches TeX
    assert all((ord(c) <= 0x17F and c not in _NO_T1_GLYPH) or c in "–—‘’“”" for c in out)  # what T1 can set


SPEC = load_spec("ex-2.4.1")


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.sampled_from(["about.title", "about.notes", "about.paper"]), ANY_TEXT)
def test_spec_text_that_reaches_the_terminal_holds_no_control_character(field, text):
    # `repro list` and `repro show` print these; an escape sequence would clear or recolour the terminal
    value = [text] if field == "about.notes" else text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IneffectiveOverride)
        try:
            spec = SPEC.replace({field: value})
        except SpecError as e:
            assert not any(unicodedata.category(c) == "Cc" for c in str(e).replace("\n", ""))
            return
    shown = spec.about.title + "".join(spec.about.notes) + spec.about.paper
    assert not any(unicodedata.category(c) == "Cc" for c in shown)
