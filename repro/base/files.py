"""Reading user files and writing results, with one-line errors instead of tracebacks or hangs."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from repro.base.errors import ReproError, SpecError


def read_text(path: Path, what: str) -> str:
    """A regular file's UTF-8 text, without the byte-order mark some editors write first. A FIFO
    or device would block or never end, and binary content would surface as a UnicodeDecodeError
    deep inside a parser: both are one line."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise SpecError(f"{path}: cannot read {what} ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        raise SpecError(f"{path}: {what} must be a regular file")
    try:
        return path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: {what} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise SpecError(f"{path}: cannot read {what} ({e.strerror})") from None


def ensure_writable(folder: Path, what: str = "results") -> Path:
    """Create `folder` if needed and prove a file can be written there, before any work starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ReproError(f"cannot write {what} to {folder}: {e.strerror or e}; set REPRO_RESULTS to a writable "
                         "folder") from None
    return folder


def regular_bytes(path: Path) -> bytes | None:
    """A cached file's bytes, or None if it is missing or not a regular file (a FIFO in the
    cache would otherwise block a reader forever, a directory raise)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def write_error(path: Path, e: OSError) -> ReproError:
    """One line for a write that failed: a full disk, a read-only folder, a path taken by a folder.
    A failed rename names its destination (the file in the way), not the folder being written."""
    where = e.filename2 or path
    return ReproError(f"cannot write {where}: {e.strerror or e}; nothing half-written was kept")
