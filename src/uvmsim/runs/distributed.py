"""Exhaustive DPOR over processes or a Dask cluster: subtrees as tasks, re-split every wave.

The exploration tree is partitioned by schedule prefixes (check/strategies/split.py, after
Simsa, Bryant and Gibson, RV 2012).  The coordinator here runs in waves: it takes branches
(subtrees) from its `Frontier`, deals them out as one task per worker (`Slice`), and each
worker explores its branches with the sequential strategy for a time slice, then hands back
what it did not finish: the states of its unfinished subtree (now shared), the branches it
did not start, and what its races ask of the shared states above its roots.  The coordinator
merges the hand-backs (which is where work is stolen: every unexplored alternative of a
shared state is a branch any worker may get), and deals again, until nothing is left.

The union explored is a sequential exploration in another order: the trace count and the
failures found are the sequential ones (tests/check/test_distributed.py checks it through a
Dask `LocalCluster`).  What depends on timing: the executions that end sleep-set blocked,
hence the execution count, and, when a run stops at its first failure, which of several
failures is reported.

A worker process runs one slice at a time (a Dask worker with several threads too): the
machine and the model keep per-process state.  Time slices start short, so that the first
waves spread the tree quickly, and double up to `MAX_SLICE` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.result import CheckResult, Coverage, FailureTally
from uvmsim.check.strategies.dpor import DporSearch
from uvmsim.check.strategies.split import Branch, Frontier, Handback
from uvmsim.check.strategy import Options, explore
from uvmsim.check.target import Target
from uvmsim.machine import Failure
from uvmsim.machine.failure import InputError
from uvmsim.runs.executors import DaskCluster, LocalPool
from uvmsim.runs.names import get_strategy

MIN_SLICE = 0.1
"""Seconds of the first wave's slices."""
MAX_SLICE = 2.0
"""Longest slice: each wave's is twice the previous one's, up to this."""
BRANCHES_PER_TASK = 64
"""Most branches dealt to one task in one wave (what it does not start comes back)."""


@dataclass(frozen=True)
class TargetMaker:
    """A picklable recipe for a target: `function(*args)`, `function` module-level (a worker
    imports it).  Equal recipes give equal targets, so a worker builds each once."""

    function: Callable[..., Target]
    args: tuple = ()

    def __call__(self) -> Target:
        return self.function(*self.args)


@dataclass(frozen=True, eq=False)
class Slice:
    """One task: explore `branches` for at most `seconds` (and `max_executions`); a task is
    itself (hashed by identity), as executors key results by task."""

    target: TargetMaker
    strategy: str
    options: Options
    branches: tuple[Branch, ...]
    seconds: float | None
    max_executions: int | None
    keep_going: bool
    key: str

    def label(self) -> str:
        return f"{self.strategy} slice {self.key} ({len(self.branches)} subtrees)"


@dataclass
class SliceResult:
    coverage: Coverage
    tally: FailureTally
    first: tuple[Failure, tuple[int, ...]] | None
    handback: Handback


_RUN_LOCK = threading.Lock()
_TARGETS: dict[TargetMaker, Target] = {}


def split_strategy(name: str, options: Options, branches: Any = None) -> DporSearch:
    """The strategy `name` for a split exploration; only the DPOR strategies split."""
    cls = get_strategy(name)
    if not issubclass(cls, DporSearch):
        raise InputError(
            f"strategy {name!r} does not split into subtrees; --jobs and --cluster explore "
            "exhaustively with dpor or odpor (random and pct split by executions)"
        )
    return cls(preemptions=options.preemptions, depth=options.depth, branches=branches)


def run_slice(task: Slice) -> SliceResult:
    """Explore a slice's branches (in whatever process the executor chose)."""
    with _RUN_LOCK:
        target = _TARGETS.get(task.target)
        if target is None:
            target = _TARGETS[task.target] = task.target()
        strategy = split_strategy(task.strategy, task.options, task.branches)
        res = explore(
            target,
            strategy,
            max_executions=task.max_executions,
            time_limit=task.seconds,
            keep_going=task.keep_going,
        )
        first = (res.failure, res.schedule) if res.failure is not None else None
        return SliceResult(res.coverage, res.tally, first, strategy.handback())


