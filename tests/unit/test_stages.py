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
