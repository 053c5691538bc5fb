"""LaTeX from Jinja2 templates (repro/report/templates/*.tex.j2), and the number formats they use.

Delimiters are LaTeX-safe (\\VAR{...}, \\BLOCK{...}, \\#{...}), undefined variables are errors,
and every string that reaches a template goes through the `tex` filter, which escapes LaTeX's
special characters. Numbers go through `sig` (significant figures, in math mode) so that small
differences stay visible and signs are kept.
"""

from __future__ import annotations

import math
import re

import jinja2

_TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "--": "-{}-",  # so that "--set" stays two hyphens, not an en dash
    "[": "{[}",  # a cell that starts with [ would be read as the optional argument of the row's \\
}
# Characters pdfLaTeX's UTF-8 input does not know, as registry sources and notes write them.
_UNICODE = {
    "≈": r"$\approx$", "±": r"$\pm$", "×": r"$\times$", "−": "$-$", "≤": r"$\leq$", "≥": r"$\geq$",
    "≠": r"$\neq$", "→": r"$\rightarrow$", "←": r"$\leftarrow$", "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}", "°": r"\textdegree{}", "…": r"\dots{}", "√": r"$\surd$", "∞": r"$\infty$",
    "α": r"$\alpha$", "β": r"$\beta$", "Δ": r"$\Delta$", "δ": r"$\delta$", "λ": r"$\lambda$", "μ": r"$\mu$",
    "σ": r"$\sigma$", "θ": r"$\theta$", "Ω": r"$\Omega$", "ℓ": r"$\ell$", "✓": r"$\checkmark$",
}
# ... and control characters, which pdfLaTeX rejects ("invalid character"), are shown, not passed on,
# as are the nine letters of Latin Extended-A that T1's UTF-8 input has no glyph for (measured:
# "not set up for use with LaTeX"; found by tests/unit/test_sinks.py).
_NO_T1_GLYPH = "\u0126\u0127\u0138\u013f\u0140\u0149\u0166\u0167\u017f"
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_ESCAPES)
                     + f"|[\x00-\x1f\x7f-\x9f{_NO_T1_GLYPH}]|[^\x00-\u017f\u2013\u2014\u2018\u2019\u201c\u201d]")


def _escape(m: re.Match) -> str:
    c = m.group()
    if c in _TEX_ESCAPES:
        return _TEX_ESCAPES[c]
    return _UNICODE.get(c, f"[U+{ord(c):04X}]")


_POWER = re.compile(r"\^(\d+)")


def tex(value) -> str:
    """Escape a string for LaTeX text mode (specials, and Unicode symbols pdfLaTeX lacks); a
    power written x^2 becomes a superscript and +- a plus-minus sign."""
    # An opening straight quote (at the start, after a space or a bracket) opens: 'x' prints as ‘x’.
    text = _OPENING_QUOTE.sub("\u2018", str(value).replace("+-", "±"))
    parts = _POWER.split(text)
    return "".join(_TEX_RE.sub(_escape, p) if i % 2 == 0 else rf"\textsuperscript{{{p}}}" for i, p in enumerate(parts))


_OPENING_QUOTE = re.compile(r"(?:(?<=^)|(?<=[\s(\[{]))'")


def sig(value, digits: int = 3, signed: bool = False, small: float = 0.01) -> str:
    """A number at `digits` significant figures: fixed point from `small` up, times a power of ten
    below it; `signed` writes + on positive values; exact zero is 0. Digits are text (so that
    a status style can make them bold or italic); the sign and the power of ten are math."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    v = float(value)
    if v == 0:
        return "0"
    sign = "$-$" if v < 0 else ("$+$" if signed else "")
    a = abs(v)
    mantissa, power = f"{a:.{digits - 1}e}".split("e")
    exponent = int(power)
    if a >= small and exponent < digits:
        return sign + f"{float(f'{a:.{digits - 1}e}'):.{max(0, digits - 1 - exponent)}f}"
    return sign + rf"{mantissa}${{\times}}10^{{{exponent}}}$"


def integer(value) -> str:
    """An integer for LaTeX ('--' for None)."""
    return "--" if value is None else f"{int(round(value)):d}"


def number(value, digits: int = 3, signed: bool = False) -> str:
    """Integers as integers, anything else at `digits` significant figures."""
    if value is not None and float(value).is_integer() and abs(value) >= 1:
        return integer(value)
    return sig(value, digits, signed)


def like(value, precision: int | None) -> str:
    """A reproduced number beside a published one printed with `precision` decimals: at those
    decimals where that shows three significant figures, else at three significant figures."""
    if value is not None and float(value).is_integer() and abs(value) >= 1:
        return integer(value)
    if precision is None or value is None or value == 0 or abs(value) < 10 ** (2 - precision):
        return sig(value)
    return ("$-$" if value < 0 else "") + f"{abs(value):.{precision}f}"


def printed(value, precision: int) -> str:
    """A published number at the precision it was printed with (`precision` decimals)."""
    if value is None:
        return "--"
    if precision <= 0 or (float(value).is_integer() and abs(value) > 1):  # counts print as counts
        return integer(value)
    return ("$-$" if value < 0 else "") + f"{abs(value):.{precision}f}"


def keyvalue(v: float) -> str:
    """A keyframe value as the dopesheet writes it: 0.01, 0.25, 10^{-8} (math)."""
    if v != 0 and abs(v) < 1e-3:
        m, x = f"{v:.0e}".split("e")
        return f"$10^{{{int(x)}}}$" if m == "1" else f"${m}\\times10^{{{int(x)}}}$"
    return f"${v:g}$"


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report's templates (LaTeX-safe delimiters, strict undefined)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("repro.report", "templates"),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    )
    env.filters["breakdots"] = lambda text: text.replace(".", r".\allowbreak{}")  # long ids may break after a dot
    env.filters.update(tex=tex, sig=sig, number=number, integer=integer, printed=printed, like=like,
                       keyvalue=keyvalue)
    return env


def render(template: str, **context) -> str:
    """Render a template of repro/report/templates."""
    return environment().get_template(template).render(**context)
