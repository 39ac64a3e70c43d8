"""Preemption-bounded depth-first search (Musuvathi & Qadeer, PLDI 2007); plain DFS unbounded.

Every interleaving is a sequence of CPU choices.  A choice *preempts* when it switches away
from the CPU of the previous step while that CPU could have continued.  With bound K the
search explores every schedule with at most K preemptions, in depth-first order; without a
bound it explores every schedule.  Most concurrency bugs need very few preemptions (CHESS
found most with two), which makes the bounded search a good complement to DPOR's
equivalence-based reduction.

Optional visited-state pruning: when the target supplies `state_digest(machine)` (the shared
state *and* every CPU's local progress), an execution that reaches a state already explored
from another path stops there (sound for unbounded DFS: that state's subtree was explored
before the search backtracked above it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.result import CheckResult, Coverage
from uvmsim.check.target import Target
from uvmsim.machine import Engine
from uvmsim.machine.engines import StopExecution


@dataclass
class _Node:
    enabled: tuple[int, ...]
    chosen: int
    preemptions: int  # before this step
    untried: list[int] = field(default_factory=list)


class _DfsEngine(Engine):
    def __init__(self, search: BoundedDfs, replay_len: int):
        self.s = search
        self.replay_len = replay_len

    def choose(self, machine: Any, current: Any) -> Any:
        s = self.s
        step = machine.steps
        nodes = s.nodes
        if step < self.replay_len:
            return machine.cpus[nodes[step].chosen]
        enabled = tuple(c.index for c in machine.cpus if c.runnable)
        if not enabled:
            return None
        if s.digest is not None and step > 0:
            d = s.digest(machine)
            if d in s.visited:
                raise StopExecution
            s.visited.add(d)
        prev = nodes[step - 1].chosen if step else -1
        pre = nodes[step - 1].preemptions + _cost(nodes, step - 1) if step else 0
        choice = prev if prev in enabled else enabled[0]
        others = [c for c in enabled if c != choice]
        nodes.append(_Node(enabled, choice, pre, others))
        return machine.cpus[choice]


def _cost(nodes: list[_Node], k: int) -> int:
    """1 if the choice at step k preempted the CPU of step k-1."""
    if k == 0:
        return 0
    prev = nodes[k - 1].chosen
    return int(nodes[k].chosen != prev and prev in nodes[k].enabled)


class BoundedDfs:
    """Depth-first search over schedules with at most `preemption_bound` preemptions."""

    def __init__(
        self,
        target: Target,
        *,
        preemption_bound: int | None = 2,
        max_executions: int | None = None,
        time_limit: float | None = None,
        depth: int | None = None,
        state_digest: Any = None,
        stop_on_failure: bool = True,
        failure_filter: Any = None,
    ):
        self.target = target
        self.bound = preemption_bound
        self.max_executions = max_executions
        self.time_limit = time_limit
        self.depth = depth
        self.digest = state_digest
        self.stop_on_failure = stop_on_failure
        self.failure_filter = failure_filter
        self.visited: set = set()
        self.nodes: list[_Node] = []
        self.coverage = Coverage()
        self.progress: Any = None  # called with the coverage every 50 executions
        self.failures: list[tuple[Any, tuple[int, ...]]] = []

    def run(self) -> CheckResult:
        t0 = time.monotonic()
        cov = self.coverage
        failure, schedule = None, ()
        replay_len = 0
        while True:
            result = self.target.execute(_DfsEngine(self, replay_len))
            cov.add_execution(len(result.schedule), result.stopped)
            if self.progress is not None and cov.executions % 50 == 0:
                self.progress(cov)
            f = result.failure
            if f is not None and (self.failure_filter is None or self.failure_filter(f)):
                self.failures.append((f, result.schedule))
                if failure is None:
                    failure, schedule = f, result.schedule
                if self.stop_on_failure:
                    break
            nxt = self._next_branch()
            if nxt is None:
                cov.complete = True
                break
            replay_len = nxt
            if cov.out_of_budget(self.max_executions, self.time_limit, t0):
                break
        cov.elapsed = time.monotonic() - t0
        name = "dfs" if self.bound is None else "bounded"
        return CheckResult(
            name,
            self.target.describe(),
            cov,
            failure,
            schedule,
            bound={"preemptions": self.bound, "depth": self.depth},
        )

    def _next_branch(self) -> int | None:
        nodes = self.nodes
        for k in range(len(nodes) - 1, -1, -1):
            nd = nodes[k]
            if self.depth is not None and k >= self.depth:
                self.coverage.pruned += len(nd.untried)
                nd.untried.clear()
                continue
            while nd.untried:
                p = nd.untried.pop(0)
                prev = nodes[k - 1].chosen if k else -1
                cost = int(k > 0 and p != prev and prev in nd.enabled)
                if self.bound is not None and nd.preemptions + cost > self.bound:
                    self.coverage.pruned += 1
                    continue
                nd.chosen = p
                del nodes[k + 1 :]
                return k + 1
        return None
