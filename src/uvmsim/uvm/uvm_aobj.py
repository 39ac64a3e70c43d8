"""Anonymous objects (sys/uvm/uvm_aobj.c): swap-backed objects (shared anon memory, tmpfs,
pageable kernel memory).

An aobj is a `uvm_object` with pgops 'aobj' plus a swap slot per page offset (`u_swslots`
[o]).  Its pages carry PQ_AOBJ.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    RW_WRITE,
    Shared,
    atomic_clearbits_int,
    atomic_dec_int_nv,
    atomic_setbits_int,
    peek,
    poke,
    rw_enter,
    rw_exit,
    rw_write_held,
    wakeup,
)
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_object import uvm_obj_init, uvm_object
from uvmsim.uvm.uvm_pager import PGO_ALLPAGES, PGO_CLEANIT, PGO_DEACTIVATE, PGO_FREE, PGO_LOCKED
from uvmsim.uvm.uvm_swap import VM_PAGER_OK

EIO = 5


class uvm_aobj(uvm_object):
    """`struct uvm_aobj`: the object plus its swap slots by page index [o]."""

    u_swslots = Shared("o", default=dict)


def uao_create(
    name: str, npages: int, refs: int = 1, kernel: bool = False, lock: Any = None
) -> uvm_aobj:
    """`uao_create`: a new aobj of `npages` pages (`kernel`: the kernel object, uo_refs -2)."""
    aobj = uvm_aobj(name)
    uvm_obj_init(aobj, "aobj", -2 if kernel else refs, lock)
    poke(aobj, "u_pages", npages)
    return aobj


def uao_find_swslot(uobj: uvm_aobj, pageidx: int) -> int:
    """`uao_find_swslot`: the swap slot of page `pageidx` (0: none); object lock held."""
    return uobj.u_swslots.get(pageidx, 0)


def uao_set_swslot(uobj: uvm_aobj, pageidx: int, slot: int) -> int:
    """`uao_set_swslot`: set a page's swap slot, returning the old one; object lock write-held."""
    old = uobj.u_swslots.get(pageidx, 0)
    uobj.u_swslots = {**uobj.u_swslots, pageidx: slot}
    return old


def uao_dropswap(uobj: uvm_aobj, pageidx: int) -> int:
    """`uao_dropswap`: free a page's swap slot; return it (0 if there was none)."""
    from uvmsim.uvm.uvm_swap import uvm_swap_free

    slot = uao_set_swslot(uobj, pageidx, 0)
    if slot:
        uvm_swap_free(slot, 1)
    return slot


