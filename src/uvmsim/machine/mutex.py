# cython: auto_pickle=False
# (compiled build: Mutex is a C type that pickles and restores in place through its
# __slots__, as in pure Python, instead of Cython's own pickling; mutex.pxd)
"""Spin mutexes with OpenBSD semantics (`sys/kern/kern_lock.c`, `sys/sys/mutex.h`).

A mutex is owned by a CPU, is not recursive, spins, and raises the IPL to its own level while
held.  Mutexes nest but must not interleave: they are released in LIFO order, because each one
saves the IPL it restores.  Under DIAGNOSTIC (GENERIC kernels) re-entry by the owner panics
"mtx %p: locking against myself"; here the panic names the mutex and both acquisition sites.
`MUTEX_ASSERT_LOCKED` panics "mutex %p not held in %s" when the current CPU is not the owner.

In the checker a CPU waiting in `mtx_enter` is simply not enabled until the owner leaves; the
timed engine charges the wait as spin time.
"""

from __future__ import annotations

from sys import _getframe
from typing import Any

from uvmsim.machine import core as _core
from uvmsim.machine import failure as fk
from uvmsim.machine import frames
from uvmsim.machine import sites as _sites
from uvmsim.machine.core import MTX_ENTER, MTX_LEAVE, MTX_TRY, fail
from uvmsim.machine.sites import _inline_codes, call_site, format_site
from uvmsim.machine.spl import IPL_NONE


class Mutex:
    """`struct mutex`: owner CPU (or None), the IPL it raises to, a WITNESS lock class.

    `site` is where the current owner acquired it (reported on recursion); `vc` is the vector
    clock released with it, for happens-before race detection.

    A C type in the compiled build (mutex.pxd): every acquisition and release reads and
    writes half a dozen of its fields.  It is part of the world snapshot, so it keeps its
    `__slots__` (the in-place restore and pickling go through them) and has no C methods,
    which would change its layout from the one its slots describe.
    """

    __slots__ = ("ipl", "lock_class", "name", "oldipl", "owner", "site", "vc", "vcm", "waiters")
    is_rwlock = False

    def __init__(self, name: str, ipl: int = IPL_NONE, lock_class: str | None = None):
        self.name = name
        self.ipl = ipl
        self.lock_class = lock_class or name
        self.owner: Any = None
        self.site: tuple | None = None
        self.oldipl = 0
        self.vc: list[int] | None = None
        self.vcm: Any = None  # the machine whose execution published `vc`
        self.waiters: list = []

    # -- the blocker protocol used by engines and deadlock reports --
    def blocks(self, cpu: Any) -> bool:
        return self.owner is not None

    def describe_wait(self, cpu: Any) -> str:
        owner = self.owner.name if self.owner is not None else "nobody"
        return f"mtx {self.name} (owned by {owner})"

    # -- the annotation protocol (Shared fields annotated with this lock) --
    def covers(self, cpu: Any, write: bool) -> bool:
        return self.owner is cpu

    def __repr__(self) -> str:
        return f"mtx {self.name}"


def _recursion(m: Mutex, cpu: Any, site: tuple) -> None:
    fail(
        fk.RECURSION,
        f"panic: mtx {m.name}: locking against myself",
        [f"first acquired at {format_site(m.site)}", f"again at {format_site(site)}"],
    )


def _acquired(mach: Any, cpu: Any, m: Mutex, site: tuple) -> None:
    m.owner = cpu
    m.site = site
    m.oldipl = cpu.ipl
    if m.ipl > cpu.ipl:
        cpu.ipl = m.ipl
    cpu.mutexes.append(m)
    mach.locks_held += 1
    waiters = m.waiters
    for w in waiters:
        w.runnable = False
    vc = m.vc
    # A clock published by another execution (e.g. a set-up run) says nothing about this one.
    if vc is not None and m.vcm is mach and mach.races_on:
        mine = cpu.vc
        for i, t in enumerate(vc):
            if t > mine[i]:
                mine[i] = t


