"""The records repro stores, one type per file format: what training.json, metrics.json and
summary.json hold, key by key. Two are defined where they are made, below or above the store:
Evaluation (what evaluate() measures, repro.engine.evaluate) and VerificationReport
(verification.json, repro.fidelity.verify).

They are TypedDicts: the JSON files are these very dicts (json.dumps of a record is the file,
byte for byte as before they had types), and the type checker (mypy, in CI) holds every module
that builds or reads one to these keys. Keys named by the spec (interventions, labels, losses)
stay plain mappings inside them. Each format has one reader and one writer, in
repro.store.results (training and metrics), repro.pipeline.sweep (summary) and
repro.fidelity.verify (verification).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from repro.engine.evaluate import Evaluation, SelectivityRecord
from repro.engine.probes import Probes

__all__ = ["TrainingRecord", "Evaluation", "SelectivityRecord", "Metrics", "SweepSummary"]


class TrainingRecord(TypedDict):
    """training.json: how a model was trained and what it came to (sealed with its files' digests)."""

    experiment: str
    seed: int
    steps: int
    training_key: str
    inputs: dict[str, Any]  # keys.training_inputs: the spec's training fields, schedule, code, platform
    label_counts: dict[str, int]  # positive labels per regulariser ('total': samples seen)
    val_losses: dict[str, float]  # the last validation
    val_history: list[dict[str, float]]  # {"step": step, loss name: value, ...}
    final_loss: float
    init_sha256: str
    model_sha256: str
    train_s: float
    loop: str  # "per-seed" (repro.engine.train) or "batched" (a sweep's)
    diverged: list[float] | None  # [step, loss] of the first non-finite loss
    # the follow-up's trajectory (trajectory.npy): every, and the steps it anchored and lost its anchor
    trajectory: NotRequired[dict[str, int]]  # every, anchored, lost (-1: never)
    files: NotRequired[dict[str, str]]  # file name -> SHA-256, added when written
    record_sha256: NotRequired[str]  # the seal, added when written


class Metrics(TypedDict):
    """metrics.json: one seed's evaluation, with what it was trained from (sealed)."""

    experiment: str
    seed: int
    steps: int
    training_key: str
    evaluation_key: str
    inputs: dict[str, Any]  # keys.evaluation_inputs
    label_counts: dict[str, int]
    val_losses: dict[str, float]
    val_history: list[dict[str, float]]
    final_loss: float
    score: float
    per_color: list[dict[str, Any]]
    max_error: dict[str, float]
    selectivity: dict[str, SelectivityRecord]
    probes: NotRequired[Probes]  # the follow-up's measurements (repro.engine.probes), when the spec asks
    trajectory: NotRequired[dict[str, int]]  # training.json's, when the spec records one
    timings: dict[str, float]  # train_s, eval_s
    init_sha256: str
    model_sha256: str
    record_sha256: NotRequired[str]


class SweepSummary(TypedDict):
    """summary.json: a sweep's seeds, its Pareto front, the selected seed and statistics."""

    experiment: str
    seeds: list[int]
    diverged_seeds: list[int]
    selected_seed: int
    pareto_seeds: list[int]  # by score, best first
    pareto_count: int
    objectives: dict[str, list[str]]  # minimize, maximize
    stats: dict[str, dict[str, float]]  # column -> min, max, mean, std
    runs: list[dict[str, Any]]  # a row per seed: seed, score, val_*, labels/*, runtime_s, model_sha256, ...
    selected_result: NotRequired[str]  # the selected seed's evaluation folder
    selected_score: NotRequired[float]
    timings: NotRequired[dict[str, float]]  # total_s; trained and cached (counts)
