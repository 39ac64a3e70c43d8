"""Sleep and wakeup on a wait channel (`sys/kern/kern_synch.c`).

`sleep_on(chan, interlock)` is `msleep`/`rwsleep` with PNORELOCK: it releases the interlock and
goes to sleep in one indivisible step, so a `wakeup(chan)` issued after the interlock is dropped
cannot be lost.  It returns once woken, without the interlock.  Sleeping while owning any other
spin mutex panics as `assertwaitok()` does under DIAGNOSTIC.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import core as _core
from uvmsim.machine import failure as fk
from uvmsim.machine import mutex as _mtx
from uvmsim.machine import rwlock as _rw
from uvmsim.machine import sites as _sites
from uvmsim.machine.core import RESUME, SLEEP, WAKEUP, fail
from uvmsim.machine.mutex import Mutex
from uvmsim.machine.sites import call_site, format_site


class _Sleep:
    """The blocker of a sleeping CPU: it stays disabled until a wakeup on its channel."""

    __slots__ = ("chan", "vc", "waiters", "woken")
    is_rwlock = False

    def __init__(self, chan: Any):
        self.chan = chan
        self.woken = False
        self.vc: list[int] | None = None
        self.waiters: list = []

    def blocks(self, cpu: Any) -> bool:
        return not self.woken

    def describe_wait(self, cpu: Any) -> str:
        name = getattr(self.chan, "name", None) or type(self.chan).__name__
        return f"wakeup on {name} (sleeping)"


def sleep_on(chan: Any, interlock: Any = None, wmesg: str = "sleep") -> None:
    """Release `interlock` (a Mutex or RWLock held by this CPU, or None) and sleep on `chan`."""
    mach = _core._running
    site = call_site()
    cpu = mach.current
    others = [m for m in cpu.mutexes if m is not interlock]
    if others:
        fail(
            fk.SLEEP_WITH_MUTEX,
            f"panic: assertwaitok: non-zero mutex count: {wmesg} while holding mtx "
            f"{others[-1].name}",
            [
                f"{others[-1].name} acquired at {format_site(others[-1].site)}",
                f"sleep at {format_site(site)}",
            ],
        )
    # The interlock travels with the operation: sleeping releases it (a dependency for DPOR).
    mach.visible(SLEEP, chan, interlock, site)
    if interlock is not None:
        if isinstance(interlock, Mutex):
            if interlock.owner is not cpu:
                fail(fk.PANIC, f"panic: msleep: interlock {interlock.name} not held", [site])
            _mtx.release(mach, cpu, interlock)
        else:
            if not interlock.covers(cpu, False):
                fail(fk.PANIC, f"panic: rwsleep: interlock {interlock.name} not held", [site])
            _rw.release(mach, cpu, interlock)
    wait = _Sleep(chan)
    mach.sleepers.setdefault(id(chan), []).append((cpu, wait))
    mach.visible(RESUME, chan, None, site, wait)
    if wait.vc is not None and mach.analyses.races:
        mine = cpu.vc
        for i, t in enumerate(wait.vc):
            if t > mine[i]:
                mine[i] = t


def wakeup(chan: Any) -> None:
    """`wakeup(chan)`: make every CPU sleeping on `chan` runnable again."""
    mach = _core._running
    site = call_site()
    cpu = mach.current
    mach.visible(WAKEUP, chan, None, site)
    waiters = mach.sleepers.pop(id(chan), None)
    if waiters:
        vc = list(cpu.vc) if mach.analyses.races else None
        for _sleeper, wait in waiters:
            wait.woken = True
            wait.vc = vc
            for w in wait.waiters:
                w.runnable = True
        if vc is not None:
            cpu.vc[cpu.index] += 1


_sites.look_through(globals())  # call sites look through this module's frames
