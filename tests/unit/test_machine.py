"""Settings for torch processes that share the machine (repro.machine)."""

from repro import machine


def test_processes_that_outnumber_the_cores_wait_passively(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(machine, "cores", lambda: 2 * machine.THREADS)
    assert machine.side_by_side_env(1) == {}
    assert machine.side_by_side_env(2) == {}  # exactly enough cores: spinning costs nothing
    assert machine.side_by_side_env(3) == {"OMP_WAIT_POLICY": "PASSIVE"}
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice is kept
    assert machine.side_by_side_env(3) == {}