@dataclass
class _Run:
    """The coordinator's tallies."""

    coverage: Coverage = field(default_factory=Coverage)
    tally: FailureTally = field(default_factory=FailureTally)
    first: tuple[Failure, tuple[int, ...]] | None = None
    waves: int = 0
    tasks: int = 0

    def merge(self, r: SliceResult) -> None:
        c, m = self.coverage, r.coverage
        c.executions += m.executions
        c.traces += m.traces
        c.redundant += m.redundant
        c.pruned += m.pruned
        c.deepest = max(c.deepest, m.deepest)
        for sig, entry in r.tally.counts.items():
            if sig in self.tally.counts:
                self.tally.counts[sig]["count"] += entry["count"]
            else:
                self.tally.counts[sig] = dict(entry)
                self.tally.examples[sig] = r.tally.examples[sig]
        if self.first is None and r.first is not None:
            self.first = r.first


def workers_of(executor: Any) -> int:
    """How many slices the executor runs at once."""
    if isinstance(executor, LocalPool):
        return executor.jobs
    if isinstance(executor, DaskCluster):
        return max(1, executor._live_workers())
    return 1


def deal(branches: list[Branch], n: int) -> list[list[Branch]]:
    """Branches dealt round-robin to at most `n` tasks (so each gets large and small ones)."""
    hands: list[list[Branch]] = [[] for _ in range(min(n, len(branches)))]
    for k, b in enumerate(branches):
        hands[k % len(hands)].append(b)
    return hands


def explore_split(
    target: TargetMaker,
    strategy: str,
    options: Options,
    executor: Any,
    *,
    workers: int | None = None,
    max_executions: int | None = None,
    time_limit: float | None = None,
    keep_going: bool = False,
    progress: Callable[[Coverage], None] | None = None,
    slice_seconds: tuple[float, float] = (MIN_SLICE, MAX_SLICE),
    slice_executions: int | None = None,
) -> CheckResult:
    """Explore `target` with DPOR `strategy` split over `executor`'s workers (see the module
    docstring); the result as `check.strategy.explore` gives it.

    `slice_executions` caps each slice's executions (tests use it to split small programs
    into many subtrees deterministically, with `InProcess`).
    """
    t0 = time.monotonic()
    coordinator = split_strategy(strategy, options)
    frontier = Frontier(coordinator)
    n = workers if workers is not None else workers_of(executor)
    run = _Run()
    cov = run.coverage
    seconds, longest = slice_seconds
    stopped = False
    while frontier:
        branches = frontier.take(n * BRANCHES_PER_TASK)
        hands = deal(branches, n)
        left = None if max_executions is None else max_executions - cov.executions
        cap = None if left is None else max(1, -(-left // len(hands)))
        if slice_executions is not None:
            cap = slice_executions if cap is None else min(cap, slice_executions)
        tasks = [
            Slice(
                target,
                strategy,
                options,
                tuple(hand),
                seconds,
                cap,
                keep_going,
                f"{run.waves}-{k}",
            )
            for k, hand in enumerate(hands)
        ]
        results = dict(executor.run(tasks, run_slice))
        for task in tasks:  # merged in task order, whatever order they finished in
            r = results[task]
            run.merge(r)
            frontier.add(r.handback)
        run.waves += 1
        run.tasks += len(tasks)
        if progress is not None:
            progress(cov)
        if run.first is not None and not keep_going:
            stopped = True
            break
        if cov.out_of_budget(max_executions, time_limit, t0):
            stopped = True
            break
        seconds = min(longest, seconds * 2)
    cov.pruned += frontier.counts["pruned"]
    divergences = frontier.counts["divergences"]
    cov.complete = not stopped and not frontier and divergences == 0
    cov.elapsed = time.monotonic() - t0
    failure, schedule = run.first if run.first is not None else (None, ())
    local = target()
    res = CheckResult(
        strategy,
        local.describe(),
        cov,
        failure,
        schedule,
        bound=coordinator.bound(),
        tally=run.tally,
    )
    if divergences:
        res.notes.append(
            f"{strategy}: {divergences} branches abandoned because the model did not replay "
            "them as recorded; the exploration may have missed traces"
        )
    res.notes.append(
        f"explored in {run.tasks} subtree slices over {n} "
        f"{'worker' if n == 1 else 'workers'} ({run.waves} waves)"
    )
    return res