def uao_detach(uobj: uvm_aobj) -> None:
    """`uao_detach`: drop a reference; the last one frees every page, then the object.

    With `vmobjlock` write-held, repeatedly takes the first resident page: unmaps it; waits if
    busy (relock, retry); drops its swap slot and frees it.  Before the diff the free ran
    inside the pageq lock (switch `uao_detach_unlocked`).  The kernel object is never freed.
    """
    from uvmsim.uvm.uvm_page import uvm_pagefree, uvm_pagewait
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY

    if peek(uobj, "uo_refs") == -2:
        return
    if atomic_dec_int_nv(uobj, "uo_refs") > 0:
        return
    lock = uobj.vmobjlock
    rw_enter(lock, RW_WRITE)
    while True:
        memt = uobj.memt
        if not memt:
            break
        pg = memt[min(memt)]
        _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
        if pg.pg_flags & PG_BUSY:
            uvm_pagewait(pg, lock, "uao_det")
            rw_enter(lock, RW_WRITE)
            continue
        uao_dropswap(uobj, pg.offset // PAGE_SIZE)
        unlocked = uvm.proto.uao_detach_unlocked
        if not unlocked:
            uvm_lock_pageq()
        uvm_pagefree(pg)
        if not unlocked:
            uvm_unlock_pageq()
    rw_exit(lock)
    uvm.objects.remove(uobj)  # uao_free


def uao_flush(uobj: uvm_aobj, start: int, stop: int, flags: int) -> bool:
    """`uao_flush`: deactivate or free the resident pages of [start, stop).

    Object lock write-held (KASSERT).  Busy pages are waited for (relock, retry).  Deactivation
    runs under the pageq lock.  PGO_FREE frees unwired pages only when this is the last
    reference (else deactivates them); before the diff the free ran inside the pageq lock
    (switch `uao_flush_unlocked`).  Returns TRUE.
    """
    from uvmsim.uvm.uvm_page import uvm_pagedeactivate, uvm_pagefree, uvm_pagelookup, uvm_pagewait
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY

    lock = uobj.vmobjlock
    KASSERT(rw_write_held(lock), "rw_write_held(uobj->vmobjlock)")
    if flags & PGO_ALLPAGES:
        start, stop = 0, peek(uobj, "u_pages") * PAGE_SIZE
    if not flags & (PGO_DEACTIVATE | PGO_FREE):
        return True
    curoff = start
    while curoff < stop:
        pg = uvm_pagelookup(uobj, curoff)
        if pg is None:
            curoff += PAGE_SIZE
            continue
        if pg.pg_flags & PG_BUSY:
            uvm_pagewait(pg, lock, "uaoflsh")
            rw_enter(lock, RW_WRITE)
            continue
        kind = flags & (PGO_CLEANIT | PGO_FREE | PGO_DEACTIVATE)
        if kind in (PGO_CLEANIT | PGO_FREE, PGO_CLEANIT | PGO_DEACTIVATE, PGO_DEACTIVATE) or (
            kind & PGO_FREE and uobj.uo_refs > 1
        ):
            if pg.wire_count == 0:
                uvm_lock_pageq()
                uvm_pagedeactivate(pg)
                uvm_unlock_pageq()
        elif kind == PGO_FREE:
            if pg.wire_count != 0:
                curoff += PAGE_SIZE
                continue
            _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
            uao_dropswap(uobj, pg.offset // PAGE_SIZE)
            unlocked = uvm.proto.uao_flush_unlocked
            if not unlocked:
                uvm_lock_pageq()
            uvm_pagefree(pg)
            if not unlocked:
                uvm_unlock_pageq()
        else:
            from uvmsim.machine import panic

            panic("uao_flush: weird flags")
        curoff += PAGE_SIZE
    return True


def uao_get(uobj: uvm_aobj, offset: int, flags: int) -> tuple[int, Any]:
    """`uao_get` for one page: (VM_PAGER_OK, page), or an error with the object unlocked.

    PGO_LOCKED: only a resident, non-busy page is returned (not busied), or None.
    Otherwise (object lock write-held) a missing page is allocated busy and either
    zero-filled or read from swap with the object unlocked; a failed swap-in marks the slot
    bad, unbusies and frees the fresh page (before the diff inside the pageq lock, switch
    `uao_get_unlocked`), unlocks the object and returns the error.  The page returned is busy.
    """
    from uvmsim.uvm.uvm_page import uvm_pagealloc, uvm_pagefree, uvm_pagelookup, uvm_pagewait
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, PG_FAKE, PG_RELEASED, PG_WANTED, PQ_AOBJ
    from uvmsim.uvm.uvm_swap import uvm_swap_get, uvm_swap_markbad

    lock = uobj.vmobjlock
    if flags & PGO_LOCKED:
        pg = uvm_pagelookup(uobj, offset)
        if pg is None or pg.pg_flags & (PG_BUSY | PG_RELEASED):
            return VM_PAGER_OK, None
        return VM_PAGER_OK, pg
    KASSERT(rw_write_held(lock), "rw_write_held(uobj->vmobjlock)")
    pageidx = offset // PAGE_SIZE
    while True:
        pg = uvm_pagelookup(uobj, offset)
        if pg is None:
            pg = uvm_pagealloc(uobj, offset, None, 0)
            if pg is None:
                return 12, None  # ENOMEM: the kernel would uvm_wait and retry
            atomic_setbits_int(pg, "pg_flags", PQ_AOBJ)
            break
        if pg.pg_flags & PG_BUSY:
            uvm_pagewait(pg, lock, "uao_get")
            rw_enter(lock, RW_WRITE)
            continue
        atomic_setbits_int(pg, "pg_flags", PG_BUSY)
        return VM_PAGER_OK, pg
    slot = uao_find_swslot(uobj, pageidx)
    if slot == 0:
        from uvmsim.uvm.uvm_page import uvm_pagezero

        uvm_pagezero(pg)
    else:
        rw_exit(lock)
        rv = uvm_swap_get(pg, slot)
        rw_enter(lock, RW_WRITE)
        if rv != VM_PAGER_OK:
            uao_set_swslot(uobj, pageidx, -1)
            uvm_swap_markbad(slot, 1)
            if pg.pg_flags & PG_WANTED:
                wakeup(pg)
            atomic_clearbits_int(pg, "pg_flags", PG_WANTED | PG_BUSY)
            unlocked = uvm.proto.uao_get_unlocked
            if not unlocked:
                uvm_lock_pageq()
            uvm_pagefree(pg)
            if not unlocked:
                uvm_unlock_pageq()
            rw_exit(lock)
            return EIO, None
    atomic_clearbits_int(pg, "pg_flags", PG_FAKE)
    return VM_PAGER_OK, pg
