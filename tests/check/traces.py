"""Mazurkiewicz traces of explored executions, to compare strategies trace by trace.

Each execution is reduced to its happens-before order (program order plus `ops.dependent`,
the dependency DPOR uses): two executions have the same reduction exactly when they are the
same Mazurkiewicz trace.  Plain DFS explores every schedule, so the set of its executions'
traces is every trace of the program; a DPOR strategy is exact when its complete executions
give that set, each trace once.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from uvmsim.check.ops import dependent, op_key
from uvmsim.check.result import CheckResult
from uvmsim.check.strategy import Strategy, explore
from uvmsim.check.target import ProgramTarget
from uvmsim.machine import (
    RW_WRITE,
    Analyses,
    Engine,
    Mutex,
    RWLock,
    mtx_enter,
    mtx_enter_try,
    mtx_leave,
    rw_enter,
    rw_exit,
    sleep_on,
    wakeup,
)

from .programs import cells

NO_RACES = Analyses(races=False)


class Recording(Engine):
    """Delegates every decision to `inner` and logs each step as (cpu, operation key)."""

    def __init__(self, inner: Engine, log: list):
        self.inner = inner
        self.log = log

    def begin(self, machine):
        self.inner.begin(machine)

    def end(self, machine):
        self.inner.end(machine)

    def choose(self, machine, current):
        cpu = self.inner.choose(machine, current)
        if cpu is not None:
            self.log.append((cpu.index, op_key(cpu.op)))
        return cpu


def trace_of(events: list) -> frozenset:
    """The Mazurkiewicz trace of an execution: each event with its vector clock."""
    clocks: list[dict[int, int]] = []
    count: dict[int, int] = {}
    out = []
    for j, (cpu, key) in enumerate(events):
        count[cpu] = count.get(cpu, 0) + 1
        vc: dict[int, int] = {}
        for i in range(j):
            c, k = events[i]
            if c == cpu or dependent(k, key):
                for p, t in clocks[i].items():
                    vc[p] = max(vc.get(p, 0), t)
        vc[cpu] = count[cpu]
        clocks.append(vc)
        out.append((cpu, count[cpu], key, tuple(sorted(vc.items()))))
    return frozenset(out)


def explore_traces(
    strategy: Strategy,
    build: Callable[[], tuple],
    analyses: Analyses = NO_RACES,
    **kw,
) -> tuple[CheckResult, list[frozenset]]:
    """Run `strategy` on `build` past failures; its result and the trace of every execution
    that was not cut short by a sleep set (in exploration order)."""
    target = ProgramTarget(build, analyses=analyses)
    run = target.execute
    traces = []

    def execute(engine, **k):
        log: list = []
        r = run(Recording(engine, log), **k)
        if not r.stopped:
            traces.append(trace_of(log))
        return r

    target.execute = execute
    kw.setdefault("keep_going", True)
    return explore(target, strategy, **kw), traces


RANDOM_OPS = ("read", "write", "locked", "try", "rwlocked", "wakeup", "sleep")


def random_program(seed: int, cpus: int = 3, first_ops: int = 2) -> Callable[[], tuple]:
    """`cpus` CPUs doing random operations (CPU 0 up to `first_ops`, the others one) on two
    cells, a mutex, an rwlock (write holds: read holds make RWLOCK_WRWANT matter) and a wait
    channel; a sleep nobody wakes ends in a deadlock, a failure like any other."""
    rng = random.Random(seed)
    plan = [
        [
            (rng.choice(RANDOM_OPS), rng.randrange(2))
            for _ in range(rng.randint(1, first_ops if c == 0 else 1))
        ]
        for c in range(cpus)
    ]

    def build():
        cs = cells(2)
        m = Mutex("m")
        lk = RWLock("l")

        def thread(ops):
            def run():
                for op, n in ops:
                    if op == "read":
                        _ = cs[n].v
                    elif op == "write":
                        cs[n].v = 1
                    elif op == "locked":
                        mtx_enter(m)
                        cs[n].v = 2
                        mtx_leave(m)
                    elif op == "try":
                        if mtx_enter_try(m):
                            cs[n].v = 3
                            mtx_leave(m)
                    elif op == "rwlocked":
                        rw_enter(lk, RW_WRITE)
                        _ = cs[n].v
                        rw_exit(lk)
                    elif op == "wakeup":
                        wakeup(cs[0])
                    else:
                        mtx_enter(m)
                        sleep_on(cs[0], m)

            return run

        return cs, [thread(ops) for ops in plan]

    return build


def trylocks() -> Callable[[], tuple]:
    """Two try-lock critical sections and a plain write of the same cell: 10 traces, of
    which source-DPOR before the try-lock fix explored 9."""

    def build():
        (x,) = cells(1)
        m = Mutex("m")

        def section(value):
            def thread():
                if mtx_enter_try(m):
                    x.v = value
                    mtx_leave(m)

            return thread

        def writer():
            x.v = 2

        return [x], [section(1), writer, section(3)]

    return build
