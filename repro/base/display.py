"""How progress is shown: ProgressLine draws a Progress (repro.base.progress) as a terminal line
updated in place, an updating bar in Jupyter, or a line every 2 s in a log; Stages tabulates
where a long command's time went."""

from __future__ import annotations

import contextlib
import html
import math
import sys
import time
from collections.abc import Iterator
from typing import Any

import click


def _jupyter() -> bool:
    """Whether this process is a Jupyter kernel (its stderr is no terminal, but can update in place)."""
    zmqshell = sys.modules.get("ipykernel.zmqshell")
    ipython = sys.modules.get("IPython")
    if zmqshell is None or ipython is None:
        return False
    return isinstance(ipython.get_ipython(), zmqshell.ZMQInteractiveShell)  # Colab's shell is a subclass


class ProgressLine:
    """The display of a Progress: a line on stderr updated in place in a terminal, a bar updated in
    place in Jupyter, and in a log or a pipe a line at most every 2 s (and the last one)."""

    def __init__(self, label: str, enabled: bool = True, unit: str = "steps"):
        self.label, self.unit, self.t0, self.enabled = label, unit, time.perf_counter(), enabled
        self.tty = sys.stderr.isatty()
        self.last_print = -1.0
        self._handle: Any = None  # Jupyter's display handle, made on first use
        self._open = False  # a terminal line is drawn and not yet ended

    def text(self, done: float, total: float, note: str = "") -> str:
        """The line shown: label, bar, units done, note and elapsed seconds."""
        width = 24
        frac = done / total if total else 1.0
        fill = int(width * frac)
        # floored, so that work not yet finished never reads as finished ("29.99" as "29.9")
        count = f"{done:.0f}" if abs(done - round(done)) < 1e-6 else f"{math.floor(done * 10) / 10:.1f}"
        return (f"{self.label} [{'#' * fill}{'.' * (width - fill)}] {count}/{total:.0f} {self.unit}"
                + (f"  {note}" if note else "") + f"  {time.perf_counter() - self.t0:.1f}s")

    def __call__(self, done: float, total: float, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.perf_counter() - self.t0
        final = done >= total
        if _jupyter():  # a few updates a second: every step would flood the kernel's messages
            if final or now - self.last_print >= 0.25:
                self.last_print = now
                self._show(done, total, note)
            return
        if not self.tty and not final and now - self.last_print < 2.0:
            return
        self.last_print = now
        line = self.text(done, total, note)
        # In a terminal the line is redrawn in place, and cleared to its end (a shorter line would
        # leave the tail of the longer one before it).
        click.echo(("\r" if self.tty else "") + line + ("\x1b[K" if self.tty else "")
                   + ("\n" if final or not self.tty else ""), err=True, nl=False)
        self._open = self.tty and not final

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End a terminal line left unfinished (work that stopped early), so that what is printed
        next starts on a line of its own."""
        if self._open:
            click.echo("", err=True)
            self._open = False

    def _show(self, done: float, total: float, note: str) -> None:
        from IPython.display import HTML, display

        pct = 100 * done / total if total else 100.0
        body = (f'<progress value="{pct:.1f}" max="100" style="width:12em"></progress> '
                f"<code>{html.escape(self.text(done, total, note))}</code>")
        if self._handle is None:
            self._handle = display(HTML(body), display_id=True)
        else:
            self._handle.update(HTML(body))


class Stages:
    """Where a long command's time went: wall seconds per named stage, in order. A stage may
    contain parts timed elsewhere (`part`); its own line then shows the rest."""

    def __init__(self) -> None:
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
