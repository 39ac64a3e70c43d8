"""Page faults (sys/uvm/uvm_fault.c), far enough to find, activate, wire and map pages.

Lock order everywhere: amap lock, then object lock, then the pageq lock only around queue
operations, then pmap locks.  `pmap_enter` runs with the owner lock(s) held and never with
the pageq lock.  The pageq lock is never part of *finding* a page (uvm-semantics.md §6.1).

A fault is described by a `vm_map_entry`-like `fault_entry`: the amap and slot for the upper
(anon) layer, or the object and offset for the lower layer; `wired` asks for a wired fault
(`uvm_fault_wire`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uvmsim.machine import (
    KASSERT,
    RW_WRITE,
    atomic_clearbits_int,
    peek,
    rw_enter,
    rw_exit,
    rw_write_held,
    wakeup,
)
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_amap import amap_add, amap_lock, amap_lookup, amap_unlock

ERESTART = -1
EACCES = 13
ENOMEM = 12


@dataclass
class fault_entry:
    """What a faulting address maps: (amap, slot) above (uobj, offset); the pmap and va."""

    pmap: Any
    va: int
    amap: Any = None
    slot: int = 0
    uobj: Any = None
    offset: int = 0
    prot: int = _pmap.PROT_READ | _pmap.PROT_WRITE


def uvmfault_anonget(entry: fault_entry, anon: Any) -> int:
    """`uvmfault_anonget`: get `anon`'s page resident and unbusy; 0 with the amap locked.

    Busy page: unlock and `uvm_pagewait` (ERESTART).  No page: allocate one busy, unlock,
    read it from swap, relock.  If the anon was freed meanwhile (PG_RELEASED) release it;
    if the read failed, free the never-mapped page (before the diff inside the pageq lock,
    switch `anonget_unlocked`) and return EACCES; else activate it under the pageq lock.
    """
    from uvmsim.uvm.uvm_anon import SWSLOT_BAD, uvm_anon_release
    from uvmsim.uvm.uvm_page import uvm_pageactivate, uvm_pagealloc, uvm_pagefree, uvm_pagewait
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_FAKE, PG_RELEASED, PG_WANTED, PQ_ANON
    from uvmsim.uvm.uvm_swap import VM_PAGER_OK, uvm_swap_get, uvm_swap_markbad

    amap = entry.amap
    lock = amap.am_lock
    KASSERT(anon.an_lock is lock, "anon->an_lock == amap->am_lock")
    KASSERT(rw_write_held(lock), "rw_write_held(anon->an_lock)")
    pg = anon.an_page
    if pg is not None:
        KASSERT(pg.pg_flags & PQ_ANON, "pg->pg_flags & PQ_ANON")
        if not pg.pg_flags & (PG_BUSY | PG_RELEASED):
            return 0
        uvm_pagewait(pg, lock, "anonget")
        return ERESTART
    pg = uvm_pagealloc(None, 0, anon, 0)
    if pg is None:
        amap_unlock(amap)
        return ENOMEM
    amap_unlock(amap)
    result = uvm_swap_get(pg, peek(anon, "an_swslot"))
    amap_lock(amap)
    if pg.pg_flags & PG_WANTED:
        wakeup(pg)
    if pg.pg_flags & PG_RELEASED:
        KASSERT(anon.an_ref == 0, "anon->an_ref == 0")
        uvm_anon_release(anon)
        return ERESTART
    if result != VM_PAGER_OK:
        slot = anon.an_swslot
        anon.an_page = None
        uvm_swap_markbad(slot, 1)
        anon.an_swslot = SWSLOT_BAD
        unlocked = uvm.proto.anonget_unlocked
        if not unlocked:
            uvm_lock_pageq()
        uvm_pagefree(pg)
        if not unlocked:
            uvm_unlock_pageq()
        amap_unlock(amap)
        return EACCES
    _pmap.pmap_clear_modify(pg)
    uvm_lock_pageq()
    uvm_pageactivate(pg)
    uvm_unlock_pageq()
    atomic_clearbits_int(pg, "pg_flags", PG_WANTED | PG_BUSY | PG_FAKE)
    return 0


def uvm_fault_upper(entry: fault_entry, wired: bool = False) -> int:
    """`uvm_fault_upper`: fault on an anon: get its page, map it, then wire or activate it.

    A missing anon is a zero-fill fault (`uvmfault_promote`-like: new anon sharing the amap
    lock, fresh zeroed page).  Returns 0, or an error after unlocking.
    """
    from uvmsim.uvm.uvm_anon import uvm_analloc
    from uvmsim.uvm.uvm_page import uvm_pageactivate, uvm_pagealloc, uvm_pagewire
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_FAKE, UVM_PGA_ZERO

    amap = entry.amap
    while True:
        amap_lock(amap)
        anon = amap_lookup(amap, entry.slot)
        if anon is None:
            anon = uvm_analloc(amap.am_lock)
            pg = uvm_pagealloc(None, 0, anon, UVM_PGA_ZERO)
            if pg is None:
                amap_unlock(amap)
                return ENOMEM
            amap_add(amap, entry.slot, anon)
            atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_FAKE)
            break
        error = uvmfault_anonget(entry, anon)
        if error == ERESTART:
            continue
        if error:
            return error
        break
    pg = anon.an_page
    prot = entry.prot if anon.an_ref == 1 else entry.prot & ~_pmap.PROT_WRITE
    _pmap.pmap_enter(entry.pmap, entry.va, pg, prot)
    uvm_lock_pageq()
    if wired:
        uvm_pagewire(pg)
    else:
        uvm_pageactivate(pg)
    uvm_unlock_pageq()
    amap_unlock(amap)
    return 0


def uvm_fault_lower(entry: fault_entry, wired: bool = False) -> int:
    """`uvm_fault_lower`: fault on an object page: find it, activate, map, wire/activate.

    The object lock is taken (write, as shared lower locking is not enabled); `pgo_get` with
    PGO_LOCKED returns a resident non-busy page, which is activated under the pageq lock and
    mapped with the object lock held.  A missing page is brought in busy (`pgo_get` without
    PGO_LOCKED), activated and unbusied.
    """
    from uvmsim.uvm.uvm_aobj import uao_get
    from uvmsim.uvm.uvm_page import uvm_pageactivate, uvm_pagewire
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_FAKE, PG_WANTED
    from uvmsim.uvm.uvm_pager import PGO_LOCKED
    from uvmsim.uvm.uvm_vnode import uvn_get

    uobj = entry.uobj
    lock = uobj.vmobjlock
    rw_enter(lock, RW_WRITE)
    pgo_get = uao_get if peek(uobj, "pgops") == "aobj" else uvn_get
    _rv, pg = pgo_get(uobj, entry.offset, PGO_LOCKED)
    if pg is not None:
        uvm_lock_pageq()
        uvm_pageactivate(pg)
        uvm_unlock_pageq()
    else:
        if pgo_get is uvn_get:
            rw_exit(lock)
            return EACCES  # reading a file page in is not modelled
        rv, pg = uao_get(uobj, entry.offset, 0)
        if pg is None:
            return rv  # uao_get unlocked the object
        uvm_lock_pageq()
        uvm_pageactivate(pg)
        uvm_unlock_pageq()
        if pg.pg_flags & PG_WANTED:
            wakeup(pg)
        atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_WANTED | PG_FAKE)
    _pmap.pmap_enter(entry.pmap, entry.va, pg, entry.prot)
    uvm_lock_pageq()
    if wired:
        uvm_pagewire(pg)
    else:
        uvm_pageactivate(pg)
    uvm_unlock_pageq()
    rw_exit(lock)
    return 0


def uvm_fault_unwire(entry: fault_entry) -> None:
    """`uvm_fault_unwire_locked` for one page: owner write-locked, then pageq, unwire."""
    from uvmsim.uvm.uvm_page import uvm_pageunwire

    if entry.amap is not None:
        amap_lock(entry.amap)
        anon = amap_lookup(entry.amap, entry.slot)
        pg = anon.an_page
    else:
        rw_enter(entry.uobj.vmobjlock, RW_WRITE)
        from uvmsim.uvm.uvm_page import uvm_pagelookup

        pg = uvm_pagelookup(entry.uobj, entry.offset)
    uvm_lock_pageq()
    uvm_pageunwire(pg)
    uvm_unlock_pageq()
    if entry.amap is not None:
        amap_unlock(entry.amap)
    else:
        rw_exit(entry.uobj.vmobjlock)
