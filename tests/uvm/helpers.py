"""Running scenarios the way the model tests need them."""

from __future__ import annotations

from uvmsim.machine import Analyses, Engine
from uvmsim.machine.core import MTX_ENTER, MTX_TRY, RW_ENTER, RW_TRY
from uvmsim.protocols import Protocol
from uvmsim.runs.names import get_scenario
from uvmsim.scenarios import run_scenario

LOCK_OPS = {MTX_ENTER, MTX_TRY, RW_ENTER, RW_TRY}


def behaviour(scenario: str, proto: Protocol, engine: Engine, races: bool = False) -> tuple:
    """What an execution did, for comparing protocols: outcome, lock acquisitions, wired ops.

    The trace keeps every lock acquisition (by CPU and lock class) and every operation on
    uvmexp.wired (a plain load/store differs from an atomic).
    """
    r = run_scenario(
        get_scenario(scenario), proto, engine, analyses=Analyses(races=races), record=True
    )
    acquisitions = tuple(
        (cpu, kind, name.split(".")[-1]) for cpu, kind, name, *_rest in r.trace if kind in LOCK_OPS
    )
    wired = tuple(
        (cpu, kind)
        for cpu, kind, name, field, *_rest in r.trace
        if name == "uvmexp" and field == "wired"
    )
    outcome = (r.failure.kind, r.failure.message) if r.failure else None
    return outcome, acquisitions, wired


class PhaseEngine(Engine):
    """Run CPUs in phases: each phase is (cpu, stop), stop(pending op) ending the phase.

    The CPU of a phase runs until its pending operation satisfies `stop` (the operation is
    left pending), or it finishes or blocks; then the next phase starts.  After the last
    phase, the lowest-numbered runnable CPU runs.
    """

    def __init__(self, phases):
        self.phases = list(phases)
        self.i = 0

    def begin(self, machine):
        self.i = 0

    def choose(self, machine, current):
        while self.i < len(self.phases):
            idx, stop = self.phases[self.i]
            cpu = machine.cpus[idx]
            if cpu.runnable and not stop(cpu.op):
                return cpu
            self.i += 1
        enabled = machine.enabled()
        return enabled[0] if enabled else None


def never(op) -> bool:
    return False


def at_work(name: str):
    """A stop predicate: the CPU is about to do the piece of work `name` (e.g. swap_io)."""
    return lambda op: op[0] == "work" and op[2] == name


def at_lock(kind: str, lock: str, function: str):
    """A stop predicate: the CPU is about to do lock operation `kind` on the lock named
    `lock` from `function` (e.g. the pagedaemon re-taking a page's owner lock)."""

    def stop(op) -> bool:
        return (
            op[0] == kind
            and getattr(op[1], "name", None) == lock
            and op[3] is not None
            and op[3][0].co_name == function
        )

    return stop


# The window of finding F2 and hunk 18: the pagedaemon (cpu0) runs until it is about to take
# the page's owner lock back after its one-page swap write failed with VM_PAGER_AGAIN; the
# exiting CPU (cpu1) then runs to its end, releasing the busy anon; then the pagedaemon.
RELEASED_WINDOW = [(0, at_lock(RW_TRY, "amap.am_lock", "kl_rw_enter")), (1, never), (0, never)]
