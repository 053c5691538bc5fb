"""The one signature long work reports its progress through (Progress), and the one for
messages (Log). Kept apart from their display (repro.base.display): training imports this
module, so it is part of every training key and should never need to change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Log = Callable[[str], None]  # one message (what was reused, what failed), printed as a line


class Progress(Protocol):
    """How long work says how far it got: `done` of `total` units (training steps, seeds; a sweep's
    `done` counts the chunks in flight as fractions) and a short note (the loss, what is cached)."""

    def __call__(self, done: float, total: float, note: str = "") -> None:
        """Report that `done` of `total` units are done."""
