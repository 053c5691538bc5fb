"""Cache keys that follow the inputs of each result.

- training key: what can change a trained model: the training fields of the spec (seed,
  model, data, labels, validation, regularisers), the dopesheet's keyframes and length, a digest
  of the source files that run during training, the torch version, the CPU platform (vendor,
  kernel capability, kernel-choosing variables; repro.machine), the thread count and the row
  blocks of the weight gradients (repro.rowsplit);
- score key: the training key, the score's fields, its intervention and the evaluation code;
- evaluation key: the training key, every intervention, the evaluation and score fields and
  the evaluation code.

So adding an intervention or changing the score re-evaluates a cached model and never retrains
it; changing training code retrains. A key is the hash of its inputs, and the inputs are stored
with the result, so a result that no longer matches is never reused, and the message says what
changed.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import torch

from repro import machine, rowsplit
from repro.spec import Spec

PACKAGE = Path(__file__).resolve().parent
# Modules whose code runs while a model trains (a change to any of them retrains).
TRAINING_MODULES = ("model", "regularizers", "replay", "train", "batched", "rowsplit", "data", "colors", "dopesheet")
# Modules whose code runs while a trained model is scored or evaluated.
EVALUATION_MODULES = ("model", "interventions", "surgery", "evaluate", "colors")
TRAINING_FIELDS = ("seed", "model", "data", "labels", "validation", "regularizers")


@cache
def _digest(module: str) -> str:
    return hashlib.sha256((PACKAGE / f"{module}.py").read_bytes()).hexdigest()[:16]


def code_digests(modules: tuple[str, ...]) -> dict[str, str]:
    return {f"repro/{m}.py": _digest(m) for m in modules}


def digest(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def schedule(spec: Spec) -> dict:
    sheet = spec.sheet
    return {"steps": len(sheet),  # rows without keys can still lengthen the schedule
            "tracks": [[t.name, t.space, t.easing, [[k.step, k.value] for k in t.keys]] for t in sheet.tracks]}


def training_inputs(spec: Spec) -> dict:
    return {
        "spec": spec.model_dump(mode="json", include=set(TRAINING_FIELDS)),
        "dopesheet": schedule(spec),
        "code": code_digests(TRAINING_MODULES),
        "torch": torch.__version__,
        "platform": machine.current_platform().id,
        "threads": machine.THREADS,
        "row_split": rowsplit.table(),  # the blocks that stand in for upstream's two threads here
    }


def score_inputs(spec: Spec, training_key: str) -> dict:
    return {
        "training_key": training_key,
        "score": spec.score.model_dump(mode="json"),
        "intervention": spec.interventions[spec.score.intervention].model_dump(mode="json"),
        "concept_hsv": list(spec.evaluation.concept_hsv),
        "code": code_digests(EVALUATION_MODULES),
    }


def evaluation_inputs(spec: Spec, training_key: str) -> dict:
    return {
        "training_key": training_key,
        "spec": spec.model_dump(mode="json", include={"interventions", "evaluation", "score"}),
        "code": code_digests(EVALUATION_MODULES),
    }


def what_changed(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The leaves that differ between two input records, e.g. ['code.repro/train.py', 'torch']."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += what_changed(a, b, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out
