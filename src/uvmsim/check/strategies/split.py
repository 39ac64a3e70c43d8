"""Exhaustive DPOR split into subtrees: what workers explore and hand back, and the states
they share (Simsa, Bryant, Gibson, "Scalable dynamic partial order reduction", RV 2012).

The exploration tree of a DPOR search is partitioned by schedule prefixes.  A `Branch` is one
subtree: the states reached by its `prefix` and everything below, explored from a root state
whose sleep set (and, for optimal DPOR, wakeup subtree) the branch carries.  A worker explores
the subtrees of its branches with the ordinary sequential search (`Dpor`/`Odpor` given
`branches`), and when its time slice ends hands back what it did not finish (`Handback`):

- the states of the subtree it was in, from the root down to the deepest one with an
  unexplored alternative, which become *shared* (`SharedNode`): their alternatives are now
  handed out as branches of their own, to any worker;
- the branches it had not started;
- what races found in its subtrees ask of the states *above* its roots (`requests`): a DPOR
  race between an event above the root and one below it adds an alternative (source-DPOR: an
  initial; optimal DPOR: a wakeup sequence) to a state the worker does not own.

The coordinator (`Frontier`) keeps the shared states, applies the requests to them exactly as
the sequential search would have, and hands out their unexplored alternatives.  Every
alternative a shared state ever gets is explored once, each with the sleep set of every
alternative claimed at that state before it, so the union explored is a valid sequential
exploration in another order: every Mazurkiewicz trace is explored, each complete execution
is a different trace, and the trace count and the failures found are the sequential ones.
Only the order, hence the executions that end sleep-set blocked, may differ (with optimal
DPOR: a wakeup sequence that the sequential search would have put under an alternative
already handed out starts no new branch; the alternative's own exploration covers it, perhaps
through blocked executions).

The strategy-specific parts (how a request changes a shared state, which alternative comes
next) are the strategy's `shared_request` and `shared_next`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Protocol

from uvmsim.check.ops import Key

Path = tuple[int, ...]


@dataclass(frozen=True)
class Branch:
    """A subtree: the states reached by `prefix` (a schedule from the initial state) and below.

    `sleep`: the root state's sleep set (CPU, the operation it sleeps on); `guide`: for
    optimal DPOR, the wakeup subtree to follow from the root (a tuple of `WakeupNode`).
    """

    prefix: Path
    sleep: tuple[tuple[int, Key], ...] = ()
    guide: tuple = ()


@dataclass
class SharedNode:
    """A state above the roots of branches being explored, kept by the coordinator.

    `sleep`: the CPUs a new alternative here sleeps on unless its operation depends on
    theirs (the state's own sleep set and, for optimal DPOR, the alternatives explored before
    it was shared); `claimed`: the alternatives explored or handed out, in order; `todo`
    (source-DPOR's backtrack set minus `claimed`) or `wut` (optimal DPOR's wakeup tree
    without the alternatives claimed): what is left.  `prev` is the CPU of the step before
    (-1 at the initial state), for counting preemptions.
    """

    path: Path
    enabled: tuple[int, ...]
    ops: dict[int, Key]
    sleep: dict[int, Key]
    claimed: list[int] = field(default_factory=list)
    todo: set[int] = field(default_factory=set)
    wut: list = field(default_factory=list)
    preemptions: int = 0
    foreign: frozenset[int] = frozenset()

    @property
    def prev(self) -> int:
        return self.path[-1] if self.path else -1

    def sleep_for(self, cpu: int, dependent: Any) -> tuple[tuple[int, Key], ...]:
        """The sleep set of a new alternative `cpu` here: every CPU asleep here or claimed
        before it whose operation does not depend on `cpu`'s."""
        op = self.ops[cpu]
        asleep = dict(self.sleep)
        for c in self.claimed:
            asleep.setdefault(c, self.ops[c])
        return tuple((q, k) for q, k in sorted(asleep.items()) if q != cpu and not dependent(k, op))


@dataclass
class Handback:
    """What a worker's time slice leaves: states now shared, branches not started, requests
    for shared states (path of the state, strategy-specific payload), and counts."""

    nodes: list[SharedNode] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    requests: list[tuple[Path, Any]] = field(default_factory=list)
    divergences: int = 0


class SplitStrategy(Protocol):
    """What the coordinator asks of a strategy about shared states."""

    def shared_request(self, node: SharedNode, payload: Any) -> None: ...

    def shared_next(self, node: SharedNode, counts: dict[str, int]) -> Branch | None: ...


class Frontier:
    """The coordinator's shared states and the branches ready to hand out.

    Branches are handed out shallowest first (the largest subtrees, as work stealing takes
    the oldest work).  `counts` accumulates what handing out prunes or abandons
    (`pruned`, `divergences`).
    """

    def __init__(self, strategy: SplitStrategy, first: Branch | None = None):
        self.strategy = strategy
        self.nodes: dict[Path, SharedNode] = {}
        self.ready: list[Branch] = [first if first is not None else Branch(())]
        self._open: list[tuple[int, Path]] = []  # heap of shared states that may have work
        self._queued: set[Path] = set()
        self.counts: dict[str, int] = {"pruned": 0, "divergences": 0}

    def __bool__(self) -> bool:
        """Whether anything is left to explore."""
        return bool(self.ready or self._open)

    def _mark(self, path: Path) -> None:
        if path not in self._queued:
            self._queued.add(path)
            heapq.heappush(self._open, (len(path), path))

    def add(self, back: Handback) -> None:
        """Take a slice's hand-back: new shared states, branches, requests."""
        for node in back.nodes:
            self.nodes[node.path] = node
            self._mark(node.path)
        self.ready.extend(back.branches)
        self.counts["divergences"] += back.divergences
        for path, payload in back.requests:
            node = self.nodes[path]
            self.strategy.shared_request(node, payload)
            self._mark(path)

    def open_paths(self) -> list[Path]:
        """The shared states that may have alternatives left, shallowest first."""
        return [p for _, p in sorted(self._open)]

    def restore(
        self,
        nodes: list[SharedNode],
        ready: list[Branch],
        open_paths: list[Path],
        counts: dict[str, int],
    ) -> None:
        """Take the state a checkpoint saved (runs/checkpoint.py)."""
        self.nodes = {n.path: n for n in nodes}
        self.ready = list(ready)
        self._open, self._queued = [], set()
        for path in open_paths:
            self._mark(path)
        self.counts = dict(counts)

    def pending(self) -> int:
        """About how many branches are left to hand out (alternatives not claimed yet)."""
        return len(self.ready) + sum(
            len(self.nodes[p].todo) + len(self.nodes[p].wut) for _, p in self._open
        )

    def take(self, n: int) -> list[Branch]:
        """Up to `n` branches to explore, claimed (unstarted ones handed back first)."""
        out = self.ready[:n]
        del self.ready[:n]
        while len(out) < n and self._open:
            _, path = self._open[0]
            node = self.nodes[path]
            branch = self.strategy.shared_next(node, self.counts)
            if branch is None:
                heapq.heappop(self._open)
                self._queued.discard(path)
                continue
            out.append(branch)
        return out
