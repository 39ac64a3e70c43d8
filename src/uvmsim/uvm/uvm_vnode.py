"""Vnode objects (sys/uvm/uvm_vnode.c): the page cache of files.

A `uvm_vnode` is a `uvm_object` with pgops 'vnode'.  `uvn_put` writes pages to the file
synchronously in the model (the kernel may complete asynchronously; the model's async
completion path is the swap one, through the aiodone daemon).
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    RW_WRITE,
    atomic_clearbits_int,
    atomic_setbits_int,
    kernel_work,
    peek,
    poke,
    rw_enter,
    rw_write_held,
    wakeup,
)
from uvmsim.machine.sites import inline
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import privlist, uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_object import uvm_obj_init, uvm_object
from uvmsim.uvm.uvm_pager import (
    PGO_ALLPAGES,
    PGO_CLEANIT,
    PGO_DEACTIVATE,
    PGO_DOACTCLUST,
    PGO_FREE,
    PGO_LOCKED,
    PGO_SYNCIO,
    uvm_pager_put,
)
from uvmsim.uvm.uvm_swap import VM_PAGER_OK, VM_PAGER_PEND


class uvm_vnode(uvm_object):
    """`struct uvm_vnode`: the object plus the file size (pages beyond it are not flushed)."""


def uvn_attach(name: str, npages: int, lock: Any = None) -> uvm_vnode:
    """`uvn_attach`: the object of a vnode of `npages` pages."""
    uvn = uvm_vnode(name)
    uvm_obj_init(uvn, "vnode", 1, lock)
    poke(uvn, "u_size", npages * 4096)
    return uvn


def uvn_put(uobj: Any, pps: list, flags: int) -> int:
    """`uvn_put`: write the pages to the file (object lock held): VM_PAGER_OK."""
    kernel_work("vnode_io", pps[0])
    return VM_PAGER_OK


def uvn_get(uobj: Any, offset: int, flags: int) -> tuple[int, Any]:
    """`uvn_get` with PGO_LOCKED: a resident, non-busy page (not busied), or None."""
    from uvmsim.uvm.uvm_page import uvm_pagelookup
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_RELEASED

    KASSERT(flags & PGO_LOCKED, "flags & PGO_LOCKED")
    pg = uvm_pagelookup(uobj, offset)
    if pg is None or pg.pg_flags & (PG_BUSY | PG_RELEASED):
        return VM_PAGER_OK, None
    return VM_PAGER_OK, pg


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
    from uvmsim.uvm.uvm_page import uvm_pagedeactivate, uvm_pagelookup, uvm_pagewait, uvm_pglistfree
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
                    uvm_pagedeactivate(pp)
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
                uvm_pagedeactivate(ptmp)
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
