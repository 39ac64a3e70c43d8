# cython: auto_pickle=False
# (compiled build: RWLock is a C type that pickles and restores in place through its
# __slots__, as Mutex; rwlock.pxd)
"""Sleeping reader/writer locks (`sys/kern/kern_rwlock.c`, `sys/sys/rwlock.h`).

`rw_enter(l, RW_WRITE | RW_READ [| RW_NOSLEEP])` returns 0 on success; with `RW_NOSLEEP` it
returns EBUSY instead of sleeping.  A thread that cannot get the lock sleeps (its CPU is idle
in the timed engine, disabled in the checker).  New readers wait while a writer is waiting, as
the kernel's RWLOCK_WRWANT bit makes them.

The machine tracks the set of holders, so checks can be stricter than the kernel's
`rw_lock_held`, which is true when *anyone* read-holds the lock (uvm-semantics.md N1).

A blocking `rw_enter` while the CPU owns a spin mutex is a failure ("acquiring blockable sleep
lock with spinlock or critical section held", WITNESS) even when it would not block; a
`RW_NOSLEEP` try is allowed, which is how the pagedaemon try-locks owners under the pageq lock.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import core as _core
from uvmsim.machine import failure as fk
from uvmsim.machine import sites as _sites
from uvmsim.machine.core import RW_ENTER, RW_EXIT, RW_TRY, fail, reevaluate
from uvmsim.machine.sites import call_site, format_site

RW_WRITE = 0x0001
RW_READ = 0x0002
RW_OPMASK = 0x0007
RW_NOSLEEP = 0x0040
RW_DUPOK = 0x0100
EBUSY = 16


class RWLock:
    """`struct rwlock`: a writer CPU or an ordered list of reader CPUs, plus a lock class.

    A C type in the compiled build with exactly its slots' fields and no C methods, for the
    reasons `Mutex` gives (mutex.py).
    """

    __slots__ = (
        "lock_class",
        "name",
        "readers",
        "site",
        "vc_read",
        "vc_write",
        "vcm",
        "waiters",
        "writer",
    )
    is_rwlock = True

    def __init__(self, name: str, lock_class: str | None = None):
        self.name = name
        self.lock_class = lock_class or name
        self.writer: Any = None
        self.readers: list = []
        self.site: tuple | None = None
        self.vc_write: list[int] | None = None
        self.vc_read: list[int] | None = None
        self.vcm: Any = None  # the machine whose execution published the clocks
        self.waiters: list = []

    def blocks(self, cpu: Any) -> bool:
        if cpu.want & RW_WRITE:
            return self.writer is not None or bool(self.readers)
        if self.writer is not None:
            return True
        if not self.readers:
            return False
        # RWLOCK_WRWANT: a writer already waiting for the readers to drain keeps new readers
        # out.  (With the lock free nobody waits: the writer would simply have taken it.)
        return any(w is not cpu and w.want & RW_WRITE for w in self.waiters)

    def describe_wait(self, cpu: Any) -> str:
        mode = "write" if cpu.want & RW_WRITE else "read"
        if self.writer is not None:
            held = f"write-held by {self.writer.name}"
        elif self.readers:
            held = "read-held by " + ", ".join(c.name for c in self.readers)
        else:
            held = "a waiting writer"
        return f"rwlock {self.name} for {mode} ({held})"

    def covers(self, cpu: Any, write: bool) -> bool:
        if write:
            return self.writer is cpu
        return self.writer is cpu or cpu in self.readers

    def __repr__(self) -> str:
        return f"rwlock {self.name}"


def rw_enter(lk: RWLock, flags: int) -> int:
    """`rw_enter`: take `lk` for RW_WRITE or RW_READ; with RW_NOSLEEP return EBUSY if busy."""
    mach = _core._running
    site = call_site()
    cpu = mach.current
    op = flags & RW_OPMASK
    if op not in (RW_WRITE, RW_READ):
        fail(fk.PANIC, f"panic: rw_enter: {lk.name}: bad op 0x{flags:x}", [site])
    if lk.writer is cpu or cpu in lk.readers:
        fail(
            fk.RECURSION,
            f"panic: rw_enter: {lk.name} locking against myself",
            [
                f"first acquired at {format_site(_held_site(cpu, lk))}",
                f"again at {format_site(site)}",
            ],
        )
    if flags & RW_NOSLEEP:
        mach.visible(RW_TRY, lk, None, site)
        cpu.want = op
        if lk.blocks(cpu):
            return EBUSY
        _acquired(mach, cpu, lk, op, site)
        return 0
    if cpu.mutexes:
        held = cpu.mutexes[-1]
        fail(
            fk.SLEEP_WITH_MUTEX,
            f"acquiring blockable sleep lock with spinlock or critical section held "
            f"(rwlock) {lk.name} while holding mtx {held.name}",
            [
                f"{held.name} acquired at {format_site(held.site)}",
                f"rw_enter at {format_site(site)}",
            ],
        )
    if (cpu.mutexes or cpu.rwlocks) and mach.analyses.witness:
        mach.witness.check_order(cpu, lk, site)
    cpu.want = op
    mach.visible(RW_ENTER, lk, None, site, lk)
    _acquired(mach, cpu, lk, op, site)
    return 0


def _held_site(cpu: Any, lk: RWLock) -> tuple | None:
    for held, site in cpu.rwlocks:
        if held is lk:
            return site
    return None


def _acquired(mach: Any, cpu: Any, lk: RWLock, op: int, site: tuple) -> None:
    if op == RW_WRITE:
        lk.writer = cpu
        lk.site = site
    else:
        lk.readers.append(cpu)
    cpu.rwlocks.append((lk, site))
    mach.locks_held += 1
    reevaluate(lk)
    if mach.analyses.races and lk.vcm is mach:
        mine = cpu.vc
        sources = (lk.vc_write, lk.vc_read) if op == RW_WRITE else (lk.vc_write,)
        for vc in sources:
            if vc is not None:
                for i, t in enumerate(vc):
                    if t > mine[i]:
                        mine[i] = t


def release(mach: Any, cpu: Any, lk: RWLock) -> None:
    """Drop `cpu`'s hold on `lk` (rw_exit, or the interlock of a sleep): no visible step."""
    if mach.analyses.races and lk.vcm is not mach:
        lk.vc_write = lk.vc_read = None
        lk.vcm = mach
    if lk.writer is cpu:
        lk.writer = None
        lk.site = None
        if mach.analyses.races:
            lk.vc_write = list(cpu.vc)
    else:
        lk.readers.remove(cpu)
        if mach.analyses.races:
            if lk.vc_read is None:
                lk.vc_read = list(cpu.vc)
            else:
                lk.vc_read = [max(a, b) for a, b in zip(lk.vc_read, cpu.vc, strict=True)]
    if mach.analyses.races:
        cpu.vc[cpu.index] += 1
    for i, (held, _site) in enumerate(cpu.rwlocks):
        if held is lk:
            del cpu.rwlocks[i]
            break
    mach.locks_held -= 1
    reevaluate(lk)


