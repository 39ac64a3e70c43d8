"""Vnode objects (sys/uvm/uvm_vnode.c 1.138 before the seed diff, 1.139 with it, read in 1.140).

A `uvm_vnode` is a `uvm_object` with pgops 'vnode'.  Its I/O (`uvn_io`) is synchronous, as the
kernel's (VOP_READ/VOP_WRITE): the object lock is dropped around it (the pages are busy), and
the VOP runs under the kernel lock, which the thread gives up while it waits for the disk.
`uvn_put` (pageouts, from `uvn_flush` and the pagedaemon) and `uvn_get` (page-ins, from
faults) both go through it.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    RW_WRITE,
    Shared,
    atomic_clearbits_int,
    atomic_setbits_int,
    peek,
    poke,
    rw_enter,
    rw_exit,
    rw_write_held,
    wakeup,
)
from uvmsim.machine.sites import inline
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.kernel_lock import KERNEL_LOCK, KERNEL_UNLOCK, kl_biowait, kl_rw_enter
from uvmsim.uvm.uvm import privlist, uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_object import uvm_obj_init, uvm_object
from uvmsim.uvm.uvm_pager import (
    PGO_ALLPAGES,
    PGO_CLEANIT,
    PGO_DEACTIVATE,
    PGO_DOACTCLUST,
    PGO_DONTCARE,
    PGO_FREE,
    PGO_LOCKED,
    PGO_NOWAIT,
    PGO_SYNCIO,
    uvm_pager_put,
)
from uvmsim.uvm.uvm_swap import VM_PAGER_BAD, VM_PAGER_OK, VM_PAGER_PEND, VM_PAGER_UNLOCK

UIO_READ = 0
UIO_WRITE = 1


class uvm_vnode(uvm_object):
    """`struct uvm_vnode`: the object, the file size (`u_size`, pages beyond it are not
    flushed) and the I/Os in progress (`u_nio` [o])."""

    u_nio = Shared("o")


def uvn_attach(name: str, npages: int, lock: Any = None) -> uvm_vnode:
    """`uvn_attach`: the object of a vnode of `npages` pages."""
    uvn = uvm_vnode(name)
    uvm_obj_init(uvn, "vnode", 1, lock)
    poke(uvn, "u_size", npages * 4096)
    return uvn


def uvn_io(uvn: Any, pps: list, flags: int, rw: int) -> int:
    """`uvn_io` (uvm_vnode.c 1.140): read or write `pps` with VOP_READ/VOP_WRITE.

    Object lock write-held on entry and on return, dropped around the I/O (the pages are
    busy, `u_nio` counts the I/O).  The VOP runs under the kernel lock (taken here,
    recursively for the pagedaemon), and the thread sleeps without it while the disk works.
    Relocking the object may sleep too, which for a kernel-lock holder drops it.  Not
    modelled: UVM_VNODE_IOSYNC waits, the vnode lock (so never AGAIN), I/O errors.
    """
    lock = uvn.vmobjlock
    KASSERT(rw_write_held(lock), "rw_write_held(uobj->vmobjlock)")
    if pps[0].offset >= peek(uvn, "u_size"):
        return VM_PAGER_BAD
    uvn.u_nio = uvn.u_nio + 1
    rw_exit(lock)
    KERNEL_LOCK()
    kl_biowait("vnode_io", pps[0])  # VOP_READ / VOP_WRITE: bread/bwrite, biowait
    KERNEL_UNLOCK()
    kl_rw_enter(lock, RW_WRITE)
    uvn.u_nio = uvn.u_nio - 1
    return VM_PAGER_OK


def uvn_put(uobj: Any, pps: list, flags: int) -> int:
    """`uvn_put` (uvm_vnode.c 1.140): write the pages (object lock write-held): `uvn_io`."""
    KASSERT(rw_write_held(uobj.vmobjlock), "rw_write_held(uobj->vmobjlock)")
    return uvn_io(uobj, pps, flags, UIO_WRITE)


def uvn_get(uobj: Any, offset: int, pps: list, centeridx: int, flags: int) -> tuple[int, int]:
    """`uvn_get` (uvm_vnode.c 1.140): the vnode's pgo_get; (result, pages got).

    - PGO_LOCKED: as `uao_get`'s: resident, non-busy pages, not busied; VM_PAGER_UNLOCK if
      the centre is missing or busy.  The object lock stays held.
    - Otherwise (object lock write-held; returned *unlocked*): get the centre page busy.  A
      missing page is allocated (on shortage `uvm_wait` *with the object lock held*, then
      retry) and read in with `uvn_io`; a busy one is waited for; a resident one busied.  A
      failed read frees the fresh page (no pageq lock since 1.140) and returns the error.
    """
    from uvmsim.uvm.uvm_page import uvm_pagealloc, uvm_pagefree, uvm_pagelookup, uvm_pagewait
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, PG_FAKE, PG_WANTED
    from uvmsim.uvm.uvm_pdaemon import uvm_wait

    lock = uobj.vmobjlock
    if flags & PGO_LOCKED:
        done = True
        gotpages = 0
        for lcv in range(len(pps)):
            if pps[lcv] is PGO_DONTCARE:
                continue
            ptmp = uvm_pagelookup(uobj, offset + lcv * PAGE_SIZE)
            if ptmp is None or ptmp.pg_flags & PG_BUSY:
                if lcv == centeridx:
                    done = False
                continue
            pps[lcv] = ptmp
            gotpages += 1
        return (VM_PAGER_OK if done else VM_PAGER_UNLOCK), gotpages
    KASSERT(rw_write_held(lock), "rw_write_held(uobj->vmobjlock)")
    current_offset = offset + centeridx * PAGE_SIZE
    ptmp = None
    while pps[centeridx] is None:
        ptmp = uvm_pagelookup(uobj, current_offset)
        if ptmp is None:
            ptmp = uvm_pagealloc(uobj, current_offset, None, 0)
            if ptmp is None:
                uvm_wait("uvn_getpage")  # sleeps holding the object lock
                continue
            break
        if ptmp.pg_flags & PG_BUSY:
            uvm_pagewait(ptmp, lock, "uvn_get")
            rw_enter(lock, RW_WRITE)
            continue
        atomic_setbits_int(ptmp, "pg_flags", PG_BUSY)
        pps[centeridx] = ptmp
    if pps[centeridx] is None:
        result = uvn_io(uobj, [ptmp], PGO_SYNCIO | PGO_NOWAIT, UIO_READ)
        if result != VM_PAGER_OK:
            if ptmp.pg_flags & PG_WANTED:
                wakeup(ptmp)
            atomic_clearbits_int(ptmp, "pg_flags", PG_WANTED | PG_BUSY)
            uvm_pagefree(ptmp)
            rw_exit(lock)
            return result, 0
        atomic_clearbits_int(ptmp, "pg_flags", PG_FAKE)
        _pmap.pmap_clear_modify(ptmp)
        pps[centeridx] = ptmp
    rw_exit(lock)
    return VM_PAGER_OK, 1


@inline
def _dispose(pp: Any, dead: privlist | None, dequeue_first: bool) -> None:
    """Free a page `uvn_flush` is done with; the pageq lock is held.

    Before the diff: `uvm_pageclean` (the held pageq lock satisfies its assertion) and onto
    the local dead list, freed in one go at the end.  After it: `uvm_pagedequeue` first (so
    the internal lock of `uvm_pageclean` is not taken again) and `uvm_pagefree` (to this
    CPU's magazine).
    """
    from uvmsim.uvm.uvm_page import uvm_pageclean, uvm_pagedequeue, uvm_pagefree

    if dequeue_first:
        uvm_pagedequeue(pp)
    if dead is None:
        uvm_pagefree(pp)
    else:
        uvm_pageclean(pp)
        dead.pages.append(pp)


def uvn_flush(uobj: Any, start: int, stop: int, flags: int) -> bool:
    """`uvn_flush`: clean, deactivate and/or free the pages of [start, stop).

    Object lock write-held (KASSERT); must not be called with the pageq lock held.  It takes
    the pageq lock for the whole scan, dropping it around `uvm_pagewait` (busy page to free:
    wait, relock object and pageq, retry the offset) and inside `uvm_pager_put` (which
    returns with it released; the scan relocks).  How it frees pages is the diff's hunks
    22-25: a dead list freed once with `uvm_pglistfree` before, per-page `uvm_pagefree` after
    (switch `uvn_flush_free_per_page`), each preceded by a dequeue (switches
    `uvn_flush_dequeue_first`, `uvn_flush_cluster_dequeue_first`).
    """
    from uvmsim.uvm.uvm_page import (
        uvm_drop_pageq_for_queue_op,
        uvm_pagedeactivate,
        uvm_pagelookup,
        uvm_pagewait,
        uvm_pglistfree,
        uvm_retake_pageq_after_queue_op,
    )
    from uvmsim.uvm.uvm_page_h import (
        PAGE_SIZE,
        PG_BUSY,
        PG_CLEAN,
        PG_CLEANCHK,
        PG_RELEASED,
        PG_WANTED,
        PQ_ACTIVE,
    )

    proto = uvm.proto
    lock = uobj.vmobjlock
    KASSERT(rw_write_held(lock), "rw_write_held(uobj->vmobjlock)")
    dead = None if proto.uvn_flush_free_per_page else privlist("dead")
    if flags & PGO_ALLPAGES:
        start, stop = 0, peek(uobj, "u_size")
    else:
        stop = min(stop, peek(uobj, "u_size"))
    if flags & PGO_CLEANIT:
        for curoff in range(start, stop, PAGE_SIZE):
            pp = uvm_pagelookup(uobj, curoff)
            if pp is not None:
                atomic_clearbits_int(pp, "pg_flags", PG_CLEANCHK)
    retval = True
    uvm_lock_pageq()
    curoff = start
    while curoff < stop:
        pp = uvm_pagelookup(uobj, curoff)
        if pp is None:
            curoff += PAGE_SIZE
            continue
        if not flags & PGO_CLEANIT or pp.pg_flags & PG_BUSY:
            needs_clean = False
        else:
            if flags & PGO_FREE and pp.pg_flags & PG_CLEAN and pp.pg_flags & PQ_ACTIVE:
                _pmap.pmap_page_protect(pp, _pmap.PROT_NONE)
            if pp.pg_flags & PG_CLEAN and _pmap.pmap_is_modified(pp):
                atomic_clearbits_int(pp, "pg_flags", PG_CLEAN)
            atomic_setbits_int(pp, "pg_flags", PG_CLEANCHK)
            needs_clean = not pp.pg_flags & PG_CLEAN
        if not needs_clean:
            if flags & PGO_DEACTIVATE:
                if pp.wire_count == 0:
                    uvm_drop_pageq_for_queue_op()
                    uvm_pagedeactivate(pp)
                    uvm_retake_pageq_after_queue_op()
            elif flags & PGO_FREE:
                if pp.pg_flags & PG_BUSY:
                    uvm_unlock_pageq()
                    uvm_pagewait(pp, lock, "uvn_flsh")
                    rw_enter(lock, RW_WRITE)
                    uvm_lock_pageq()
                    continue
                _pmap.pmap_page_protect(pp, _pmap.PROT_NONE)
                _dispose(pp, dead, proto.uvn_flush_dequeue_first)
            curoff += PAGE_SIZE
            continue
        # The page must be cleaned first: busy it, write-protect it, page it out.
        atomic_setbits_int(pp, "pg_flags", PG_BUSY)
        _pmap.pmap_page_protect(pp, _pmap.PROT_READ)
        if flags & PGO_FREE and not flags & PGO_SYNCIO:
            atomic_setbits_int(pp, "pg_flags", PG_RELEASED)
        result = uvm_pager_put(uobj, pp, flags | PGO_DOACTCLUST)
        uvm_lock_pageq()
        if result == VM_PAGER_PEND and not flags & PGO_DEACTIVATE:
            curoff += PAGE_SIZE
            continue
        ptmp = pp
        if result != VM_PAGER_PEND:
            if ptmp.pg_flags & PG_WANTED:
                wakeup(ptmp)
            atomic_clearbits_int(ptmp, "pg_flags", PG_WANTED | PG_BUSY)
            atomic_setbits_int(ptmp, "pg_flags", PG_CLEAN | PG_CLEANCHK)
            if not flags & PGO_FREE:
                _pmap.pmap_clear_modify(ptmp)
        if flags & PGO_DEACTIVATE:
            if ptmp.wire_count == 0:
                uvm_drop_pageq_for_queue_op()
                uvm_pagedeactivate(ptmp)
                uvm_retake_pageq_after_queue_op()
        elif flags & PGO_FREE and result != VM_PAGER_PEND:
            if result != VM_PAGER_OK:
                retval = False
            _pmap.pmap_page_protect(ptmp, _pmap.PROT_NONE)
            _dispose(ptmp, dead, proto.uvn_flush_cluster_dequeue_first)
        curoff += PAGE_SIZE
    uvm_unlock_pageq()
    if dead is not None:
        uvm_pglistfree(dead.pages)
    return retval
