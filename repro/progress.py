"""A one-line progress display for long work (training steps), on stderr."""

from __future__ import annotations

import sys
import time

import click


class ProgressLine:
    """A one-line progress display on stderr: steps done, loss, elapsed time."""

    def __init__(self, label: str, enabled: bool = True):
        self.label, self.t0, self.enabled = label, time.perf_counter(), enabled
        self.tty = sys.stderr.isatty()
        self.last_print = -1.0

    def __call__(self, done: int, total: int, loss: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter() - self.t0
        final = done == total
        if not self.tty and not final and now - self.last_print < 2.0:
            return
        self.last_print = now
        width = 24
        fill = int(width * done / total)
        line = f"{self.label} [{'#' * fill}{'.' * (width - fill)}] step {done}/{total}  loss {loss:.3e}  {now:.1f}s"
        click.echo(("\r" if self.tty else "") + line + ("\n" if final or not self.tty else ""), err=True, nl=False)
