"""examples/quickstart.ipynb, executed by a real Jupyter kernel as a user would run it, into a
fresh results cache; its outputs are checked, not just its lack of errors."""

import ast
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        out += [o.get("text", ""), data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(out)


@pytest.fixture
def executed(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return [c for c in nb.cells if c.cell_type == "code"], tmp_path


def test_the_quickstart_notebook_runs_and_shows_what_it_says(executed):
    cells, results = executed
    assert all(o.get("output_type") != "error" for c in cells for o in c.get("outputs", []))
    experiments, run, per_color, selectivity, bars, latents, override, sweep, runs, check, numbers = cells
    assert "'ex-2.4.1'" in _text(experiments)
    assert "background:#FF0000" in _text(run) and "score" in _text(run)  # the swatches
    assert "<table" in _text(per_color) and "suppression" in _text(per_color)
    assert "background-color: #FF0000" in _text(per_color)  # run.table: each colour on its swatch
    assert "'suppression'" in _text(selectivity)
    for figure in (bars, latents):
        assert any("image/png" in o.get("data", {}) for o in figure["outputs"])
    more_red, red, _r2 = ast.literal_eval(_text(override).strip())
    assert more_red > red  # red labelled twice as often: more red labels in training
    assert "Sweep(ex-2.4.1: 4 seeds" in _text(sweep)
    assert "<progress" in _text(sweep)  # progress is on by default, drawn as a bar that updates in place
    assert "labels/red" in _text(runs)
    assert "Verification(" in _text(check) and "numbers" in _text(check)
    assert "status" in _text(numbers)
    assert any(results.glob("ex-2.4.1/*/training.json"))  # it wrote to the cache it was given
    assert os.environ.get("REPRO_RESULTS") == str(results)
