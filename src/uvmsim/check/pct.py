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
from uvmsim.check.sampling import sample
from uvmsim.check.target import Target
from uvmsim.machine import Engine


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


def pct(
    target: Target,
    *,
    seed: int = 0,
    depth: int = 2,
    executions: int = 1000,
    k_estimate: int = 0,
    time_limit: float | None = None,
    start: int = 0,
    keep_going: bool = False,
) -> CheckResult:
    """Run PCT executions `start .. executions-1` (seeds `seed + i`); stop at the first failure
    unless `keep_going`, in which case every failing execution is counted in `tally`."""
    k = k_estimate

    def learn(r: Any) -> None:
        nonlocal k
        k = max(k, len(r.schedule))

    res = sample(
        "pct",
        target,
        lambda s: PctEngine(s, target.cpus, depth, k or 1),
        seed=seed,
        start=start,
        stop=executions,
        time_limit=time_limit,
        keep_going=keep_going,
        observe=learn,
    )
    res.bound = {"seed": seed, "depth": depth, "executions": executions, "k": k}
    res.notes.append(
        f"PCT depth {depth}: each execution finds a depth-{depth} bug with probability "
        f">= 1/(n*k^(d-1)) = {pct_bound(target.cpus, k, depth):.3g} (n={target.cpus}, k={k})"
    )
    return res
