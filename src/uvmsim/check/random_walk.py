"""Random walk: each execution picks uniformly among enabled CPUs, seeded per execution.

Execution number `i` of a run with seed `s` uses `RandomEngine(s + i)`, so any execution is
reproducible on its own and a run split over several processes (`--jobs`) explores exactly
the executions a single process would, in the same order of seeds.
"""

from __future__ import annotations

from uvmsim.check.result import CheckResult
from uvmsim.check.sampling import sample
from uvmsim.check.target import Target
from uvmsim.machine import RandomEngine


def random_walk(
    target: Target,
    *,
    seed: int = 0,
    executions: int = 1000,
    time_limit: float | None = None,
    start: int = 0,
    keep_going: bool = False,
) -> CheckResult:
    """Run executions `start .. executions-1` (seeds `seed + i`); stop at the first failure
    unless `keep_going`, in which case every failing execution is counted in `tally`."""
    res = sample(
        "random",
        target,
        RandomEngine,
        seed=seed,
        start=start,
        stop=executions,
        time_limit=time_limit,
        keep_going=keep_going,
    )
    res.bound = {"seed": seed, "executions": executions}
    if res.failure is not None:
        first = min(t["first_seed"] for t in res.tally.counts.values())
        res.notes.append(f"found by execution {first - seed} (seed {first})")
    return res
