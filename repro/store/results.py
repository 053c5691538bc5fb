"""Reading and writing the result cache (where each file lives: repro.store.layout).

Every file is written to a unique temporary name and renamed into place, so a reader sees the
old or the new file, never half of one, and two processes never share a temporary file. Every
record names the bytes it was derived from, and is checked against them when read: a record that
does not match its model, a model that does not match its record, or inputs that are not the
current ones are never reused; the caller is told why and recomputes.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from glob import escape as glob_escape
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from repro.base.errors import ReproError
from repro.base.files import regular_bytes, write_error
from repro.config.spec import Spec, to_toml
from repro.store.layout import (
    contained,
    DOPESHEET, ENV, EVALUATION_GLOB, LOSSES, METRICS, MODEL, PER_COLOR, SCORE_GLOB, SPEC, TRAINING, TRAJECTORY,
)
from repro.method.model import SphericalAutoencoder, fingerprint, from_bytes, to_bytes
from repro.store.records import Metrics, TrainingRecord

Record = TypeVar("Record", bound=Mapping[str, Any])




def sha256_bytes(data: bytes) -> str:
    """The SHA-256 of some bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a regular file (OSError if it is missing or not regular)."""
    data = regular_bytes(path)
    if data is None:
        raise OSError(f"{path} is missing or not a regular file")
    return sha256_bytes(data)


# ---------------------------------------------------------------------------------------------
# Writing


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open() would have given the file (mkstemp makes it 0600)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, never half of it; the
    temporary name is unique, so concurrent writers never share one. A failure (a full disk, a
    folder in the way) is one line and leaves no temporary file."""
    contained(path)  # before mkdir, which would follow a planted link
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _stage(path.parent, path.name, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise write_error(path, e) from None


def atomic_write_text(path: Path, text: str) -> None:
    """Write text so that a reader sees the old file or the new one, never part of one."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def sealed(record: Record) -> Record:
    """The record with `record_sha256`: a digest of everything else in it (edits are detected)."""
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    return cast(Record, {**body, "record_sha256": sha256_bytes(json.dumps(body, sort_keys=True).encode())})


def _is_sealed(record: dict) -> bool:
    return isinstance(record, dict) and record.get("record_sha256") == sealed(record)["record_sha256"]


def write_training(path: Path, spec: Spec, record: TrainingRecord, model: torch.nn.Module, losses: np.ndarray,
                   env: dict, replace: bool = False, trajectory: np.ndarray | None = None) -> TrainingRecord:
    """Write a trained model's directory; training.json (with every file's digest) goes last.
    `replace` (--force): the new files are written in full first, then the old record and
    everything derived from the old model are removed, then the new files are moved in; a kill
    at any point leaves either the old result, the new one, or files that no record vouches
    for (redone on the next run), never a record beside a model it does not describe."""
    files = {
        MODEL: to_bytes(model),
        LOSSES: _npy(losses),
        SPEC: to_toml(spec).encode(),
        DOPESHEET: Path(spec.sheet.source).read_bytes(),
        ENV: _json(env).encode(),
        **({TRAJECTORY: _npy(trajectory)} if trajectory is not None else {}),
    }
    record = sealed(TrainingRecord(**record, files={name: sha256_bytes(data) for name, data in files.items()}))
    staged: dict[str, str] = {}
    contained(path / TRAINING)
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            staged[name] = _stage(path, name, data)
        if replace:
            with contextlib.suppress(FileNotFoundError):
                (path / TRAINING).unlink()  # from here on, nothing in the directory counts as valid
            for derived in list(path.glob(SCORE_GLOB)) + list(path.glob(EVALUATION_GLOB)):
                if derived.is_dir() and not derived.is_symlink():
                    shutil.rmtree(derived, ignore_errors=True)  # another process may be removing it too
                else:
                    with contextlib.suppress(FileNotFoundError):
                        derived.unlink()
        for name, tmp in staged.items():
            os.replace(tmp, path / name)
    except OSError as e:
        raise write_error(path, e) from None
    finally:
        for tmp in staged.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    atomic_write_text(path / TRAINING, _json(record))
    return record


def _stage(folder: Path, name: str, data: bytes) -> str:
    """`data` in a unique temporary file beside its final name (fsynced), ready for os.replace.
    Its name carries the writer's process id, so that the temporaries a killed writer left
    (kill -9 runs no cleanup) are removed by the next write of the same file."""
    _remove_stale(folder, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, _MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _remove_stale(folder: Path, name: str) -> None:
    """Remove `name`'s temporaries whose writer process is gone (another live writer's stay)."""
    for t in folder.glob(f".{glob_escape(name)}.*.tmp"):
        pid = t.name[len(name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                t.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float32))
    return buf.getvalue()


def write_score(file: Path, record: dict) -> None:
    """Write a sealed score record."""
    atomic_write_text(file, _json(sealed(record)))


def write_evaluation(path: Path, spec: Spec, metrics: Metrics, env: dict) -> Metrics:
    """Write an evaluation's folder (metrics.json last) and return the sealed metrics."""
    metrics = sealed(metrics)
    contained(path / METRICS)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(path, e) from None
    atomic_write_text(path / SPEC, to_toml(spec))
    atomic_write_text(path / PER_COLOR, per_color_csv(metrics))
    atomic_write_text(path / ENV, _json(env))
    atomic_write_text(path / METRICS, _json(metrics))
    return metrics


def refresh_export(path: Path, metrics: Metrics) -> bool:
    """per_color.csv is written from metrics.json for people to read and never read back: if it
    was edited or lost, write it again (True when it was)."""
    text = per_color_csv(metrics)
    if regular_bytes(path / PER_COLOR) == text.encode("utf-8"):
        return False
    atomic_write_text(path / PER_COLOR, text)
    return True


