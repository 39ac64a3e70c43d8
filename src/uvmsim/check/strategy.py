"""The strategy interface and the one exploration loop every strategy runs in.

A strategy is a small oracle, in the spirit of Shuttle's `Scheduler` (DESIGN.md §9): it says
which engine drives the next execution (`next_engine`), learns from each finished execution
(`observe`), and knows when it has nothing left to try (`done`).  Everything else an
exploration needs — counting executions, the execution and time budget, progress reports, the
tally of distinct failures, stopping at the first failure or going on — is `explore`'s, the
same for every strategy.  Adding a strategy is one new file in `check/strategies/` and one
line in its registry (docs/architecture.md shows an example).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from uvmsim.check.result import CheckResult, Coverage, FailureTally
from uvmsim.check.target import Target
from uvmsim.machine import Engine, Execution, Failure

PROGRESS_EVERY = 50  # executions between two progress reports


@dataclass(frozen=True)
class Options:
    """Every strategy option the command line and sweep specs know; each strategy's
    `from_options` takes the ones it uses.

    `preemptions`, `depth`: bounds of the exhaustive strategies (None: their default);
    `pct_depth`: PCT's bug depth d; `seed`, `start`, `stop`: the sampled strategies run
    executions start .. stop-1, execution i seeded with seed + i.
    """

    preemptions: int | None = None
    depth: int | None = None
    pct_depth: int = 2
    seed: int = 0
    start: int = 0
    stop: int = 1000


class Strategy(ABC):
    """One exploration of a target's interleavings (see the module docstring).

    `exhaustive`: when `done`, every alternative within the strategy's bounds was explored
    (the coverage is then "complete"); sampling strategies are never exhaustive.
    `sampled`: executions are independent and numbered, execution i seeded by `seed + i`, so a
    run can be split by index ranges over processes and merged (`runs/` does it for `-j`).
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""  # one line for --help
    exhaustive: ClassVar[bool] = True
    sampled: ClassVar[bool] = False

    def __init__(self) -> None:
        self.target: Target | None = None
        self.coverage = Coverage()
        self.done = False

    @classmethod
    @abstractmethod
    def from_options(cls, o: Options) -> Strategy:
        """The strategy configured from the options it uses."""

    def begin(self, target: Target, coverage: Coverage) -> None:
        """The exploration of `target` starts; `coverage` is the loop's (strategies add their
        own counts to it, e.g. alternatives pruned by a bound)."""
        self.target = target
        self.coverage = coverage

    @abstractmethod
    def next_engine(self) -> Engine:
        """The engine for the next execution (called only while not `done`)."""

    def observe(self, execution: Execution) -> None:
        """The execution the last engine drove has finished (failed or not); set `done` when
        nothing is left to explore."""
        return

    def label(self) -> int | None:
        """The seed of the execution just run, for sampled strategies (tallies name it)."""
        return None

    def bound(self) -> dict[str, Any]:
        """The strategy's bounds, as reported in results and JSON."""
        return {}

    def notes(self, result: CheckResult) -> list[str]:
        """What the result means under this strategy (a guarantee, where the bug was found)."""
        return []


def explore(
    target: Target,
    strategy: Strategy,
    *,
    max_executions: int | None = None,
    time_limit: float | None = None,
    keep_going: bool = False,
    accept: Callable[[Failure], bool] | None = None,
    on_failure: Callable[[Failure, tuple[int, ...]], None] | None = None,
    progress: Callable[[Coverage], None] | None = None,
) -> CheckResult:
    """Run `strategy` on `target` until it is done, the budget is spent, or (unless
    `keep_going`) the first failure.

    Only failures `accept` admits count (all, by default); each counted one goes to the
    result's tally (first example per signature) and to `on_failure`.  `failure` and
    `schedule` of the result are the first counted failure's.
    """
    t0 = time.monotonic()
    cov = Coverage()
    tally = FailureTally()
    failure: Failure | None = None
    schedule: tuple[int, ...] = ()
    strategy.begin(target, cov)
    while not strategy.done:
        result = target.execute(strategy.next_engine())
        cov.add_execution(len(result.schedule), result.stopped)
        f = result.failure
        counted = f is not None and (accept is None or accept(f))
        if counted:
            tally.add(f, result.schedule, strategy.label())
            if on_failure is not None:
                on_failure(f, result.schedule)
        if progress is not None and cov.executions % PROGRESS_EVERY == 0:
            progress(cov)
        if counted and failure is None:
            failure, schedule = f, result.schedule
        strategy.observe(result)
        if counted and not keep_going:
            break
        if strategy.done:
            cov.complete = strategy.exhaustive
            break
        if cov.out_of_budget(max_executions, time_limit, t0):
            break
    cov.elapsed = time.monotonic() - t0
    res = CheckResult(
        strategy.name,
        target.describe(),
        cov,
        failure,
        schedule,
        bound=strategy.bound(),
        tally=tally,
    )
    res.notes.extend(strategy.notes(res))
    return res
