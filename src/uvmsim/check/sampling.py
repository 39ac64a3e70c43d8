"""The loop shared by the sampling strategies (random walk, PCT): independent executions,
each with its own engine seeded by its index, counted and tallied as they fail."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from uvmsim.check.result import CheckResult, Coverage, FailureTally
from uvmsim.check.target import Target
from uvmsim.machine import Engine


def sample(
    strategy: str,
    target: Target,
    engine_for: Callable[[int], Engine],
    *,
    seed: int,
    start: int,
    stop: int,
    time_limit: float | None,
    keep_going: bool,
    observe: Callable[[Any], None] | None = None,
) -> CheckResult:
    """Run executions `start .. stop-1`, execution i on `engine_for(seed + i)`.

    Stops at the first failure unless `keep_going`, in which case every failing execution
    is counted in the result's `tally`; `failure` is always the first one.  `observe` sees
    each execution's result (PCT learns the length of executions from it).
    """
    t0 = time.monotonic()
    cov = Coverage()
    failure, schedule = None, ()
    tally = FailureTally()
    for i in range(start, stop):
        r = target.execute(engine_for(seed + i))
        cov.add_execution(len(r.schedule), r.stopped)
        if observe is not None:
            observe(r)
        if r.failure is not None:
            tally.add(r.failure, r.schedule, seed + i)
            if failure is None:
                failure, schedule = r.failure, r.schedule
            if not keep_going:
                break
        if cov.out_of_budget(None, time_limit, t0):
            break
    cov.elapsed = time.monotonic() - t0
    return CheckResult(strategy, target.describe(), cov, failure, schedule, tally=tally)