def mtx_enter(m: Mutex) -> None:
    """`mtx_enter`: spin until the mutex is free, then own it (recursion panics)."""
    # `call_site` and `_acquired` inline: this runs on every lock acquisition.
    site = frames.model_site(_inline_codes)
    mach = _core._running
    cpu = mach.current
    if m.owner is cpu:
        _recursion(m, cpu, site)
    if (cpu.mutexes or cpu.rwlocks) and mach.analyses.witness:
        mach.witness.check_order(cpu, m, site)
    # `visible`'s blocker protocol inline, for a mutex (it blocks while owned): the CPU waits
    # among the mutex's waiters, whose runnable flags every acquisition and release keeps
    # current, until it is chosen.
    waiters = m.waiters
    cpu.blocker = m
    waiters.append(cpu)
    if m.owner is not None:
        cpu.runnable = False
    mach.visible(MTX_ENTER, m, None, site)
    cpu.blocker = None
    mach.unwait(waiters, cpu)
    m.owner = cpu
    m.site = site
    ipl = cpu.ipl
    m.oldipl = ipl
    if m.ipl > ipl:
        cpu.ipl = m.ipl
    cpu.mutexes.append(m)
    mach.locks_held += 1
    for w in waiters:
        w.runnable = False
    vc = m.vc
    # A clock published by another execution (e.g. a set-up run) says nothing about this one.
    if vc is not None and m.vcm is mach and mach.races_on:
        mine = cpu.vc
        for i, t in enumerate(vc):
            if t > mine[i]:
                mine[i] = t


def mtx_enter_try(m: Mutex) -> int:
    """`mtx_enter_try`: own the mutex if free and return 1, else return 0 (never spins)."""
    mach = _core._running
    site = call_site()
    cpu = mach.current
    if m.owner is cpu:
        _recursion(m, cpu, site)
    mach.visible(MTX_TRY, m, None, site)
    if m.owner is not None:
        return 0
    _acquired(mach, cpu, m, site)
    return 1


def mtx_leave(m: Mutex) -> None:
    """`mtx_leave`: release a mutex this CPU owns, restoring the IPL it saved."""
    # `call_site` and `release` inline: this runs on every lock release.
    site = frames.model_site(_inline_codes)
    mach = _core._running
    cpu = mach.current
    if m.owner is not cpu:
        fail(fk.PANIC, f"panic: mutex {m.name} not held in mtx_leave", [site])
    held = cpu.mutexes
    if held[-1] is not m:
        later = held[-1]
        fail(
            fk.MUTEX_RULE,
            f"mtx_leave {m.name} out of LIFO order: {later.name}, taken later, is still held "
            f"(mutexes nest, they must not interleave)",
            [
                f"{m.name} acquired at {format_site(m.site)}",
                f"{later.name} acquired at {format_site(later.site)}",
                f"released at {format_site(site)}",
            ],
        )
    mach.visible(MTX_LEAVE, m, None, site)
    held.pop()  # it is the last one (checked above)
    m.owner = None
    m.site = None
    waiters = m.waiters
    for w in waiters:
        w.runnable = True
    cpu.ipl = m.oldipl
    mach.locks_held -= 1
    if mach.races_on:  # `analyses.races`, as a field of the machine
        m.vc = list(cpu.vc)
        m.vcm = mach
        cpu.vc[cpu.index] += 1
    if mach.locks_held == 0 and mach.quiescent_checks:  # after_release's own test, inline
        mach.after_release(cpu)


def release(mach: Any, cpu: Any, m: Mutex) -> None:
    """Drop `cpu`'s ownership of `m` (mtx_leave, or the interlock of a sleep): no visible step."""
    cpu.mutexes.remove(m)
    m.owner = None
    m.site = None
    waiters = m.waiters
    for w in waiters:
        w.runnable = True
    cpu.ipl = m.oldipl
    mach.locks_held -= 1
    if mach.races_on:  # `analyses.races`, as a field of the machine
        m.vc = list(cpu.vc)
        m.vcm = mach
        cpu.vc[cpu.index] += 1


def mtx_owned(m: Mutex) -> bool:
    """`mtx_owned`: whether the current CPU owns the mutex (no visible operation)."""
    return m.owner is _core._running.current


def _caller_name() -> str:
    f = _getframe(0)
    codes = _inline_codes
    while id(f.f_code) in codes:
        f = f.f_back
    return f.f_code.co_name


def MUTEX_ASSERT_LOCKED(m: Mutex) -> None:
    """Panic "mutex %p not held in %s" unless the current CPU owns `m` (DIAGNOSTIC)."""
    mach = _core._running
    if mach is not None and m.owner is not mach.current:
        fail(fk.PANIC, f"panic: mutex {m.name} not held in {_caller_name()}", [call_site()])


def MUTEX_ASSERT_UNLOCKED(m: Mutex) -> None:
    """Panic "mutex %p held in %s" if the current CPU owns `m` (DIAGNOSTIC)."""
    mach = _core._running
    if mach is not None and m.owner is mach.current:
        fail(fk.PANIC, f"panic: mutex {m.name} held in {_caller_name()}", [call_site()])


_sites.look_through(globals())  # call sites look through this module's frames
