"""Progress of `simulate` and `scale`: reported as the run goes, never changing a result."""

import json

import pytest
from click.testing import CliRunner

import uvmsim.cli.simulate as cli_simulate
from uvmsim.cli import main
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.simulate import simulate


@pytest.mark.parametrize("bound", [{"ops": 2000}, {"cycles": 20_000_000.0}], ids=["ops", "cycles"])
def test_progress_rises_to_one_and_changes_nothing(bound):
    seen: list[tuple[int, float | None]] = []
    quiet = simulate("build", PROTOCOLS["seed"], 4, seed=3, **bound)
    loud = simulate(
        "build", PROTOCOLS["seed"], 4, seed=3, progress=lambda n, f: seen.append((n, f)), **bound
    )
    assert loud.to_json() == quiet.to_json()
    fractions = [f for _n, f in seen]
    assert len(seen) > 10  # reported as the run goes, not only at the end
    assert all(f is not None and 0 <= f <= 1 for f in fractions)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [n for n, _f in seen] == sorted(n for n, _f in seen)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_terminal_gets_a_progress_bar_on_stderr(monkeypatch):
    monkeypatch.setattr(cli_simulate, "_stderr_is_tty", lambda: True)
    r = invoke("scale", "-p", "openbsd-pre,seed", "-w", "spinlock", "-n", "2,4", "--ops", 3000)
    assert r.exit_code == 0, r.output
    assert "seed, 4 CPUs" in r.stderr  # the bar names the run it is on
    assert "scaling" in r.stdout and "seed, 4 CPUs" not in r.stdout
    r = invoke("simulate", "-p", "seed", "-w", "spinlock", "-n", 2, "--ops", 3000)
    assert r.exit_code == 0 and "spinlock on seed, 2 CPUs" in r.stderr


def test_json_or_a_pipe_get_no_progress(monkeypatch):
    monkeypatch.setattr(cli_simulate, "_stderr_is_tty", lambda: True)
    r = invoke("simulate", "-p", "seed", "-w", "spinlock", "-n", 2, "--ops", 3000, "--json")
    assert r.exit_code == 0 and r.stderr == ""
    json.loads(r.stdout)
    monkeypatch.setattr(cli_simulate, "_stderr_is_tty", lambda: False)
    r = invoke("simulate", "-p", "seed", "-w", "spinlock", "-n", 2, "--ops", 3000)
    assert r.exit_code == 0 and r.stderr == ""
