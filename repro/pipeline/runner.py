"""Train, score and evaluate one seed through the cache (repro.store.results, repro.store.keys).

Each stage is reused when its record is whole, current and derived from the model at hand;
otherwise it is recomputed, and `log` is told why (stale inputs, a damaged file) in one line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repro.store import keys
from repro.base import machine
from repro.store import layout
from repro.store import results as R
from repro.base.errors import TrainingDiverged
from repro.config.spec import Spec
from repro.method.model import SphericalAutoencoder
from repro.base.paths import ROOT
from repro.base.progress import Log, Progress
from repro.engine.train import TrainResult
from repro.store.records import Evaluation, Metrics, TrainingRecord



@dataclass
class Trained:
    """A trained model with its training record and folder."""

    path: Path  # the training directory
    record: TrainingRecord  # training.json
    model: SphericalAutoencoder
    reused: bool


def training_record(spec: Spec, result: TrainResult, init_sha: str, inputs: dict, loop: str = "per-seed") -> TrainingRecord:
    """The training.json record of a training result (before its files' digests are added)."""
    from repro.method.model import fingerprint

    record: TrainingRecord = {
        "experiment": spec.name,
        "seed": spec.seed,
        "steps": len(spec.sheet),
        "training_key": keys.digest(inputs),
        "inputs": inputs,
        "label_counts": result.label_counts,
        "val_losses": result.val_history[-1][1] if result.val_history else {},
        "val_history": [{"step": s, **v} for s, v in result.val_history],
        "final_loss": result.final_loss,
        "init_sha256": init_sha,
        "model_sha256": fingerprint(result.model),
        "train_s": result.train_s,
        "loop": loop,  # which training loop made it: "per-seed" (repro.engine.train) or "batched" (a sweep's)
        "diverged": list(result.diverged) if result.diverged else None,
    }
    if result.trajectory is not None:
        from repro.engine.trajectory import events

        every = spec.validation.trajectory
        assert every is not None
        record["trajectory"] = {"every": every, **events(result.trajectory, every)}
    return record


def training_dir(spec: Spec) -> tuple[Path, dict]:
    """Where this spec's trained model lives, and the inputs its key was made from."""
    inputs = keys.training_inputs(spec)
    return layout.training_dir(spec.name, keys.digest(inputs)), inputs


def cached_training(spec: Spec, log: Log | None = None) -> Trained | None:
    """The cached model of this spec, if reusable (and `log` told why not, if not)."""
    path, inputs = training_dir(spec)
    got = R.read_training(path, inputs)
    if got.record is None:
        if log and got.reason:
            log(f"{spec.name} seed {spec.seed}: not reusing {path} ({got.reason}); training again")
        elif log:
            _say_if_superseded(spec, path, inputs, log)
        return None
    try:
        model = R.load_model(path, spec, got.record)
    except Exception as e:  # a file that changed between the check and the load
        if log:
            log(f"{spec.name} seed {spec.seed}: not reusing {path} ({e}); training again")
        return None
    return Trained(path, got.record, model, True)


def _say_if_superseded(spec: Spec, path: Path, inputs: dict, log: Log) -> None:
    """A model of this seed from other inputs is never reused; say what differs."""
    newest = None
    for f in layout.trained_models(spec.name):
        rec = R._read_json(f)
        if rec and rec.get("seed") == spec.seed and isinstance(rec.get("inputs"), dict):
            if newest is None or f.stat().st_mtime > newest[0]:
                newest = (f.stat().st_mtime, f.parent, rec["inputs"])
    if newest:
        changed = keys.what_changed(newest[2], inputs)
        log(f"{spec.name} seed {spec.seed}: the cached model in {newest[1]} was made from other inputs "
            f"({', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''} differ); training anew")


def store_training(spec: Spec, result: TrainResult, init_sha: str, replace: bool = False,
                   loop: str = "per-seed") -> Trained:
    """Write a trained model's folder and return it as Trained."""
    path, inputs = training_dir(spec)
    record = training_record(spec, result, init_sha, inputs, loop)
    with machine.pinned():  # the settings it was trained with
        env = machine.environment(ROOT)
    record = R.write_training(path, spec, record, result.model, result.losses.numpy(), env, replace=replace,
                              trajectory=result.trajectory)
    return Trained(path, record, result.model, False)


def train_one(spec: Spec, force: bool = False, progress: Progress | None = None, log: Log | None = None) -> Trained:
    """This spec's trained model: reused from the cache when current, else trained (per-seed loop) and
    stored."""
    if not force:
        hit = cached_training(spec, log)
        if hit is not None:
            return hit
    from repro.engine.data import initial_models_and_plans, regularizers, schedule_of, validation_set
    from repro.engine.trajectory import probe_of
    from repro.method.model import fingerprint
    from repro.engine.train import train

    with machine.pinned():
        colors, [model], [plan] = initial_models_and_plans(spec, [spec.seed])
        init_sha = fingerprint(model)
        result = train(model, colors, plan, regularizers(spec), schedule_of(spec), len(spec.sheet),
                       validation_set(spec), progress, trajectory=probe_of(spec))
    return store_training(spec, result, init_sha, replace=force)


def score_one(spec: Spec, trained: Trained, log: Log | None = None, value: float | None = None) -> float:
    """The model's selection score, from the cache or computed (and cached); `value`: the score a
    worker already computed for this very model (repro.pipeline.sweep.train_chunk), to be cached."""
    from repro.engine.evaluate import score

    if trained.record.get("diverged"):
        return math.nan  # a diverged model has no score (it is listed, never selected)
    inputs = keys.score_inputs(spec, trained.record["training_key"])
    key = keys.digest(inputs)
    file = layout.score_file(trained.path, key)
    got = R.read_derived(file, inputs, trained.record["model_sha256"])
    if got.record is not None:
        return got.record["score"]
    if log and got.reason:
        log(f"{spec.name} seed {spec.seed}: {got.reason}; scoring again")
    if value is None:
        with machine.pinned():
            value = score(spec, trained.model)
    R.write_score(file, {"score_key": key, "inputs": inputs, "model_sha256": trained.record["model_sha256"],
                         "score": value})
    return value


def evaluation_dir(spec: Spec, trained: Trained) -> tuple[Path, dict]:
    """Where a trained model's evaluation under this spec lives, and the inputs its key was made from."""
    inputs = keys.evaluation_inputs(spec, trained.record["training_key"])
    return layout.evaluation_dir(trained.path, keys.digest(inputs)), inputs


def cached_evaluation(spec: Spec, trained: Trained, log: Log | None = None) -> tuple[Path, Metrics | None]:
    """The stored evaluation if current (else None, and `log` told why), rewriting a damaged per_color.csv."""
    path, inputs = evaluation_dir(spec, trained)
    got = R.read_evaluation(path, inputs, trained.record["model_sha256"])
    if got.record is None and log and got.reason:
        log(f"{spec.name} seed {spec.seed}: {got.reason}; evaluating again")
    if got.record is not None and R.refresh_export(path, got.record) and log:
        log(f"{spec.name} seed {spec.seed}: per_color.csv did not match metrics.json; written again")
    return path, got.record


def store_evaluation(spec: Spec, trained: Trained, evaluation: Evaluation, score: float, eval_s: float) -> Metrics:
    """Write an evaluation's folder; returns the metrics as stored."""
    path, inputs = evaluation_dir(spec, trained)
    rec = trained.record
    metrics: Metrics = {
        "experiment": spec.name,
        "seed": spec.seed,
        "steps": rec["steps"],
        "training_key": rec["training_key"],
        "evaluation_key": keys.digest(inputs),
        "inputs": inputs,
        "label_counts": rec["label_counts"],
        "val_losses": rec["val_losses"],
        "val_history": rec["val_history"],
        "final_loss": rec["final_loss"],
        "score": score,
        "per_color": evaluation["per_color"],
        "max_error": evaluation["max_error"],
        "selectivity": evaluation["selectivity"],
        **({"probes": evaluation["probes"]} if "probes" in evaluation else {}),  # type: ignore[typeddict-item]
        **({"trajectory": rec["trajectory"]} if "trajectory" in rec else {}),  # type: ignore[typeddict-item]
        "timings": {"train_s": rec["train_s"], "eval_s": eval_s},
        "init_sha256": rec["init_sha256"],
        "model_sha256": rec["model_sha256"],
    }
    with machine.pinned():
        env = machine.environment(ROOT)
    return R.write_evaluation(path, spec, metrics, env)


def run_one(spec: Spec, force: bool = False, progress: Progress | None = None,
            log: Log | None = None) -> tuple[Path, Metrics, bool]:
    """Train (or reuse), score and evaluate one seed: (evaluation directory, metrics, whether
    the trained model was reused)."""
    trained = train_one(spec, force, progress, log)
    diverged = trained.record.get("diverged")
    if diverged:
        step, loss = diverged
        raise TrainingDiverged(f"training diverged: the loss is {loss} at step {step} (found by a sweep, cached in "
                               f"{trained.path}); nothing to evaluate")
    path, metrics = cached_evaluation(spec, trained, log)
    if metrics is not None:
        return path, metrics, trained.reused
    from repro.engine.evaluate import evaluate

    t0 = time.perf_counter()
    score = score_one(spec, trained, log)
    with machine.pinned():
        evaluation = evaluate(spec, trained.model)
    return path, store_evaluation(spec, trained, evaluation, score, time.perf_counter() - t0), trained.reused


def losses(trained: Trained) -> np.ndarray:
    """The training loss at every step."""
    return np.load(trained.path / layout.LOSSES)
