"""The authors' follow-up (sca2) on the original model, as `repro paper` verified it: every printed
statistic judged, no set-up fact off, the port variants judged too; and examples/followup.ipynb,
executed by a real Jupyter kernel on the same cache (so its verify reads what the pipeline computed)."""

import json

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="module")
def followup(pipeline):
    return json.loads((pipeline["results"] / "verification.json").read_text())["followup"], pipeline


def test_every_printed_statistic_is_judged_and_no_set_up_fact_is_off(followup):
    fu, _ = followup
    printed = [r for r in fu["statistics"] if r["published"] is not None]
    assert len(printed) >= 50 and sum(fu["counts"].values()) == len(printed)
    assert fu["counts"]["mismatch"] == 0, [r["id"] for r in printed if r["status"] == "mismatch"]
    assert fu["counts"]["matches"] >= 3  # 337 others, 512 colours, 7 reds
    ported = [r for r in printed if all(x in fu["ports"] for x in r["experiments"])]
    assert len(ported) >= 50 and all(r["port"] is not None for r in ported)  # and on the port variants
    assert all(r["port"] is None for r in printed if r not in ported)
    assert fu["findings"] >= 20 and all(f["holds"] is not None for f in fu["finding_results"])


def test_the_follow_up_notebook_runs_and_shows_what_it_says(followup, monkeypatch):
    _, pipeline = followup
    monkeypatch.setenv("REPRO_RESULTS", str(pipeline["results"]))  # the kernel inherits the environment
    nb = nbformat.read(ROOT / "examples" / "followup.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in cells for o in c.get("outputs", []))

    def text(cell):
        return "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))

    names, probes, health, check, findings, counts = cells
    assert "sca2-2.9.2-fallback" in text(names)
    assert "reflect" in text(probes) and "concept" in text(probes)
    assert "clean" in text(health) or "degraded" in text(health) or "catastrophic" in text(health)
    assert "follow-up statistics" in text(check)
    assert "C2.6" in text(findings)
    assert "consistent" in text(counts)
