"""The outcome of a check: what was explored, what was found, whether it was complete."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from uvmsim.check.token import failure_signature
from uvmsim.machine import Failure


@dataclass
class Coverage:
    """Counts of an exploration (all deterministic except `elapsed`)."""

    executions: int = 0
    traces: int = 0  # complete executions (not cut short by a sleep set)
    redundant: int = 0  # executions that ended blocked by their sleep set
    pruned: int = 0  # alternatives dropped by the preemption bound or the depth bound
    deepest: int = 0  # most visible steps in one execution
    complete: bool = False  # every alternative within the strategy's bounds was explored
    stopped_by: str | None = None  # "max-executions", "time-limit" or None
    elapsed: float = 0.0

    def out_of_budget(
        self, max_executions: int | None, time_limit: float | None, started: float
    ) -> bool:
        """True (and `stopped_by` set) once the execution cap or the time limit is reached."""
        if max_executions is not None and self.executions >= max_executions:
            self.stopped_by = "max-executions"
        elif time_limit is not None and time.monotonic() - started > time_limit:
            self.stopped_by = "time-limit"
        else:
            return False
        return True

    def add_execution(self, steps: int, stopped: bool) -> None:
        self.executions += 1
        self.deepest = max(self.deepest, steps)
        if stopped:
            self.redundant += 1
        else:
            self.traces += 1


@dataclass
class FailureTally:
    """The failing executions of a sampled run that went on past the first, by signature.

    `counts[sig]` holds the failure's kind and message, how many executions failed so and
    the engine seed of the first; `examples[sig]` that first failure and its schedule, to
    replay or minimize.
    """

    counts: dict[str, dict] = field(default_factory=dict)
    examples: dict[str, tuple[Failure, tuple[int, ...]]] = field(default_factory=dict)

    def add(self, failure: Failure, schedule: tuple[int, ...], seed: int | None) -> None:

        sig = failure_signature(failure)
        entry = self.counts.get(sig)
        if entry is None:
            self.examples[sig] = (failure, schedule)
            self.counts[sig] = {
                "kind": failure.kind,
                "message": failure.message,
                "count": 1,
                "first_seed": seed,
            }
        else:
            entry["count"] += 1


@dataclass
class CheckResult:
    """A strategy's answer: the first failure found (with its schedule) and the coverage."""

    strategy: str
    target: dict
    coverage: Coverage
    failure: Failure | None = None
    schedule: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)
    bound: dict = field(default_factory=dict)
    tally: FailureTally = field(default_factory=FailureTally)

    @property
    def found(self) -> bool:
        return self.failure is not None
