"""LaTeX tables from Jinja2 templates (repro/templates/*.tex.j2).

Delimiters are LaTeX-safe (\\VAR{...}, \\BLOCK{...}, \\#{...}), undefined variables are errors,
and every string goes through the `tex` filter, which escapes LaTeX's special characters.
"""

from __future__ import annotations

import re

import jinja2

_TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_ESCAPES))


def tex(value) -> str:
    """Escape a string for LaTeX text mode."""
    return _TEX_RE.sub(lambda m: _TEX_ESCAPES[m.group()], str(value))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("repro", "templates"),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    )
    env.filters["tex"] = tex
    env.filters["num"] = lambda v, digits=6: f"{v:.{digits}f}"
    env.filters["sci"] = lambda v: "--" if v is None else f"{v:.1e}"
    env.filters["num3"] = lambda v: rf"\num[round-mode=places,round-precision=3]{{{v:.9f}}}"
    env.filters["heat"] = heat
    return env


def heat(value: float, signed: bool = False) -> str:
    """A number shaded by magnitude: light grey at |v| <= 1e-4, black from 5e-3 (upstream's scale)."""
    n = max(0.0, min(1.0, (abs(value) - 1e-4) / (5e-3 - 1e-4)))
    shade = round(30 + 70 * n)
    plus = ",print-mantissa-implicit-plus=true" if signed else ""
    return rf"\textcolor{{black!{shade}}}{{\num[round-mode=places,round-precision=3{plus}]{{{value:.9f}}}}}"


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def verification_table(checks, counts: dict) -> str:
    rows = [c for c in checks if c.status != "pass"] + [c for c in checks if c.status == "pass"]
    return render("verification.tex.j2", checks=rows, counts=counts)