def rw_exit(lk: RWLock) -> None:
    """`rw_exit`: release a read or write hold of the current CPU."""
    mach = _core._running
    site = call_site()
    cpu = mach.current
    if lk.writer is not cpu and cpu not in lk.readers:
        fail(fk.PANIC, f"panic: rw_exit: {lk.name} not held by {cpu.name}", [site])
    mach.visible(RW_EXIT, lk, None, site)
    release(mach, cpu, lk)
    if mach.locks_held == 0:
        mach.after_release(cpu)


def rw_write_held(lk: RWLock) -> bool:
    """`rw_write_held`: write-held by the current CPU."""
    mach = _core._running
    return mach is not None and lk.writer is mach.current


def rw_read_held(lk: RWLock) -> bool:
    """`rw_read_held` as the kernel defines it: read-held by anyone."""
    return bool(lk.readers)


def rw_lock_held(lk: RWLock) -> bool:
    """`rw_lock_held` as the kernel defines it: write-held by me, or read-held by anyone."""
    return rw_write_held(lk) or bool(lk.readers)


def rw_held_by_me(lk: RWLock) -> bool:
    """Stricter than the kernel: read- or write-held by the current CPU itself."""
    mach = _core._running
    return mach is not None and (lk.writer is mach.current or mach.current in lk.readers)


_sites.look_through(globals())  # call sites look through this module's frames
