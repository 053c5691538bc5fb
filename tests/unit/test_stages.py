"""The table of where a long command's time went (repro.base.display.Stages)."""

import time

from repro.base.display import Stages


def test_a_part_timed_inside_a_stage_gets_its_own_line_and_leaves_the_rest():
    s = Stages()
    with s.stage("verification"):
        time.sleep(0.05)
        t0 = time.perf_counter()
        time.sleep(0.1)  # e.g. the noise bands, timed where they are computed
        s.part("noise bands", time.perf_counter() - t0)
    with s.stage("LaTeX"):
        pass
    assert list(s.rows) == ["verification", "noise bands", "LaTeX"]
    assert 0.1 <= s.rows["noise bands"] < 0.15
    assert 0.05 <= s.rows["verification"] < 0.1  # its own time: the wall time less the part
    assert abs(sum(s.rows.values()) - s.total()) < 0.01
    lines = s.table().splitlines()
    assert lines[1].startswith("noise bands") and lines[-1].startswith("total")
    assert set(s.as_json()["stages_s"]) == {"verification", "noise bands", "LaTeX"}


def test_a_terminal_progress_line_is_redrawn_cleanly_and_ended(capsys, monkeypatch):
    import sys

    from repro.base.display import ProgressLine

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with ProgressLine("sweep", unit="seeds trained") as line:
        line(1.5, 6, "0 cached, about 100s left")
        line(29.99, 30, "29 cached")  # not finished: never shown as 30
    err = capsys.readouterr().err
    assert err.count("\r") == 2 and err.count("\x1b[K") == 2  # each redraw clears the longer line before it
    assert "29.9/30" in err and "30/30" not in err
    assert err.endswith("\n")  # left unfinished (work that stopped early), the line is still ended
    with ProgressLine("run") as done:
        done(201, 201, "loss 1e-3")
    assert capsys.readouterr().err.count("\n") == 1  # a finished line is ended once
