"""Failures are values: what a kernel would print, where, and the schedule that led there.

A `Failure` is what every check of the simulated machine produces (a panic, a KASSERT, mutex
recursion, an annotation violation, a data race, a lock-order reversal, an invariant, a deadlock,
the step bound).  It never carries a Python traceback into user output; `detail` holds extra
lines (for a model error, the traceback) that a user only sees on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The kinds a Failure can have.  Strings, not an enum: they appear verbatim in JSON output and
# replay tokens, and comparing interned strings is as cheap as comparing enum members.
PANIC = "panic"
KASSERT_FAILED = "kassert"
RECURSION = "recursion"
ANNOTATION = "annotation"
DATA_RACE = "data-race"
LOCK_ORDER = "lock-order"
MUTEX_RULE = "mutex-rule"
SLEEP_WITH_MUTEX = "sleep-with-mutex"
INVARIANT = "invariant"
DEADLOCK = "deadlock"
STEP_BOUND = "step-bound"
LOCK_LEAK = "lock-leak"
MODEL_ERROR = "model-error"

KINDS = (
    PANIC,
    KASSERT_FAILED,
    RECURSION,
    ANNOTATION,
    DATA_RACE,
    LOCK_ORDER,
    MUTEX_RULE,
    SLEEP_WITH_MUTEX,
    INVARIANT,
    DEADLOCK,
    STEP_BOUND,
    LOCK_LEAK,
    MODEL_ERROR,
)


@dataclass(frozen=True)
class Failure:
    """One failure of one execution.

    `message` is the line a kernel would print (``panic: ...``), `cpu` the CPU that hit it (None
    for whole-machine failures such as a deadlock), `stacks` the model stack (kernel function
    names, innermost last) of every CPU still running, `sites` the source sites involved (both
    acquisitions of a recursion, both accesses of a race), `schedule` the CPU chosen at each
    visible step up to the failure, and `step` how many visible steps ran.
    """

    kind: str
    message: str
    cpu: int | None
    stacks: tuple[tuple[int, tuple[str, ...]], ...] = ()
    sites: tuple[str, ...] = ()
    schedule: tuple[int, ...] = ()
    step: int = 0
    detail: tuple[str, ...] = field(default=(), compare=False)

    def render(self) -> str:
        """The failure as a kernel developer reads it: the panic line, sites, then stacks."""
        lines = [self.message]
        lines.extend(f"  at {site}" for site in self.sites)
        for cpu, stack in self.stacks:
            lines.append(f"  cpu{cpu}: " + (" > ".join(stack) if stack else "(not started)"))
        lines.append(f"  after {self.step} visible steps")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """A JSON-ready dict; `detail` is included so machines get everything."""
        return {
            "kind": self.kind,
            "message": self.message,
            "cpu": self.cpu,
            "sites": list(self.sites),
            "stacks": {f"cpu{c}": list(s) for c, s in self.stacks},
            "step": self.step,
            "schedule": list(self.schedule),
            "detail": list(self.detail),
        }


class InputError(ValueError):
    """Bad input from a user: the CLI prints the message as one line and exits 2."""
