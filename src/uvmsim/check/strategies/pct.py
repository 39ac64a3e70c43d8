"""PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
ASPLOS 2010).

Each execution gives the n CPUs distinct random priorities d .. d+n-1 and picks d-1 random
change points among the k steps; at every step the enabled CPU with the highest priority runs,
and at the i-th change point the running CPU's priority drops to i (below every initial one).
For a bug of depth d (d ordering constraints), one execution finds it with probability at
least 1 / (n * k^(d-1)).  `k` is the longest execution seen so far (the first execution runs
with the given estimate); the guarantee printed uses the observed n and k.
"""

from __future__ import annotations

import random
from typing import Any

from uvmsim.check.result import CheckResult
from uvmsim.check.strategies.random_walk import RandomWalk
from uvmsim.check.strategy import Options
from uvmsim.machine import Engine, Execution


class PctEngine(Engine):
    """One PCT execution: priorities and change points drawn from `seed`."""

    def __init__(self, seed: int, ncpu: int, depth: int, k: int):
        rng = random.Random(seed)
        prios = list(range(depth, depth + ncpu))
        rng.shuffle(prios)
        self.priority = dict(enumerate(prios))
        points = sorted(rng.randint(1, max(1, k)) for _ in range(depth - 1))
        # change point step -> new (low) priority: the i-th point lowers to i
        self.changes = {}
        for i, step in enumerate(points, start=1):
            self.changes.setdefault(step, i)

    def choose(self, machine: Any, current: Any) -> Any:
        enabled = [c for c in machine.cpus if c.runnable]
        if not enabled:
            return None
        step = machine.steps
        best = max(enabled, key=lambda c: self.priority[c.index])
        low = self.changes.get(step)
        if low is not None:
            self.priority[best.index] = low
            best = max(enabled, key=lambda c: self.priority[c.index])
        return best


def pct_bound(ncpu: int, k: int, depth: int) -> float:
    """The per-execution probability PCT guarantees for a depth-`depth` bug."""
    return 1.0 / (ncpu * max(1, k) ** (depth - 1))


class Pct(RandomWalk):
    """Executions `start .. stop-1` of PCT with bug depth `depth`, seeded `seed + i`."""

    name = "pct"
    summary = "probabilistic concurrency testing"

    def __init__(
        self, *, seed: int = 0, depth: int = 2, start: int = 0, stop: int = 1000, k: int = 0
    ):
        super().__init__(seed=seed, start=start, stop=stop)
        self.depth = depth
        self.k = k  # the longest execution seen so far (an estimate before the first)

    @classmethod
    def from_options(cls, o: Options) -> Pct:
        return cls(seed=o.seed, depth=o.pct_depth, start=o.start, stop=o.stop)

    def engine_for(self, seed: int) -> Engine:
        assert self.target is not None
        return PctEngine(seed, self.target.cpus, self.depth, self.k or 1)

    def observe(self, execution: Execution) -> None:
        self.k = max(self.k, len(execution.schedule))
        super().observe(execution)

    def bound(self) -> dict[str, Any]:
        return {"seed": self.seed, "depth": self.depth, "executions": self.stop, "k": self.k}

    def notes(self, result: CheckResult) -> list[str]:
        assert self.target is not None
        d, n, k = self.depth, self.target.cpus, self.k
        return [
            f"PCT depth {d}: each execution finds a depth-{d} bug with probability "
            f">= 1/(n*k^(d-1)) = {pct_bound(n, k, d):.3g} (n={n}, k={k})"
        ]
