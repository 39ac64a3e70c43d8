"""The kernel lock (sys/kern/kern_lock.c `__mp_lock`, sys/sys/systm.h `KERNEL_LOCK()`).

`KERNEL_LOCK` is one big recursive spinning lock.  A thread that holds it may sleep: the
scheduler (`mi_switch`) releases every level of it before switching away and takes the
same number of levels back when the thread runs again.  WITNESS does not order it against
sleeping locks, because a thread blocked on an rwlock never holds it.

In the model it is the machine mutex `uvm.kernel_lock` (IPL_NONE, so it raises no IPL),
with the recursion count kept per CPU in `curcpu().local`.  The machine forbids sleeping
or blocking in `rw_enter` while a mutex is held, which is exactly the rule the kernel's
`mi_switch` enforces by dropping the kernel lock: model code that may sleep while holding it
goes through `kl_rw_enter`, `kl_biowait` or `kernel_lock_release_all`, each of which drops
it first, as the scheduler would.  A forgotten one is reported by the machine as sleeping
with a spin lock held.

Where the model takes it (docs/model.md lists where it does not): around swap I/O
(`uvm_swap_get`, `uvm_swap_free`, asserted in `uvm_swap_io`/`uvm_swap_alloc`), in the
pagedaemon while it runs, in the aiodone daemon around buffer completion, around
`VOP_READ`/`VOP_WRITE` in `uvn_io`, and in the buffer cache (`vfs_biomem.c`, whose callers
run under it).
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    RW_NOSLEEP,
    curcpu,
    kernel_work,
    mtx_enter,
    mtx_leave,
    mtx_owned,
    rw_enter,
    splx,
)
from uvmsim.machine.sites import inline
from uvmsim.machine.spl import splraise
from uvmsim.uvm.uvm import uvm

_DEPTH = "kernel_lock_depth"


def _kernel_lock_held() -> bool:
    """`_kernel_lock_held()`: this CPU holds the kernel lock (no visible operation)."""
    return mtx_owned(uvm.kernel_lock)


def KERNEL_LOCK() -> None:
    """`KERNEL_LOCK()` (`_kernel_lock` -> `__mp_lock`): spin for it, or count one more level."""
    local = curcpu().local
    if mtx_owned(uvm.kernel_lock):
        local[_DEPTH] += 1
        return
    mtx_enter(uvm.kernel_lock)
    local[_DEPTH] = 1


def KERNEL_UNLOCK() -> None:
    """`KERNEL_UNLOCK()` (`__mp_unlock`): drop one level; the last one releases it."""
    local = curcpu().local
    KASSERT(mtx_owned(uvm.kernel_lock), "__mp_lock_held(&kernel_lock, curcpu())")
    local[_DEPTH] -= 1
    if local[_DEPTH] == 0:
        mtx_leave(uvm.kernel_lock)


def KERNEL_ASSERT_LOCKED() -> None:
    """`KERNEL_ASSERT_LOCKED()`: panic unless this CPU holds the kernel lock."""
    KASSERT(mtx_owned(uvm.kernel_lock), "_kernel_lock_held()")


def kernel_lock_release_all() -> tuple[int, int]:
    """`__mp_release_all(&kernel_lock)` as `mi_switch` does before sleeping.

    Returns what `kernel_lock_acquire_count` needs to take it back: the levels held (0 if
    none) and the IPL the thread ran at (releasing a mutex restores the IPL it was taken
    at; a sleeping thread keeps its own).
    """
    if not mtx_owned(uvm.kernel_lock):
        return 0, -1
    local = curcpu().local
    depth = local[_DEPTH]
    ipl = splraise(0)
    local[_DEPTH] = 0
    mtx_leave(uvm.kernel_lock)
    return depth, ipl


def kernel_lock_acquire_count(saved: tuple[int, int]) -> None:
    """`__mp_acquire_count(&kernel_lock, n)`: take back the levels released before a sleep."""
    depth, ipl = saved
    if depth == 0:
        return
    mtx_enter(uvm.kernel_lock)
    curcpu().local[_DEPTH] = depth
    splx(ipl)


def kl_rw_enter(lock: Any, flags: int) -> int:
    """`rw_enter(lock, flags)` by a thread that may hold the kernel lock.

    Without the kernel lock it is plain `rw_enter`.  With it, the lock is taken at once if
    it is free; otherwise the thread would sleep in `rw_enter`, so the kernel lock goes for
    the sleep and comes back once the rwlock is ours (the kernel takes it back on wakeup and
    then retries the rwlock; the model takes the rwlock first: either way the thread never
    sleeps holding the kernel lock).
    """
    if not mtx_owned(uvm.kernel_lock):
        return rw_enter(lock, flags)
    if rw_enter(lock, flags | RW_NOSLEEP) == 0:
        return 0
    saved = kernel_lock_release_all()
    rw_enter(lock, flags)
    kernel_lock_acquire_count(saved)
    return 0


@inline
def kl_biowait(what: str, obj: Any = None) -> None:
    """`biowait(bp)` for a synchronous I/O: the thread sleeps until the disk is done.

    The I/O time is the work `what`; a thread that holds the kernel lock sleeps without it.
    """
    saved = kernel_lock_release_all()
    kernel_work(what, obj)
    kernel_lock_acquire_count(saved)
