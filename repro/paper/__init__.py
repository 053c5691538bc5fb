"""The reproduction report (`repro paper`), in the order it is built:

collect   the layout (paper/report.toml), each experiment's sweep and selected run, the
          published numbers (registry/) and the verification report;
figures   each experiment's figures and the shared ones, redrawn only when their inputs change
          (drawing itself is repro.figures);
tables    the paper's tables, the 17-colour tables, sweeps, labels and the verification listing
          (templates in repro/templates, rendered by repro.tables);
build     the order of the steps above and the LaTeX build (paper/build/main.pdf).
"""

from repro.paper.build import build, latex_errors

__all__ = ["build", "latex_errors"]
