"""Progress for long work: a one-line display of training steps on stderr, and the time per
stage of a long command."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

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


class Stages:
    """Where a long command's time went: wall seconds per named stage, in order. A stage may
    contain parts timed elsewhere (`part`); its own line then shows the rest."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.rows: dict[str, float] = {}
        self._parts: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as the stage `name` (added up if the name comes again)."""
        t0 = time.perf_counter()
        before = dict(self._parts)
        self.rows.setdefault(name, 0.0)  # listed before the parts timed inside it
        try:
            yield
        finally:
            inner = sum(v - before.get(k, 0.0) for k, v in self._parts.items())
            self.rows[name] += time.perf_counter() - t0 - inner

    def part(self, name: str, seconds: float) -> None:
        """Time spent on `name` inside the current stage (reported on its own line)."""
        self._parts[name] = self._parts.get(name, 0.0) + seconds
        self.rows[name] = self.rows.get(name, 0.0) + seconds

    def total(self) -> float:
        """Wall seconds since the stages began."""
        return time.perf_counter() - self.t0

    def table(self) -> str:
        """A plain-text table of the stages, their parts and the total."""
        total = self.total()
        width = max(len(k) for k in [*self.rows, "total"])
        lines = [f"{k:<{width}}  {v:7.1f}s  {100 * v / total:3.0f}%" for k, v in self.rows.items()]
        return "\n".join([*lines, f"{'total':<{width}}  {total:7.1f}s"])

    def as_json(self) -> dict:
        """The stages' seconds as a JSON-ready dict (results/paper-timings.json)."""
        return {"stages_s": {k: round(v, 2) for k, v in self.rows.items()}, "total_s": round(self.total(), 2)}
