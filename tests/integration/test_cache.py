"""The cache follows the inputs: evaluation changes re-evaluate a cached model, training changes
retrain, and nothing stale, damaged or edited is ever reused."""

import json

import pytest

from repro.store import keys, layout
from repro.store import results as R
from repro.pipeline.runner import run_one, train_one
from repro.config.spec import load_spec
from repro.pipeline.sweep import run_sweep
from tests.conftest import SPECS

pytestmark = pytest.mark.integration
QUICK = str(SPECS / "quick.toml")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    return tmp_path


def collect():
    lines = []
    return lines, lines.append


def test_editing_an_intervention_reuses_the_model(cache, tmp_path):
    path, first, reused = run_one(load_spec(QUICK))
    assert not reused
    # A copy of the spec with one intervention changed and one added: evaluated anew, not retrained.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "quick.csv").write_text((SPECS / "quick.csv").read_text())
    (copy / "quick.toml").write_text((SPECS / "quick.toml").read_text() + """
[interventions.repulsion]
mapper = { kind = "bezier", from_angle = 90.0, to_angle = 80.0 }

[interventions.pruning]
kind = "pruning"
dims = [0]
selectivity_power = 2.0
selectivity_against = "similarity"
""")
    edited = load_spec(str(copy / "quick.toml"))
    path2, second, reused2 = run_one(edited)
    assert reused2 and path2.parent == path.parent and path2 != path
    assert second["model_sha256"] == first["model_sha256"] and "pruning" in second["max_error"]
    assert second["max_error"]["repulsion"] != first["max_error"]["repulsion"]
    # Changing the score rescores the same model.
    _, third, reused3 = run_one(load_spec(QUICK, ["score.power=3.0"]))
    assert reused3 and third["score"] != first["score"]
    assert len(list(path.parent.glob("score-*.json"))) == 2


def test_changing_a_training_field_retrains(cache):
    path, first, _ = run_one(load_spec(QUICK))
    lines, log = collect()
    path2, second, reused = run_one(load_spec(QUICK, ["labels.red.scale=0.07"]), log=log)
    assert not reused and path2.parent != path.parent
    assert any("labels.red.scale" in line and "training anew" in line for line in lines), lines


def test_a_stale_result_is_refused_and_says_what_changed(cache, monkeypatch):
    spec = load_spec(QUICK)
    path, first, _ = run_one(spec)
    # The training code changes: the same spec now has another training key; the old model is not reused.
    real = keys.code_digests
    monkeypatch.setattr(keys, "code_digests", lambda mods: {
        k: ("0" * 16 if k == "repro/engine/train.py" else v) for k, v in real(mods).items()})
    lines, log = collect()
    path2, _, reused = run_one(spec, log=log)
    assert not reused and path2.parent != path.parent
    assert any("code.repro/engine/train.py" in line for line in lines), lines
    # A directory whose training.json records other inputs than its key says is stale, and is refused.
    monkeypatch.setattr(keys, "code_digests", real)
    record = json.loads((path.parent / "training.json").read_text())
    record["inputs"]["torch"] = "2.6.0"
    (path.parent / "training.json").write_text(json.dumps(R.sealed(record)))
    lines, log = collect()
    _, _, reused = run_one(spec, log=log)
    assert not reused and any("stale" in line and "torch" in line for line in lines), lines


@pytest.mark.parametrize("damage, reason", [
    (lambda d: (d / "model.pt").write_bytes((d / "model.pt").read_bytes()[:100]), "model.pt does not match"),
    (lambda d: (d / "training.json").write_text((d / "training.json").read_text()[:50]), "damaged"),
    (lambda d: (d / "training.json").write_text((d / "training.json").read_text().replace(
        '"val_recon": ', '"val_recon": 1', 1)), "damaged or was edited"),
    (lambda d: (d / "losses.npy").unlink(), "losses.npy is missing"),
])
def test_damaged_cache_is_redone_with_one_line(cache, damage, reason):
    spec = load_spec(QUICK)
    path, first, _ = run_one(spec)
    damage(path.parent)
    lines, log = collect()
    _, again, reused = run_one(spec, log=log)
    assert not reused and again["model_sha256"] == first["model_sha256"]
    assert len(lines) == 1 and reason in lines[0], lines


def test_an_evaluation_of_another_model_is_not_reused(cache):
    spec = load_spec(QUICK)
    path, first, _ = run_one(spec)
    metrics = json.loads((path / "metrics.json").read_text())
    metrics["model_sha256"] = "f" * 64
    (path / "metrics.json").write_text(json.dumps(R.sealed(metrics)))
    lines, log = collect()
    _, again, reused = run_one(spec, log=log)
    assert reused and again["model_sha256"] == first["model_sha256"]  # model reused, evaluation redone
    assert any("another model" in line for line in lines), lines


def test_force_leaves_no_old_record_beside_the_new_model(cache):
    spec = load_spec(QUICK)
    path, _, _ = run_one(spec)
    stale = path.parent / "score-0000000000000000.json"
    stale.write_text("{}")
    trained = train_one(spec, force=True)
    assert not trained.reused
    assert not list(path.parent.glob("score-*.json")) and not list(path.parent.glob("eval-*"))
    assert R.read_training(path.parent, keys.training_inputs(spec)).record is not None


