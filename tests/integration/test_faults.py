"""Faults during sweeps: Ctrl-C stops promptly without tracebacks, a killed driver leaves no
workers behind, and a sweep killed at any moment resumes to the same summary."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPECS

pytestmark = pytest.mark.integration
QUICK = str(SPECS / "quick.toml")


def children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parent = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
                parent[int(p.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = set(), [pid]
    while todo:
        cur = todo.pop()
        for c, pp in parent.items():
            if pp == cur and c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_sweep(results, *args):
    env = {**os.environ, "REPRO_RESULTS": str(results), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "repro.cli", "sweep", QUICK, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_workers(proc, n=2, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        kids = {c for c in children(proc.pid) if alive(c)}
        if len(kids) >= n:
            time.sleep(2)  # let them import and start training
            return {c for c in children(proc.pid) if alive(c)}
        time.sleep(0.2)
    raise AssertionError("the sweep started no workers")


def gone_within(pids, seconds):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("executor", ["local", "dask"])
@pytest.mark.parametrize("to", ["driver", "group"])  # a terminal's Ctrl-C reaches the whole process group
def test_ctrl_c_stops_a_sweep_promptly_and_quietly(tmp_path, executor, to):
    # Enough seeds that the Ctrl-C lands mid-training on a fast machine too (10 seeds took 4 s on CI).
    proc = start_sweep(tmp_path, "--seeds", "0-39", "--jobs", "2", "--executor", executor)
    kids = wait_for_workers(proc)
    first = proc.stderr.readline()  # the first progress line: the workers are training
    assert "seeds trained" in first, first
    t0 = time.time()
    if to == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("Ctrl-C did not stop the sweep within 30 s") from None
    assert not list(tmp_path.rglob("summary.json")), "the sweep finished before the Ctrl-C: it tests nothing"
    assert proc.returncode == 130, err[-2000:]
    assert time.time() - t0 < 15
    assert "Traceback" not in err and "interrupted" in err, err[-2000:]
    # ... and nothing after it (once, the resource tracker reported leaked semaphores here)
    assert err.rstrip().splitlines()[-1].startswith("interrupted:"), err[-2000:]
    assert gone_within(kids, 10), "workers outlived the interrupted sweep"
    assert not list(tmp_path.rglob("*.tmp"))


def test_ctrl_c_just_after_training_still_exits_130(tmp_path):
    """The driver then stores the last chunk, closes the progress queue and imports scipy to score:
    a Ctrl-C recorded there was once lost (exit 0), and one inside scipy's import exec() made
    CPython die of SIGINT (-2) after printing "interrupted"."""
    proc = start_sweep(tmp_path, "--seeds", "0-3", "--jobs", "2")
    line = ""
    # all four trained and cached: "4/4 seeds trained", not a fraction in flight such as "1.4/4"
    while not re.search(r"(?<![\d.])4/4 seeds trained", line):
        line = proc.stderr.readline()
        assert line, "the sweep ended without reporting 4/4"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and "interrupted" in err, err[-2000:]
    assert len(list(tmp_path.rglob("training.json"))) == 4  # what finished is cached


def test_a_ctrl_c_inside_an_exec_of_a_string_still_exits_130(tmp_path):
    """CPython marks a KeyboardInterrupt that left an exec() of a string as unhandled and, when
    run with -m (as `python -m repro.cli`), dies of SIGINT (-2) at exit even after the CLI caught
    it; scipy's import runs such an exec. (A script entry point such as `repro` exits first.)"""
    (tmp_path / "boom.py").write_text("from repro.cli import main\n"
                                      "@main.command('boom')\n"
                                      "def boom():\n"
                                      "    exec('raise KeyboardInterrupt')\n"
                                      "if __name__ == '__main__':\n"
                                      "    main(['boom'])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run([sys.executable, "-m", "boom"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 130, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr and out.stderr.rstrip().splitlines()[-1].startswith("interrupted:")


def test_a_killed_driver_leaves_no_workers(tmp_path):
    proc = start_sweep(tmp_path, "--seeds", "0-9", "--jobs", "2")
    kids = wait_for_workers(proc)
    proc.kill()
    proc.wait()
    assert gone_within(kids, 10), "workers of a killed sweep kept running"
    # ... and nothing on the terminal afterwards: multiprocessing's resource tracker, which
    # outlives the driver and cleans up its semaphores, used to warn about them there.
    _, err = proc.communicate(timeout=30)  # the pipe closes when the last holder (the tracker) exits
    assert "leaked" not in err and "Traceback" not in err, err[-2000:]


def summary_of(results):
    [path] = list(Path(results).glob("quick/sweep-*/summary.json"))
    s = json.loads(path.read_text())
    runs = [{k: v for k, v in r.items() if k != "runtime_s"} for r in s["runs"]]
    return runs, s["selected_seed"], s["pareto_seeds"], {k: v for k, v in s["stats"].items() if k != "runtime_s"}


def test_a_sweep_killed_midway_resumes_to_the_same_summary(tmp_path):
    whole = subprocess.run([sys.executable, "-m", "repro.cli", "sweep", QUICK, "--seeds", "0-7", "--jobs", "2"],
                           cwd=ROOT, env={**os.environ, "REPRO_RESULTS": str(tmp_path / "a")}, capture_output=True,
                           text=True)
    assert whole.returncode == 0, whole.stderr[-2000:]
    # Kill a second sweep as soon as its first chunk of seeds is cached.
    # Chunks of 2 trained one after another: the kill lands between chunks on any machine.
    proc = start_sweep(tmp_path / "b", "--seeds", "0-7", "--executor", "inline", "--chunk", "2")
    t0 = time.time()
    while len(list((tmp_path / "b").rglob("training.json"))) < 1 and time.time() - t0 < 120:
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    cached = len(list((tmp_path / "b").rglob("training.json")))
    assert 0 < cached < 8, cached  # seeds are stored one by one: the kill may land inside a chunk
    again = subprocess.run([sys.executable, "-m", "repro.cli", "sweep", QUICK, "--seeds", "0-7", "--jobs", "2"],
                           cwd=ROOT, env={**os.environ, "REPRO_RESULTS": str(tmp_path / "b")}, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{8 - cached} seeds trained, {cached} reused" in again.stdout
    assert summary_of(tmp_path / "b") == summary_of(tmp_path / "a")


def test_progress_is_reported_within_seconds(tmp_path):
    proc = start_sweep(tmp_path, "--seeds", "0-29", "--jobs", "2")
    lines, t0 = [], time.time()
    try:
        while len(lines) < 3 and time.time() - t0 < 60:
            line = proc.stderr.readline()
            if line:
                lines.append((time.time() - t0, line))
    finally:
        proc.kill()
        proc.wait()
    assert len(lines) >= 3, lines
    gaps = [b[0] - a[0] for a, b in zip(lines, lines[1:])]
    assert max(gaps) < 10, lines  # the first lines come while the first chunk is still training
    assert "seeds trained" in lines[-1][1]


def test_a_diverging_seed_is_listed_and_the_others_are_kept(tmp_path):
    spec = str(SPECS / "diverge-some.toml")
    env = {**os.environ, "REPRO_RESULTS": str(tmp_path)}

    def repro(*args):
        return subprocess.run([sys.executable, "-m", "repro.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True)

    out = repro("sweep", spec, "--seeds", "0-3", "--executor", "inline")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1 seed(s) diverged" in out.stderr
    [summary] = tmp_path.glob("diverge-some/sweep-*/summary.json")
    s = json.loads(summary.read_text())
    assert s["diverged_seeds"] == [0] and s["selected_seed"] != 0
    assert next(r for r in s["runs"] if r["seed"] == 0)["diverged_at"] == 1
    again = repro("sweep", spec, "--seeds", "0-3", "--executor", "inline")
    assert "0 seeds trained, 4 reused" in again.stdout  # the divergence is cached too: no retraining loop
    run = repro("run", spec, "--seed", "0")
    assert run.returncode == 2 and "diverged" in run.stderr and "Traceback" not in run.stderr
