"""A strategy of our own, written against the interface alone (docs/architecture.md):
every CPU runs to completion in turn, one execution per rotation of the CPU order."""

from __future__ import annotations

from typing import Any

from uvmsim.check.strategies import STRATEGIES
from uvmsim.check.strategy import Options, Strategy, explore
from uvmsim.check.target import ProgramTarget
from uvmsim.machine import Analyses, Engine

from .programs import PROGRAMS, final


class _RotationEngine(Engine):
    """Run the lowest runnable CPU at or after `first` (cyclically) until it cannot."""

    def __init__(self, first: int):
        self.first = first

    def choose(self, machine: Any, current: Any) -> Any:
        if current is not None and current.runnable:
            return current
        n = len(machine.cpus)
        for k in range(n):
            cpu = machine.cpus[(self.first + k) % n]
            if cpu.runnable:
                return cpu
        return None


class Rotations(Strategy):
    name = "rotations"
    summary = "each CPU to completion in turn"

    @classmethod
    def from_options(cls, o: Options) -> Rotations:
        return cls()

    def begin(self, target: Any, coverage: Any) -> None:
        super().begin(target, coverage)
        self.first = 0

    def next_engine(self) -> Engine:
        return _RotationEngine(self.first)

    def observe(self, execution: Any) -> None:
        self.first += 1
        self.done = self.first == self.target.cpus


def test_a_new_strategy_runs_in_the_exploration_loop(monkeypatch):
    monkeypatch.setitem(STRATEGIES, "rotations", Rotations)
    target = ProgramTarget(PROGRAMS["locked-counter"], analyses=Analyses(races=False))
    seen = []
    run = target.execute

    def execute(engine, **k):
        r = run(engine, **k)
        seen.append(final(target.world))
        return r

    target.execute = execute
    res = explore(target, STRATEGIES["rotations"].from_options(Options()), keep_going=True)
    assert res.strategy == "rotations"
    assert res.coverage.executions == target.cpus == 3
    assert res.coverage.complete  # done, and the strategy is exhaustive by default
    assert res.failure is None
    assert len(seen) == 3


def test_the_command_line_finds_a_registered_strategy(monkeypatch):
    from click.testing import CliRunner

    from uvmsim.cli import main

    monkeypatch.setitem(STRATEGIES, "rotations", Rotations)
    r = CliRunner().invoke(
        main, ["check", "-p", "seed-fixed", "-s", "wired-counter", "--strategy", "rotations"]
    )
    assert r.exit_code == 0, r.output
    assert "coverage (rotations): 3 executions" in r.output
