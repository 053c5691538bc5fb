"""What people read, in the order the report is built:

collect   the layout (paper/report.toml), each experiment's sweep and selected run, the
          published numbers (the registry) and the verification report;
figures   each experiment's figures and the shared ones, redrawn only when their inputs change
          (drawing itself is plots);
tables    the paper's tables, the 17-colour tables, sweeps, labels and the verification listing
          (templates in report/templates, rendered by latex);
build     the order of the steps above and the LaTeX build (paper/build/main.pdf);
terminal  plain-text summaries for the command line.
"""
