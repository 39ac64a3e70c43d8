"""Random walk: each execution picks uniformly among enabled CPUs, seeded per execution.

Execution number `i` of a run with seed `s` uses `RandomEngine(s + i)`, so any execution is
reproducible on its own and a run split over several processes (`--jobs`) explores exactly
the executions a single process would, in the same order of seeds.
"""

from __future__ import annotations

import time

from uvmsim.check.result import CheckResult, Coverage, FailureTally
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
    t0 = time.monotonic()
    cov = Coverage()
    failure, schedule = None, ()
    tally = FailureTally()
    for i in range(start, executions):
        r = target.execute(RandomEngine(seed + i))
        cov.add_execution(len(r.schedule), r.stopped)
        if r.failure is not None:
            tally.add(r.failure, r.schedule, seed + i)
            if failure is None:
                failure, schedule = r.failure, r.schedule
            if not keep_going:
                break
        if time_limit is not None and time.monotonic() - t0 > time_limit:
            cov.stopped_by = "time-limit"
            break
    cov.elapsed = time.monotonic() - t0
    res = CheckResult(
        "random",
        target.describe(),
        cov,
        failure,
        schedule,
        bound={"seed": seed, "executions": executions},
        tally=tally,
    )
    if failure is not None:
        first = min(t["first_seed"] for t in tally.counts.values())
        res.notes.append(f"found by execution {first - seed} (seed {first})")
    return res
