"""The evidence the review computes: checker explorations and simulator measurements.

`explore` runs DPOR on a scenario and collects every distinct failure (not only the first),
so a question can be answered even when the scenario also reaches an unrelated failure;
`measure` runs one timed simulation.  Both are pure functions of their arguments.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.strategy import Options
from uvmsim.machine import Analyses, Failure
from uvmsim.protocols import Protocol
from uvmsim.runs.check import check_protocol
from uvmsim.runs.simulate import simulate


@dataclass
class Exploration:
    scenario: str
    protocol: str
    strategy: str
    executions: int
    traces: int
    complete: bool
    races: bool
    failures: list[tuple[Failure, tuple[int, ...]]] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        scope = "complete" if self.complete else "NOT complete (bounded)"
        extra = "" if self.races else ", race detector off"
        return (
            f"{self.scenario} on {self.protocol}: {self.strategy} {self.executions:,} "
            f"executions, {self.traces:,} traces, {scope}{extra}"
        )


def explore(
    scenario: str, protocol: Protocol, *, races: bool = True, max_executions: int | None = 3000
) -> Exploration:
    """DPOR over `scenario`, every distinct failure kept with its schedule."""
    t0 = time.monotonic()
    res = check_protocol(
        protocol,
        scenario,
        analyses=Analyses(races=races),
        max_executions=max_executions,
        keep_going=True,
    )
    cov = res.coverage
    return Exploration(
        scenario,
        protocol.name,
        "DPOR",
        cov.executions,
        cov.traces,
        cov.complete,
        races,
        list(res.tally.examples.values()),
        time.monotonic() - t0,
    )


def campaign(
    scenario: str, protocol: Protocol, *, executions: int, seed: int = 0, strategy: str = "pct"
) -> Exploration:
    """Random or PCT executions of `scenario` (first failure kept), invariants all armed."""
    t0 = time.monotonic()
    res = check_protocol(
        protocol,
        scenario,
        strategy=strategy,
        options=Options(seed=seed, pct_depth=2, stop=executions),
        analyses=Analyses(races=False),
    )
    failures = [(res.failure, res.schedule)] if res.failure is not None else []
    return Exploration(
        scenario,
        protocol.name,
        strategy.upper() if strategy == "pct" else "random",
        res.coverage.executions,
        res.coverage.traces,
        False,
        False,
        failures,
        time.monotonic() - t0,
    )


def measure(
    workload: str,
    protocol: Protocol,
    cpus: int,
    ops: int | None,
    seed: int = 1,
    options: dict | None = None,
) -> Any:
    return simulate(workload, protocol, cpus, ops=ops, seed=seed, options=options or {})
