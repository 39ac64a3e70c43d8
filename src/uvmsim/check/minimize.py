"""Shrink a counterexample: fewest preemptions first, then fewest steps.

A preemption-bounded DFS with bound 0, 1, 2, ... (each within a budget of executions) looks for
an execution that fails with the same signature; the first bound that finds one is minimal
(the search is exhaustive within it when the budget suffices), and among the failing
executions found within that budget the shortest wins.  If nothing smaller is found, the
original counterexample stands.  The result always replays to the same failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from uvmsim.check.strategies.bounded import Bounded
from uvmsim.check.strategy import explore
from uvmsim.check.target import Target
from uvmsim.check.token import failure_signature
from uvmsim.machine import Engine, Failure, ReplayEngine


@dataclass
class Minimized:
    failure: Failure
    schedule: tuple[int, ...]
    preemptions: int
    original_steps: int
    original_preemptions: int
    executions: int


class _Recorder(Engine):
    """Replays a schedule and records which CPUs were enabled at each step."""

    def __init__(self, schedule: tuple[int, ...]):
        self.replay = ReplayEngine(schedule)
        self.enabled: list[tuple[int, ...]] = []

    def choose(self, machine, current):
        self.enabled.append(tuple(c.index for c in machine.cpus if c.runnable))
        return self.replay.choose(machine, current)


def count_preemptions(target: Target, schedule: tuple[int, ...]) -> int:
    """Preemptions in `schedule`: switches away from a CPU that could have continued."""
    rec = _Recorder(schedule)
    target.execute(rec)
    return sum(
        1
        for k in range(1, len(schedule))
        if schedule[k] != schedule[k - 1] and schedule[k - 1] in rec.enabled[k]
    )


def minimize(
    target: Target, failure: Failure, schedule: tuple[int, ...], budget: int = 2000
) -> Minimized:
    sig = failure_signature(failure)
    original = count_preemptions(target, schedule)
    spent = 0
    for bound in range(0, original + 1):
        found: list[tuple[Failure, tuple[int, ...]]] = []
        res = explore(
            target,
            Bounded(preemptions=bound),
            max_executions=budget,
            keep_going=True,
            accept=lambda f: failure_signature(f) == sig,
            on_failure=lambda f, s, found=found: found.append((f, s)),
        )
        spent += res.coverage.executions
        if found:
            best_f, best_s = min(found, key=lambda fs: len(fs[1]))
            if bound < original or len(best_s) < len(schedule):
                return Minimized(best_f, best_s, bound, len(schedule), original, spent)
            break
    return Minimized(failure, schedule, original, len(schedule), original, spent)
