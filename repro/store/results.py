"""The result cache. One directory per trained model, named by its training key (repro.store.keys):

    results/EXPERIMENT/TRAINING_KEY/
        training.json        what training produced, the inputs it was keyed on, and the
                             SHA-256 of every file beside it (written last: the commit)
        model.pt             the trained state_dict (torch.load(..., weights_only=True))
        losses.npy           the training loss of every step (float32), to locate a divergence
        spec.toml            the resolved spec it was trained from
        dopesheet.csv        its dopesheet, so the directory can be re-run from what it holds
        env.json             what it was computed on
        score-SCORE_KEY.json         its selection score (sweeps)
        eval-EVALUATION_KEY/         its full evaluation (repro run)
            metrics.json  per_color.csv  spec.toml

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from repro.base.errors import ReproError
from repro.base.files import regular_bytes, write_error
from repro.base.paths import results_dir
from repro.config.spec import Spec, to_toml
from repro.method.model import SphericalAutoencoder, fingerprint, from_bytes, to_bytes

TRAINING = "training.json"
METRICS = "metrics.json"


def experiment_dir(spec: Spec) -> Path:
    return results_dir() / spec.name


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
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
    atomic_write_bytes(path, text.encode("utf-8"))


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def sealed(record: dict) -> dict:
    """The record with `record_sha256`: a digest of everything else in it (edits are detected)."""
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    return {**body, "record_sha256": sha256_bytes(json.dumps(body, sort_keys=True).encode())}


def _is_sealed(record: dict) -> bool:
    return isinstance(record, dict) and record.get("record_sha256") == sealed(record)["record_sha256"]


def write_training(path: Path, spec: Spec, record: dict, model: torch.nn.Module, losses: np.ndarray,
                   env: dict, replace: bool = False) -> dict:
    """Write a trained model's directory; training.json (with every file's digest) goes last.
    `replace` (--force): the new files are written in full first, then the old record and
    everything derived from the old model are removed, then the new files are moved in; a kill
    at any point leaves either the old result, the new one, or files that no record vouches
    for (redone on the next run), never a record beside a model it does not describe."""
    files = {
        "model.pt": to_bytes(model),
        "losses.npy": _npy(losses),
        "spec.toml": to_toml(spec).encode(),
        "dopesheet.csv": Path(spec.sheet.source).read_bytes(),
        "env.json": _json(env).encode(),
    }
    record = sealed({**record, "files": {name: sha256_bytes(data) for name, data in files.items()}})
    staged: dict[str, str] = {}
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            staged[name] = _stage(path, name, data)
        if replace:
            with contextlib.suppress(FileNotFoundError):
                (path / TRAINING).unlink()  # from here on, nothing in the directory counts as valid
            for derived in list(path.glob("score-*.json")) + list(path.glob("eval-*")):
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
    """`data` in a unique temporary file beside its final name (fsynced), ready for os.replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
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


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float32))
    return buf.getvalue()


def write_score(path: Path, key: str, record: dict) -> None:
    atomic_write_text(path / f"score-{key}.json", _json(sealed(record)))


def write_evaluation(path: Path, spec: Spec, metrics: dict, env: dict) -> dict:
    metrics = sealed(metrics)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(path, e) from None
    atomic_write_text(path / "spec.toml", to_toml(spec))
    atomic_write_text(path / "per_color.csv", per_color_csv(metrics))
    atomic_write_text(path / "env.json", _json(env))
    atomic_write_text(path / METRICS, _json(metrics))
    return metrics


def refresh_export(path: Path, metrics: dict) -> bool:
    """per_color.csv is written from metrics.json for people to read and never read back: if it
    was edited or lost, write it again (True when it was)."""
    text = per_color_csv(metrics)
    if regular_bytes(path / "per_color.csv") == text.encode("utf-8"):
        return False
    atomic_write_text(path / "per_color.csv", text)
    return True


def per_color_csv(metrics: dict) -> str:
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
class Cached:
    record: dict | None  # None: not reusable
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


def read_training(path: Path, inputs: dict) -> Cached:
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
    return Cached(record)


def read_derived(file: Path, inputs: dict, model_sha256: str) -> Cached:
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


def load_model(path: Path, spec: Spec, record: dict | None = None) -> SphericalAutoencoder:
    """The trained model of a training directory (checked against its record when given)."""
    data = regular_bytes(path / "model.pt")
    if data is None:
        raise ReproError(f"{path / 'model.pt'} is missing or not a regular file")
    if record is not None and sha256_bytes(data) != record["files"]["model.pt"]:
        raise ReproError(f"{path / 'model.pt'} does not match its training.json; run again to retrain it")
    m = spec.model
    model = from_bytes(data, m.latent_dim, m.hidden_width, m.hidden_layers)
    if record is not None and fingerprint(model) != record["model_sha256"]:
        raise ReproError(f"{path / 'model.pt'} is not the model its training.json describes")
    return model


def read_metrics(path: Path) -> dict:
    """metrics.json of an evaluation directory (for tools and tests)."""
    data = _read_json(path / METRICS)
    if data is None:
        raise ReproError(f"{path / METRICS}: missing or not valid JSON")
    return data
