"""The Python API end to end on the 201-step spec: typed results that are the CLI's results
(same cache, same bytes), reopened with repro.load, and bad input as one ReproError."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import repro
from repro.base.errors import ReproError
from tests.conftest import ROOT

SPECS = ROOT / "tests" / "specs"
QUICK = str(SPECS / "quick.toml")


def test_the_package_face_lists_the_api_and_imports_it_only_when_used():
    out = subprocess.run([sys.executable, "-c", "import sys, repro; print('repro.api' in sys.modules, "
                          "'torch' in sys.modules); print(repro.run.__module__)"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    assert out == ["False", "False", "repro.api"]
    assert {"run", "sweep", "verify", "load", "spec", "experiments", "Run"} <= set(dir(repro))


def test_a_run_is_typed_and_is_the_clis_result(results_tmp):
    r = repro.run(QUICK, progress=False)
    assert isinstance(r, repro.Run) and r.seed == 3 and r.experiment == "quick"
    table = r.per_color
    assert list(table.columns) == ["colour", "hex", "baseline", *r.interventions] and len(table) == 17
    red = table.set_index("colour").loc["red"]
    assert red["suppression"] == r.metrics["per_color"][0]["suppression"]["delta"]
    assert 0 <= r.selectivity["suppression"].r2 <= 1 and r.labels["total"] == 201 * 64
    assert r.losses.shape == (201,) and r.losses.dtype == np.float32
    assert r.provenance["model_sha256"] == r.metrics["model_sha256"] and r.provenance["environment"]["torch"]
    assert sum(p.numel() for p in r.model.parameters()) > 0
    assert "<table>" in r._repr_html_() and "background:#FF0000" in r._repr_html_()
    # the CLI finds the same model and evaluation in the same cache, and says it reused them
    env = {**os.environ, "REPRO_RESULTS": str(results_tmp)}
    cli = subprocess.run([sys.executable, "-m", "repro", "run", QUICK, "-q"], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True)
    assert "reusing the cached model" in cli.stderr and f"result: {r.path}" in cli.stdout
    assert json.loads((r.path / "metrics.json").read_text()) == dict(r.metrics)
    # and load reopens it, from the evaluation folder, its metrics.json or the model's folder
    for where in (r.path, r.path / "metrics.json", r.path.parent):
        again = repro.load(where)
        assert isinstance(again, repro.Run) and again.metrics == r.metrics


def test_overrides_and_seeds_go_through_the_specs_checks(results_tmp):
    s = repro.spec(QUICK, seed=5, overrides={"labels.red.scale": 0.07})
    assert s.seed == 5 and s.labels["red"].scale == 0.07
    with pytest.raises(ReproError, match="labels.red.scale"):
        repro.spec(QUICK, overrides={"labels.red.scale": None})
    with pytest.raises(ReproError, match="no such"):
        repro.spec(QUICK, overrides={"labels.red.scael": 0.07})
    with pytest.raises(ReproError, match="seed"):
        repro.run(s, seed=-1, progress=False)
    # another seed of a spec made with overrides keeps them
    r = repro.run(s, seed=4, progress=False)
    assert r.seed == 4 and r.provenance["training_inputs"]["spec"]["labels"]["red"]["scale"] == 0.07
    with pytest.raises(ReproError, match="seeds: give at least one"):
        repro.sweep(QUICK, seeds=[], progress=False)
    with pytest.raises(ReproError, match="not a result"):
        repro.load(results_tmp)


def test_a_sweep_and_a_verification_as_tables(results_tmp, tmp_path_factory, monkeypatch):
    sw = repro.sweep(QUICK, seeds=range(3), jobs=1, executor="inline", progress=False)
    assert sw.seeds == [0, 1, 2] and sw.selected_seed in sw.pareto and len(sw.runs) == 3
    assert sw.selected.seed == sw.selected_seed and repro.load(sw.path).summary == sw.summary
    figure = sw.plot()  # the report's sweep figure: a panel per objective, and score against each loss
    assert len(figure.axes) == 1 + 2 * len(sw.summary["objectives"]["minimize"])
    registry = tmp_path_factory.mktemp("registry")
    (registry / "numbers.toml").write_text(
        f'[[number]]\nid = "quick.score"\nsource = "a test"\nexperiment = "{QUICK}"\n'
        f'path = "run:score"\nvalue = 0.5\ndecimals = 1\n')
    monkeypatch.setenv("REPRO_REGISTRY", str(registry))
    v = repro.verify([QUICK], quick=True, progress=False)
    row = v.numbers.set_index("id").loc["quick.score"]
    assert row["reproduced"] == repro.run(QUICK, progress=False).score
    assert sum(v.counts.values()) == 1 and v.path.name == "verification-partial.json"
    with pytest.raises(ReproError, match="no registry entries for"):
        repro.verify(["ex-0.0.0"], quick=True, progress=False)


def test_runs_lists_the_cache_and_says_what_differs(results_tmp, tmp_path_factory, monkeypatch):
    # an experiments folder of one's own: the shipped specs and the quick one beside them
    experiments = tmp_path_factory.mktemp("experiments")
    for f in [*(ROOT / "experiments").iterdir(), SPECS / "quick.toml", SPECS / "quick.csv"]:
        (experiments / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("REPRO_EXPERIMENTS", str(experiments))
    repro.run("quick", progress=False)
    repro.run("quick", overrides={"labels.red.scale": 0.07}, progress=False)
    table = repro.runs("quick")
    assert len(table) == 2 and set(table["seed"]) == {3}
    current = table[table["current"]]
    stale = table[~table["current"]]
    assert len(current) == 1 and current["differs"].iloc[0] == ""
    # the override's model is not what the spec trains today, and the listing says why
    assert stale["differs"].iloc[0] == "spec.labels.red.scale"
    assert table["score"].notna().all() and (table["val_recon"] > 0).all()
    env = {**os.environ, "REPRO_RESULTS": str(results_tmp), "REPRO_EXPERIMENTS": str(experiments)}
    out = subprocess.run([sys.executable, "-m", "repro", "runs", "quick", "--csv"], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout.splitlines()
    assert out[0].startswith("experiment,seed,training_key,current,differs,score") and len(out) == 3
    assert repro.runs("nothing-here").empty


def test_a_schedule_value_set_at_a_step_trains_another_model(results_tmp):
    default = repro.run(QUICK, progress=False)
    changed = repro.run(QUICK, overrides={"schedule.anchor.100": 0.5}, progress=False)
    assert changed.metrics["training_key"] != default.metrics["training_key"]
    assert changed.metrics["model_sha256"] != default.metrics["model_sha256"]
    # the CLI takes the same override to the same key, and reuses the model the API trained
    env = {**os.environ, "REPRO_RESULTS": str(results_tmp)}
    cli = subprocess.run([sys.executable, "-m", "repro", "run", QUICK, "-q", "--set", "schedule.anchor.100=0.5"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert "reusing the cached model" in cli.stderr and f"result: {changed.path}" in cli.stdout
    with pytest.raises(ReproError, match="schedule.lr.0"):
        repro.spec(QUICK, overrides={"lr": 0.1})  # lr lives in the dopesheet: the message says how


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_that_sweeps_on_local_workers(tmp_path, guarded):
    # Local workers are spawned and import the script: without a main guard, what the user
    # reads is what to do, once from the worker and once from the script, not 130 lines.
    call = f'sw = repro.sweep({QUICK!r}, seeds=range(2), jobs=2, progress=False)\nprint("selected", sw.selected_seed)'
    body = ('if __name__ == "__main__":\n' + "\n".join("    " + line for line in call.splitlines())) if guarded else call
    script = tmp_path / "script.py"
    script.write_text("import repro\n" + body + "\n")
    env = {**os.environ, "REPRO_RESULTS": str(tmp_path / "results"), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    if guarded:
        assert out.returncode == 0 and "selected" in out.stdout, out.stderr[-2000:]
    else:
        assert out.returncode != 0
        assert out.stderr.count('if __name__ == "__main__":') >= 1
        assert "bootstrapping" not in out.stderr and "SyncManager" not in out.stderr
        assert len(out.stderr.splitlines()) < 30, out.stderr


def test_a_runs_figures_are_drawn_from_what_it_stored(results_tmp):
    r = repro.run(QUICK, progress=False)
    bars = r.plot.per_color()
    assert len(bars.axes) == len(r.interventions)
    assert [t.get_text() for t in bars.axes[0].get_yticklabels()][0] == "red"
    widths = [p.get_width() for p in bars.axes[0].patches]
    assert widths[0] == r.per_color[r.interventions[0]].iloc[0]
    lat = r.plot.latents((0, 1))
    assert len(lat.axes[0].collections) == 17
    assert len(r.plot.losses().axes[0].lines[0].get_ydata()) == 201
    with pytest.raises(ReproError, match="dims"):
        r.plot.latents((0, 9))
    # The report's own panels, drawn by the report's code from the stored model
    first = r.interventions[0]
    panel = r.plot.error_vs_target(first)
    assert f"{r.selectivity[first].r2:.3f}" in " ".join(t.get_text() for t in panel.axes[0].get_legend().get_texts())
    assert len(r.plot.results("baseline").axes) == 4 and len(r.plot.results(first).axes) == 4
    with pytest.raises(ReproError, match="intervention: one of baseline"):
        r.plot.results("nope")


def test_another_intervention_on_the_same_model_without_retraining(results_tmp):
    r = repro.run(QUICK, progress=False)
    assert r.spec.name == "quick" and r.spec.seed == 3
    wider = r.intervene({"interventions.suppression.falloff.strength": 0.5})
    assert wider.metrics["training_key"] == r.metrics["training_key"]  # the same trained model
    assert wider.metrics["model_sha256"] == r.metrics["model_sha256"]
    red = r.per_color.set_index("colour").loc["red", "suppression"]
    assert wider.path != r.path and 0 < wider.per_color.set_index("colour").loc["red", "suppression"] < red
    assert wider.spec.interventions["suppression"].falloff.strength == 0.5
    assert len(list(r.training_path.glob("eval-*"))) == 2  # a second evaluation beside the first
    with pytest.raises(ReproError, match="would train another model"):
        r.intervene({"labels.red.scale": 0.07})
    # a run reopened from disk knows its spec too, overrides included
    s = repro.run(QUICK, overrides={"schedule.anchor.100": 0.5}, progress=False)
    assert repro.load(s.path).spec.schedule == {"anchor": {"100": 0.5}}


def test_the_library_checks_seeds_as_the_cli_does(results_tmp):
    from repro.config.spec import load_spec
    from repro.pipeline.sweep import run_sweep

    spec = load_spec(QUICK)
    with pytest.raises(ReproError, match="seed"):
        spec.with_seed(-1)
    with pytest.raises(ReproError, match="at least one seed"):
        run_sweep(spec, [])
    _, summary = run_sweep(spec, [2, 1, 2], evaluate_selected=False)
    assert summary["seeds"] == [1, 2] and len(summary["runs"]) == 2


def test_what_a_review_found_is_refused_in_one_line(results_tmp):
    import numpy as np

    s = repro.spec(QUICK, overrides={"about.title": "red 😀", "data.batch_size": np.int64(64)})
    assert s.about.title == "red 😀" and s.data.batch_size == 64
    for bad, needle in [({"seeds": 5}, "seeds"), ({"seeds": [1, None]}, "seeds"), ({"jobs": -1}, "jobs")]:
        with pytest.raises(ReproError, match=needle):
            repro.sweep(QUICK, **{"progress": False, **bad})
    with pytest.raises(ReproError, match="beyond any float"):
        repro.spec(QUICK, overrides={"schedule.anchor.100": 10**400})
    twice = repro.spec(QUICK, overrides={"schedule.anchor.0100": 0.7, "schedule.anchor.100": 0.5})
    assert twice.schedule == {"anchor": {"100": 0.5}}  # one step, one key
    r = repro.run(QUICK, progress=False)
    with pytest.raises(ReproError, match="dopesheet"):
        r.intervene({"dopesheet": "other.csv"})


def test_a_runs_spec_is_refused_when_its_schedule_is_not_its_models(results_tmp, tmp_path_factory, monkeypatch):
    experiments = tmp_path_factory.mktemp("experiments")
    for f in [*(ROOT / "experiments").iterdir(), SPECS / "quick.toml", SPECS / "quick.csv"]:
        (experiments / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("REPRO_EXPERIMENTS", str(experiments))
    a = repro.run("quick", overrides={"schedule.anchor.150": 0.5}, progress=False)
    assert a.spec.schedule == {"anchor": {"150": 0.5}}  # its own spec.toml and the model's sheet agree
    # the same keyframe written into the CSV instead: the same schedule, so the same model, reused,
    # and evaluated under a spec.toml that has no schedule table beside a dopesheet.csv without it
    csv = experiments / "quick.csv"
    csv.write_text(csv.read_text().replace("150,,,0.1,0.01,0.1,", "150,,,0.1,0.01,0.5,"))
    b = repro.run("quick", overrides={"interventions.suppression.falloff.strength": 0.5}, progress=False)
    assert b.metrics["training_key"] == a.metrics["training_key"] and b.path != a.path
    with pytest.raises(ReproError, match="schedule the model was trained with"):
        _ = repro.load(b.path).spec


def test_a_script_that_verifies_on_local_workers_without_a_guard_is_told_what_to_do(tmp_path):
    # verify evaluates every seed of a cached sweep on local workers (for the claims); a worker
    # that re-runs the unguarded script exits, and the script used to end in 39 lines and a
    # BrokenProcessPool.
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    for f in [*(ROOT / "experiments").iterdir(), SPECS / "quick.csv"]:
        (experiments / f.name).write_bytes(f.read_bytes())
    (experiments / "quick.toml").write_text((SPECS / "quick.toml").read_text() + '\n[sweep]\nseeds = "0-1"\n')
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "claims.toml").write_text(
        '[[claim]]\nid = "quick.scored"\nclaim = "Every seed scores"\nsource = "a test"\nexperiments = ["quick"]\n'
        'predicate = "{score} >= 0"\nvalue = "{score}"\npublished = "(none)"\nthreshold = "any"\n')
    env = {**os.environ, "REPRO_RESULTS": str(tmp_path / "results"), "REPRO_EXPERIMENTS": str(experiments),
           "REPRO_REGISTRY": str(registry), "PYTHONPATH": str(ROOT)}
    warm = subprocess.run([sys.executable, "-c", "import repro; repro.sweep('quick', executor='inline', progress=False)"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert warm.returncode == 0, warm.stderr[-2000:]
    script = tmp_path / "script.py"
    script.write_text('import repro\nprint(repro.verify(["quick"], progress=False))\n')
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    assert out.returncode != 0
    assert 'if __name__ == "__main__":' in out.stderr.strip().splitlines()[-1], out.stderr[-2000:]
    assert "BrokenProcessPool" not in out.stderr, out.stderr[-2000:]
