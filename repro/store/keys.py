"""Cache keys that follow the inputs of each result.

- training key: what can change a trained model: the training fields of the spec (seed,
  model, data, labels, validation, regularisers), the dopesheet's keyframes and length, a digest
  of the source files that run during training, the torch version, the CPU platform (vendor,
  kernel capability, kernel-choosing variables; repro.base.machine), the thread count and the row
  blocks of the weight gradients (repro.engine.rowsplit);
- score key: the training key, the score's fields, its intervention and the evaluation code;
- evaluation key: the training key, every intervention, the evaluation and score fields and
  the evaluation code.

So adding an intervention or changing the score re-evaluates a cached model and never retrains
it; changing training code retrains. A key is the hash of its inputs, and the inputs are stored
with the result, so a result that no longer matches is never reused, and the message says what
changed.
"""

from __future__ import annotations

import ast
import hashlib
import json
from functools import cache
from pathlib import Path

import torch

from repro.base import machine
from repro.engine import rowsplit
from repro.config.spec import Spec

PACKAGE = Path(__file__).resolve().parent.parent  # the repro package
# Where training and evaluation start; the code a key covers is every repro module these import,
# directly or not (spec, schema and machine included), found by reading the imports.
TRAINING_CODE = ("repro.engine.train", "repro.engine.batched", "repro.engine.data")
EVALUATION_CODE = ("repro.engine.evaluate", "repro.method.interventions", "repro.method.surgery")
TRAINING_FIELDS = ("seed", "model", "data", "labels", "validation", "regularizers", "final_row")


def _file(module: str) -> Path | None:
    """The source file of a repro module, or None if the name is not one (a class, say)."""
    parts = module.split(".")[1:]
    for f in (PACKAGE.joinpath(*parts).with_suffix(".py"), PACKAGE.joinpath(*parts, "__init__.py")):
        if parts and f.is_file():
            return f
    return None


def _source(module: str) -> Path:
    f = _file(module)
    if f is None:
        raise ValueError(f"{module} is no module of the repro package")
    return f


def imports_of(module: str) -> set[str]:
    """The repro modules that a module imports anywhere in its text (in functions too)."""
    tree = ast.parse(_source(module).read_bytes())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "repro"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "repro":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if _file(f"{node.module}.{a.name}")}
    return {m for m in found if m != "repro" and _file(m)}


@cache
def closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """The modules `roots` run: themselves and every repro module they import, transitively."""
    seen, todo = set(), list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += imports_of(m)
    return tuple(sorted(seen))


def code_digests(roots: tuple[str, ...]) -> dict[str, str]:
    """{'repro/engine/train.py': digest of its bytes, ...} for the code `roots` run."""
    out = {}
    for m in closure(roots):
        f = _source(m)
        out[f.relative_to(PACKAGE.parent).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()[:16]
    return out


def digest(inputs: dict) -> str:
    """A 16-hex-digit key of some inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def schedule(spec: Spec) -> dict:
    """The dopesheet as a key sees it: its length and keyframes."""
    sheet = spec.sheet
    return {"steps": len(sheet),  # rows without keys can still lengthen the schedule
            "tracks": [[t.name, t.space, t.easing, [[k.step, k.value] for k in t.keys]] for t in sheet.tracks]}


def training_inputs(spec: Spec) -> dict:
    """Everything that can change a trained model."""
    fields = spec.model_dump(mode="json", include=set(TRAINING_FIELDS))
    for option in ("sample", "trajectory"):
        if fields["validation"].get(option) is None:
            del fields["validation"][option]  # the default: the keys made before the option existed hold
    return {
        "spec": fields,
        "dopesheet": schedule(spec),
        "code": code_digests(TRAINING_CODE),
        "torch": torch.__version__,
        "platform": machine.current_platform().id,
        "threads": machine.THREADS,
        "row_split": rowsplit.table(),  # the blocks that stand in for upstream's two threads here
    }


def score_inputs(spec: Spec, training_key: str) -> dict:
    """Everything that can change a trained model's selection score."""
    return {
        "training_key": training_key,
        "score": spec.score.model_dump(mode="json"),
        "intervention": spec.interventions[spec.score.intervention].model_dump(mode="json"),
        "concept_hsv": list(spec.evaluation.concept_hsv),
        "code": code_digests(EVALUATION_CODE),
    }


def evaluation_inputs(spec: Spec, training_key: str) -> dict:
    """Everything that can change a trained model's evaluation."""
    fields = spec.model_dump(mode="json", include={"interventions", "evaluation", "score"})
    if fields["evaluation"].get("probes") is None:
        del fields["evaluation"]["probes"]  # the default: the keys made before the option existed hold
    return {
        "training_key": training_key,
        "spec": fields,
        "code": code_digests(EVALUATION_CODE),
    }


def what_changed(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The leaves that differ between two input records, e.g. ['code.repro/engine/train.py', 'torch']."""
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
