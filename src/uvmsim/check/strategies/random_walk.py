"""Random walk: each execution picks uniformly among enabled CPUs, seeded per execution.

Execution number `i` of a run with seed `s` uses `RandomEngine(s + i)`, so any execution is
reproducible on its own and a run split over several processes (`--jobs`) explores exactly
the executions a single process would, in the same order of seeds.
"""

from __future__ import annotations

from typing import Any

from uvmsim.check.result import CheckResult
from uvmsim.check.strategy import Options, Strategy
from uvmsim.machine import Engine, Execution, RandomEngine


class RandomWalk(Strategy):
    """Executions `start .. stop-1` of a random walk seeded `seed + i`."""

    name = "random"
    summary = "random walk"
    exhaustive = False
    sampled = True

    def __init__(self, *, seed: int = 0, start: int = 0, stop: int = 1000):
        super().__init__()
        self.seed, self.start, self.stop = seed, start, stop
        self.i = start
        self.done = start >= stop

    @classmethod
    def from_options(cls, o: Options) -> RandomWalk:
        return cls(seed=o.seed, start=o.start, stop=o.stop)

    def engine_for(self, seed: int) -> Engine:
        return RandomEngine(seed)

    def next_engine(self) -> Engine:
        return self.engine_for(self.seed + self.i)

    def label(self) -> int | None:
        return self.seed + self.i

    def observe(self, execution: Execution) -> None:
        self.i += 1
        self.done = self.i >= self.stop

    def bound(self) -> dict[str, Any]:
        return {"seed": self.seed, "executions": self.stop}

    def notes(self, result: CheckResult) -> list[str]:
        if result.failure is None:
            return []
        first = min(t["first_seed"] for t in result.tally.counts.values())
        return [f"found by execution {first - self.seed} (seed {first})"]
