import os

import pytest

from repro.base.errors import ReproError
from repro.pipeline.sweep import pareto_front, parse_seeds, select, stats


def test_parse_seeds():
    assert parse_seeds("0-59") == list(range(60))
    assert parse_seeds("3") == [3]
    assert parse_seeds("0-2, 10,4") == [0, 1, 2, 4, 10]
    for bad in ("", "5-2", "a", "1-", "-3"):
        with pytest.raises(ReproError):
            parse_seeds(bad)


def test_pareto_front_as_upstream():
    rows = [
        {"score": 0.9, "val_recon": 1.0, "val_anchor": 1.0},
        {"score": 0.8, "val_recon": 2.0, "val_anchor": 2.0},   # dominated by 0
        {"score": 0.95, "val_recon": 3.0, "val_anchor": 0.5},
        {"score": 0.9, "val_recon": 1.0, "val_anchor": 1.0},   # duplicate of 0: neither strictly better
        {"score": float("nan"), "val_recon": 0.1, "val_anchor": 0.1},  # NaN never dominates or is beaten on score
    ]
    front = pareto_front(rows, ["val_recon", "val_anchor"], ["score"])
    assert 1 not in front and {0, 2, 3} <= set(front)
    assert 4 in front  # as upstream: a row with a NaN objective is never dominated ...


def test_stats_use_the_sample_std():
    s = stats([{"x": 1.0}, {"x": 2.0}, {"x": 3.0}], ["x"])["x"]
    assert s == {"min": 1.0, "max": 3.0, "mean": 2.0, "std": 1.0}


def test_selection_never_picks_a_nan_score():
    """... but, as pandas' idxmax upstream, it is never selected; ties go to the first seed."""
    import math

    rows = [{"seed": 0, "score": math.nan, "val_recon": 5.0}, {"seed": 1, "score": 0.9, "val_recon": 1.0},
            {"seed": 2, "score": 0.9, "val_recon": 1.0}]
    front, selected = select(rows, ["val_recon"], ["score"])
    assert selected == 1 and front == [0, 1, 2]
    with pytest.raises(ReproError, match="no seed has a finite score"):
        select(rows[:1], ["val_recon"], ["score"])


def test_the_chunk_help_states_the_default_the_sweep_uses():
    # The CLI imports repro.pipeline.sweep lazily (it pulls in torch), so its help repeats the number.
    from repro.cli import sweep
    from repro.pipeline.sweep import CHUNK

    [opt] = [p for p in sweep.params if p.name == "chunk_size"]
    assert f"(default {CHUNK})" in opt.help



def test_a_link_planted_in_the_results_folder_is_not_followed(tmp_path, monkeypatch):
    from repro.base.errors import ReproError
    from repro.store.results import atomic_write_text

    results, outside = tmp_path / "results", tmp_path / "elsewhere"
    results.mkdir()
    outside.mkdir()
    monkeypatch.setenv("REPRO_RESULTS", str(results))
    (results / "ex-2.4.1").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ReproError, match="a link in the results folder leads out of it"):
        atomic_write_text(results / "ex-2.4.1" / "abc" / "metrics.json", "{}")
    assert not any(outside.iterdir())  # nothing created through the link
    atomic_write_text(results / "ex-2.5.1" / "abc" / "metrics.json", "{}")  # an ordinary folder is fine
    atomic_write_text(tmp_path / "tables" / "x.tex", "x")  # and so is a path outside the results folder


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path, monkeypatch):
    import subprocess
    import sys

    from repro.store.results import atomic_write_text

    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a process id that has ended
    stale = tmp_path / f".metrics.json.{gone}.abc123.tmp"
    live = tmp_path / f".metrics.json.{os.getpid()}.def456.tmp"  # a writer still running: kept
    other = tmp_path / f".runs.csv.{gone}.abc123.tmp"  # another file's: left to its own next write
    for t in (stale, live, other):
        t.write_text("partial")
    atomic_write_text(tmp_path / "metrics.json", "{}")
    assert not stale.exists() and live.exists() and other.exists()
    assert (tmp_path / "metrics.json").read_text() == "{}"


@pytest.mark.parametrize("peer", ["silent", "garbage"])
def test_a_dask_scheduler_that_never_answers_or_is_no_scheduler_is_one_line_in_bounded_time(peer, monkeypatch):
    import socket
    import threading
    import time

    pytest.importorskip("distributed")
    from repro.pipeline import executors

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []

    def serve():  # accepts, then says nothing (or something that is no Dask message)
        while True:
            try:
                c, _ = server.accept()
            except OSError:
                return
            held.append(c)
            if peer == "garbage":
                c.sendall(b"\xff" * 64)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setattr(executors, "CONNECT_S", 1)
    t0 = time.monotonic()
    with pytest.raises(ReproError, match="Dask scheduler at 'tcp://127.0.0.1:"):
        executors.make_executor("dask", scheduler=f"tcp://127.0.0.1:{server.getsockname()[1]}")
    assert time.monotonic() - t0 < 1 + 5 + 3
    server.close()


def test_noise_band_processes_get_this_processs_folders(tmp_path, monkeypatch):
    # They run in another working directory; an installed repro takes its default folders from
    # the working directory, and a relative REPRO_RESULTS is read against it.
    from repro.pipeline.sensitivity import VARIANTS, _variant_env

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REPRO_RESULTS", "my-results")
    env = _variant_env(VARIANTS[0])
    assert env["REPRO_RESULTS"] == str(tmp_path / "my-results")
    assert env["REPRO_EXPERIMENTS"].startswith("/") and env["REPRO_REGISTRY"].startswith("/")
    assert {k: env[k] for k in VARIANTS[0].env} == VARIANTS[0].env
