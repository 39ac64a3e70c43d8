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
    atomic_inc_int,
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


def uao_reference(uobj: uvm_aobj) -> None:
    """`uao_reference`: one more reference (a shmat, a fork of a mapping); atomic, no lock.
    The kernel object is never referenced or freed."""
    if peek(uobj, "uo_refs") == -2:
        return
    atomic_inc_int(uobj, "uo_refs")


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
    from uvmsim.uvm.uvm_page import (
        uvm_lock_pageq_for_queue_op,
        uvm_pagedeactivate,
        uvm_pagefree,
        uvm_pagelookup,
        uvm_pagewait,
        uvm_unlock_pageq_for_queue_op,
    )
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
                uvm_lock_pageq_for_queue_op()
                uvm_pagedeactivate(pg)
                uvm_unlock_pageq_for_queue_op()
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


def uao_get(uobj: uvm_aobj, offset: int, pps: list, centeridx: int, flags: int) -> tuple[int, int]:
    """`uao_get` (uvm_aobj.c 1.115/1.116): the aobj's pgo_get; (result, pages got).

    `pps` holds one entry per page from `offset`; PGO_DONTCARE entries are skipped.
    - PGO_LOCKED (object lock held, kept): fill in every resident, non-busy page, not
      busying it; never sleeps.  VM_PAGER_UNLOCK if the centre page is missing or busy.
    - Otherwise (object lock write-held; returned *unlocked*, on success and on error):
      get the centre page busy.  A missing page is allocated (on shortage: unlock,
      `uvm_wait`, relock, retry; never ENOMEM) and zero-filled, or read from swap with the
      object unlocked; a busy page is waited for (relock, retry); a resident one is busied.
      A failed swap-in marks the slot bad, unbusies and frees the fresh page (before the
      diff inside the pageq lock, switch `uao_get_unlocked`) and returns the error.  The
      page comes back busy, valid and clean: the caller unbusies and activates it.
    """
    from uvmsim.uvm.uvm_page import (
        uvm_pagealloc,
        uvm_pagefree,
        uvm_pagelookup,
        uvm_pagewait,
        uvm_pagezero,
    )
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, PG_FAKE, PG_WANTED, PQ_AOBJ
    from uvmsim.uvm.uvm_pager import PGO_DONTCARE
    from uvmsim.uvm.uvm_pdaemon import uvm_wait
    from uvmsim.uvm.uvm_swap import (
        PGO_SYNCIO,
        SWSLOT_BAD,
        VM_PAGER_UNLOCK,
        uvm_swap_get,
        uvm_swap_markbad,
    )

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
    pageidx = current_offset // PAGE_SIZE
    ptmp = None
    while pps[centeridx] is None:
        ptmp = uvm_pagelookup(uobj, current_offset)
        if ptmp is None:
            ptmp = uvm_pagealloc(uobj, current_offset, None, 0)
            if ptmp is None:
                rw_exit(lock)
                uvm_wait("uao_getpage")
                rw_enter(lock, RW_WRITE)
                continue
            atomic_setbits_int(ptmp, "pg_flags", PQ_AOBJ)
            break
        if ptmp.pg_flags & PG_BUSY:
            uvm_pagewait(ptmp, lock, "uao_get")
            rw_enter(lock, RW_WRITE)
            continue
        atomic_setbits_int(ptmp, "pg_flags", PG_BUSY)
        pps[centeridx] = ptmp
    if pps[centeridx] is None:
        swslot = uao_find_swslot(uobj, pageidx)
        if swslot == 0:
            uvm_pagezero(ptmp)
        else:
            rw_exit(lock)
            rv = uvm_swap_get(ptmp, swslot, PGO_SYNCIO)
            rw_enter(lock, RW_WRITE)
            if rv != VM_PAGER_OK:
                swslot = uao_set_swslot(uobj, pageidx, SWSLOT_BAD)
                uvm_swap_markbad(swslot, 1)
                if ptmp.pg_flags & PG_WANTED:
                    wakeup(ptmp)
                atomic_clearbits_int(ptmp, "pg_flags", PG_WANTED | PG_BUSY)
                unlocked = uvm.proto.uao_get_unlocked
                if not unlocked:
                    uvm_lock_pageq()
                uvm_pagefree(ptmp)
                if not unlocked:
                    uvm_unlock_pageq()
                rw_exit(lock)
                return rv, 0
        atomic_clearbits_int(ptmp, "pg_flags", PG_FAKE)
        _pmap.pmap_clear_modify(ptmp)
        pps[centeridx] = ptmp
    rw_exit(lock)
    return VM_PAGER_OK, 1