def per_color_csv(metrics: Metrics) -> str:
    """The per-colour table of some metrics as CSV, for people to read."""
    ivs = [k for k in metrics["max_error"] if k != "baseline"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "hex", "baseline", *(f"{k}{s}" for k in ivs for s in ("", "_delta"))])
    for row in metrics["per_color"]:
        w.writerow([row["name"], row["hex"], f"{row['baseline']:.9f}",
                    *(f"{row[k][f]:.9f}" for k in ivs for f in ("mse", "delta"))])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Reading, with checks


@dataclass
class Cached(Generic[Record]):
    """A cached record, or None and why it cannot be reused."""

    record: Record | None  # None: not reusable
    reason: str = ""  # why not ("" when there is nothing at all)


def _read_json(path: Path) -> dict | None:
    raw = regular_bytes(path)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def read_training_record(path: Path) -> TrainingRecord:
    """The training record of a model folder that was just trained or checked (run_one's path's
    parent); only its seal is checked here."""
    record = _read_json(path / TRAINING)
    if record is None or not _is_sealed(record):
        raise ReproError(f"{path / TRAINING} is missing, damaged or was edited; run again to retrain it")
    return cast(TrainingRecord, record)  # sealed: as write_training wrote it


def read_training(path: Path, inputs: dict) -> Cached[TrainingRecord]:
    """The training record in `path` if it is whole, current and matches its files."""
    file = path / TRAINING
    if not file.exists():
        return Cached(None, "an unfinished result (no training.json)" if path.exists() else "")
    if not file.is_file():
        return Cached(None, "its training.json is not a regular file")
    record = _read_json(file)
    if record is None or not _is_sealed(record) or not isinstance(record.get("files"), dict):
        return Cached(None, "its training.json is damaged or was edited")
    if record.get("inputs") != inputs:
        from repro.store.keys import what_changed

        changed = what_changed(record.get("inputs") or {}, inputs)
        return Cached(None, f"it is stale: {', '.join(changed[:4]) or 'its inputs'} changed")
    for name, digest in record["files"].items():
        try:
            if sha256_file(path / name) != digest:
                return Cached(None, f"its {name} does not match the digest in training.json")
        except OSError:
            return Cached(None, f"its {name} is missing")
    return Cached(cast(TrainingRecord, record))  # sealed: as write_training wrote it


def read_derived(file: Path, inputs: dict, model_sha256: str) -> Cached[dict]:
    """A score or evaluation record, if whole, current and derived from this model."""
    if not file.exists():
        return Cached(None)
    record = _read_json(file)
    if record is None or not _is_sealed(record):
        return Cached(None, f"{file.name} is damaged or was edited")
    if record.get("model_sha256") != model_sha256:
        return Cached(None, f"{file.name} was computed from another model")
    if record.get("inputs") != inputs:
        return Cached(None, f"{file.name} is stale")
    return Cached(record)


def read_evaluation(folder: Path, inputs: dict, model_sha256: str) -> Cached[Metrics]:
    """An evaluation folder's metrics.json, if whole, current and derived from this model."""
    got = read_derived(folder / METRICS, inputs, model_sha256)
    return Cached(cast(Metrics, got.record), got.reason)  # sealed: as write_evaluation wrote it


def load_model(path: Path, spec: Spec, record: TrainingRecord | None = None) -> SphericalAutoencoder:
    """The trained model of a training directory (checked against its record when given)."""
    data = regular_bytes(path / MODEL)
    if data is None:
        raise ReproError(f"{path / MODEL} is missing or not a regular file")
    if record is not None and sha256_bytes(data) != record["files"][MODEL]:
        raise ReproError(f"{path / MODEL} does not match its training.json; run again to retrain it")
    m = spec.model
    model = _model(path, data, (m.latent_dim, m.hidden_width, m.hidden_layers), m.gelu)
    if record is not None and fingerprint(model) != record["model_sha256"]:
        raise ReproError(f"{path / MODEL} is not the model its training.json describes")
    return model


def _model(path: Path, data: bytes, shape: tuple[int, int, int], gelu: str = "exact") -> SphericalAutoencoder:
    try:
        return from_bytes(data, *shape, gelu)
    except ReproError as e:
        raise ReproError(f"{path / MODEL}: {e}; run again with --force to retrain it") from None


def load_model_of(path: Path, record: TrainingRecord) -> SphericalAutoencoder:
    """The trained model of a folder, shaped as its training record's inputs say (no spec file
    needed) and checked against the record."""
    try:
        m = record["inputs"]["spec"]["model"]
        shape = int(m["latent_dim"]), int(m["hidden_width"]), int(m["hidden_layers"])
        gelu = str(m.get("gelu", "exact"))
        if gelu not in ("exact", "tanh"):
            raise ValueError(gelu)
    except (KeyError, TypeError, ValueError):
        raise ReproError(f"{path / TRAINING} does not say the model's shape; run again to retrain it") from None
    data = regular_bytes(path / MODEL)
    if data is None or sha256_bytes(data) != record.get("files", {}).get(MODEL):
        raise ReproError(f"{path / MODEL} is missing or does not match its training.json; run again to retrain it")
    model = _model(path, data, shape, gelu)
    if fingerprint(model) != record["model_sha256"]:
        raise ReproError(f"{path / MODEL} is not the model its training.json describes")
    return model


def read_metrics(path: Path) -> Metrics:
    """metrics.json of an evaluation directory (for tools and tests)."""
    data = _read_json(path / METRICS)
    if data is None:
        raise ReproError(f"{path / METRICS}: missing or not valid JSON")
    return cast(Metrics, data)