def test_an_edited_sweep_record_is_not_trusted(cache):
    spec = load_spec(QUICK)
    _, first = run_sweep(spec, [0, 1, 2], evaluate_selected=False)
    loser = next(r for r in first["runs"] if r["seed"] != first["selected_seed"])
    d = layout.training_dir(spec.name, loser["training_key"])
    [score_file] = d.glob("score-*.json")
    record = json.loads(score_file.read_text())
    record["score"] = 1.0  # an edit that would make this seed the selected one
    score_file.write_text(json.dumps(record))
    lines, log = collect()
    _, again = run_sweep(spec, [0, 1, 2], evaluate_selected=False, log=log)
    assert again["selected_seed"] == first["selected_seed"]
    assert any("damaged or was edited" in line for line in lines), lines


def test_a_truncated_evaluation_is_redone(cache):
    spec = load_spec(QUICK)
    path, first, _ = run_one(spec)
    (path / "metrics.json").write_text((path / "metrics.json").read_text()[:200])
    lines, log = collect()
    _, again, reused = run_one(spec, log=log)
    assert reused and again["per_color"] == first["per_color"]
    assert any("metrics.json is damaged" in line for line in lines), lines


def test_an_edited_per_colour_export_is_written_again(cache):
    """per_color.csv is written from metrics.json for people to read, and never read back: an
    edited or lost copy must not outlive the next run."""
    spec = load_spec(QUICK)
    path, _, _ = run_one(spec)
    original = (path / "per_color.csv").read_bytes()
    (path / "per_color.csv").write_bytes(original + b"garbage\n")
    lines, log = collect()
    _, _, reused = run_one(spec, log=log)
    assert reused and (path / "per_color.csv").read_bytes() == original
    assert any("per_color.csv" in line and "written again" in line for line in lines), lines
    (path / "per_color.csv").unlink()
    run_one(spec)
    assert (path / "per_color.csv").read_bytes() == original


def test_two_processes_writing_the_same_seed_leave_one_valid_result(cache):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "REPRO_RESULTS": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-m", "repro.cli", "run", QUICK, "--force", "-q"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1000:] for o in outs]
    spec = load_spec(QUICK)
    [d] = [p for p in layout.experiment_dir(spec.name).iterdir() if p.is_dir()]
    assert R.read_training(d, keys.training_inputs(spec)).record is not None
    assert not list(d.rglob("*.tmp"))
    lines, log = collect()
    _, _, reused = run_one(spec, log=log)
    assert reused and not lines


def test_a_fifo_in_the_cache_does_not_block(cache):
    import os

    spec = load_spec(QUICK)
    path, first, _ = run_one(spec)
    os.unlink(path.parent / "training.json")
    os.mkfifo(path.parent / "training.json")
    lines, log = collect()
    _, again, reused = run_one(spec, log=log)  # would block forever reading the FIFO
    assert not reused and again["model_sha256"] == first["model_sha256"]
    assert any("not a regular file" in line for line in lines), lines


def test_a_full_disk_is_one_line_and_leaves_no_temporary_files(cache, monkeypatch):
    import errno

    from repro.base.errors import ReproError

    calls = []
    real = R._stage

    def stage(folder, name, data):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(folder, name, data)

    monkeypatch.setattr(R, "_stage", stage)
    with pytest.raises(ReproError, match="No space left on device"):
        run_one(load_spec(QUICK))
    assert not list(cache.rglob("*.tmp")) and not list(cache.rglob("training.json"))


def test_a_folder_where_a_result_file_should_be_is_one_line(cache):
    from repro.base.errors import ReproError

    spec = load_spec(QUICK)
    path, _, _ = run_one(spec)
    (path / "metrics.json").unlink()
    (path / "metrics.json").mkdir()
    with pytest.raises(ReproError, match="cannot write .*metrics.json"):
        run_one(spec)


def test_a_folder_where_the_model_should_be_is_named(cache):
    from repro.base.errors import ReproError

    spec = load_spec(QUICK)
    path, _, _ = run_one(spec)
    model = path.parent / "model.pt"  # beside training.json, above the evaluation
    model.unlink()
    model.mkdir()
    with pytest.raises(ReproError, match=r"cannot write .*model\.pt: Is a directory"):
        run_one(spec)


def test_the_stored_files_are_the_typed_records(cache):
    """training.json, metrics.json, summary.json and verification.json hold exactly the keys of
    their record types (repro.store.records; VerificationReport in repro.fidelity.verify), so
    the types the type checker holds the code to describe the files users read."""
    from typing import get_type_hints

    from repro.fidelity.verify import VerificationReport, verify, write_report
    from repro.fidelity.registry import Registry
    from repro.pipeline.workspace import Workspace
    from repro.store.records import Metrics, SweepSummary, TrainingRecord

    def keys_of(t):
        # Under postponed annotations Python 3.11 cannot see NotRequired[...] (every key is in
        # __required_keys__); the annotation's text says it, as the type checker reads it.
        def optional(k):
            for c in t.__mro__:
                a = getattr(c, "__annotations__", {}).get(k)
                if a is not None:
                    return getattr(a, "__forward_arg__", str(a)).startswith("NotRequired[")
            return False

        every = set(get_type_hints(t))
        return every, {k for k in every if not optional(k)}

    path, metrics, _ = run_one(load_spec(QUICK))
    training = json.loads((path.parent / layout.TRAINING).read_text())
    stored = json.loads((path / layout.METRICS).read_text())
    sweep_path, _ = run_sweep(load_spec(QUICK), [0, 1])
    summary = json.loads((sweep_path / layout.SUMMARY).read_text())
    report = verify(Registry([], []), Workspace(bands=False), [], quick=True)
    written = json.loads(write_report(report, cache).read_text())
    for record, kind in ((training, TrainingRecord), (stored, Metrics), (summary, SweepSummary),
                         (written, VerificationReport)):
        every, required = keys_of(kind)
        assert required <= set(record) <= every, (kind.__name__, set(record) ^ every)
    assert set(stored) == set(metrics)
