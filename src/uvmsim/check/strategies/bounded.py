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

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.result import Coverage
from uvmsim.check.strategies.prefix import PrefixSearch
from uvmsim.check.strategy import Options
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
    def __init__(self, search: Bounded, replay_len: int):
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


class Bounded(PrefixSearch):
    """Depth-first search over schedules with at most `preemptions` preemptions (default 2).

    `depth`: explore alternatives only in the first `depth` steps; `state_digest(machine)`:
    visited-state pruning (see the module docstring).
    """

    name = "bounded"
    summary = "preemption-bounded DFS (default bound 2)"
    default_preemptions: int | None = 2

    def __init__(
        self,
        *,
        preemptions: int | None = None,
        depth: int | None = None,
        state_digest: Callable[[Any], Hashable] | None = None,
    ):
        super().__init__(depth=depth)
        self.bound_ = self.default_preemptions if preemptions is None else preemptions
        self.digest = state_digest
        self.visited: set = set()
        self.nodes: list[_Node] = []

    @classmethod
    def from_options(cls, o: Options) -> Bounded:
        return cls(preemptions=o.preemptions, depth=o.depth)

    def begin(self, target: Target, coverage: Coverage) -> None:
        super().begin(target, coverage)
        self.visited = set()

    def engine(self, replay_len: int) -> Engine:
        return _DfsEngine(self, replay_len)

    def bound(self) -> dict[str, Any]:
        return {"preemptions": self.bound_, "depth": self.depth}

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
                if self.bound_ is not None and nd.preemptions + cost > self.bound_:
                    self.coverage.pruned += 1
                    continue
                nd.chosen = p
                del nodes[k + 1 :]
                return k + 1
        return None
