"""Building blocks for scenario set-up: each runs model code on the set-up CPU.

They reach starting states the way the kernel would: a page is made resident by a fault, made
clean by a completed pageout, put on the inactive queue by `uvm_pagedeactivate`.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import RW_WRITE, atomic_inc_int, atomic_setbits_int, peek, rw_enter, rw_exit
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.kernel_lock import KERNEL_LOCK, KERNEL_UNLOCK
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_amap import amap_lock, amap_lookup, amap_unlock, vm_amap
from uvmsim.uvm.uvm_aobj import uao_set_swslot
from uvmsim.uvm.uvm_fault import fault_entry, uvm_fault_lower, uvm_fault_upper
from uvmsim.uvm.uvm_page import (
    uvm_lock_pageq_for_queue_op,
    uvm_pagedeactivate,
    uvm_pagedequeue,
    uvm_pagefree,
    uvm_pagelookup,
    uvm_unlock_pageq_for_queue_op,
)
from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_CLEAN
from uvmsim.uvm.uvm_swap import uvm_swap_alloc
from uvmsim.uvm.uvmexp import uvmexp


def new_pmap(name: str) -> _pmap.pmap:
    pm = _pmap.pmap(name)
    uvm.pmaps.append(pm)
    return pm


def new_amap(name: str, refs: int = 1) -> vm_amap:
    return vm_amap(name, refs)


def fault_anon(pm: Any, va: int, amap: vm_amap, slot: int, wired: bool = False) -> Any:
    """Zero-fill fault on an amap slot: a new anon with a fresh (dirty) active page, mapped."""
    rc = uvm_fault_upper(fault_entry(pmap=pm, va=va, amap=amap, slot=slot), wired=wired)
    assert rc == 0, f"fault_anon failed: {rc}"
    return peek(amap, "am_anon")[slot]


def fault_object(pm: Any, va: int, uobj: Any, offset: int, wired: bool = False) -> Any:
    """Fault on an aobj page: allocated zero-filled if absent, activated and mapped."""
    rc = uvm_fault_lower(fault_entry(pmap=pm, va=va, uobj=uobj, offset=offset), wired=wired)
    assert rc == 0, f"fault_object failed: {rc}"
    return peek(uobj, "memt")[offset]


def swap_slot() -> int:
    """One swap slot, as the pagedaemon gets one (`uvm_swap_alloc` under the kernel lock)."""
    KERNEL_LOCK()
    slot, _n = uvm_swap_alloc(1, False)
    KERNEL_UNLOCK()
    assert slot != 0, "swap is full"
    return slot


def clean_anon(amap: vm_amap, slot: int) -> None:
    """As a completed pageout would: give the anon a swap slot and mark its page clean."""
    amap_lock(amap)
    anon = amap_lookup(amap, slot)
    pg = anon.an_page
    anon.an_swslot = swap_slot()
    _pmap.pmap_clear_modify(pg)
    atomic_setbits_int(pg, "pg_flags", PG_CLEAN)
    amap_unlock(amap)


def clean_object_page(uobj: Any, offset: int, swap: bool = True) -> None:
    """As a completed pageout would: (aobj) a swap slot, then mark the page clean."""
    rw_enter(uobj.vmobjlock, RW_WRITE)
    pg = uvm_pagelookup(uobj, offset)
    if swap:
        uao_set_swslot(uobj, offset // PAGE_SIZE, swap_slot())
    _pmap.pmap_clear_modify(pg)
    atomic_setbits_int(pg, "pg_flags", PG_CLEAN)
    rw_exit(uobj.vmobjlock)


def _onto_the_lru() -> None:
    """With `lru_batch` (Linux) a new page reaches its list when this CPU's lru_add batch is
    moved, and `folio_deactivate` ignores a page not yet there: drain it first, so that the
    deactivation helpers leave the page where they say (`lru_add_drain`)."""
    if uvm.proto.lru_batch:
        from uvmsim.uvm.mm_swap import lru_add_drain

        lru_add_drain()


def deactivate_anon(amap: vm_amap, slot: int) -> None:
    """`uvm_pagedeactivate` of an anon's page (unmaps it, moves it to the inactive queue)."""
    _onto_the_lru()
    amap_lock(amap)
    pg = amap_lookup(amap, slot).an_page
    uvm_lock_pageq_for_queue_op()
    uvm_pagedeactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    amap_unlock(amap)


def deactivate_object_page(uobj: Any, offset: int) -> None:
    """`uvm_pagedeactivate` of an object page."""
    _onto_the_lru()
    rw_enter(uobj.vmobjlock, RW_WRITE)
    pg = uvm_pagelookup(uobj, offset)
    uvm_lock_pageq_for_queue_op()
    uvm_pagedeactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    rw_exit(uobj.vmobjlock)


def evict_anon(amap: vm_amap, slot: int) -> None:
    """As the pagedaemon does to a clean page: unmap, dequeue (pageq held) and free it.

    Dequeuing first under the pageq lock and freeing with it held works on every protocol:
    before the diff `uvm_pageclean` wants the lock held, after it the page is no longer
    queued so it does not take it again.
    """

    amap_lock(amap)
    anon = amap_lookup(amap, slot)
    pg = anon.an_page
    _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
    atomic_inc_int(uvmexp, "swpgonly")  # this page now lives only in swap
    uvm_lock_pageq()
    uvm_pagedequeue(pg)
    uvm_pagefree(pg)
    uvm_unlock_pageq()
    anon.an_page = None  # as the pagedaemon does after freeing an anon's page
    amap_unlock(amap)


def evict_object_page(uobj: Any, offset: int) -> None:
    """`evict_anon` for an object page (its swap slot keeps the data)."""

    rw_enter(uobj.vmobjlock, RW_WRITE)
    pg = uvm_pagelookup(uobj, offset)
    _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
    atomic_inc_int(uvmexp, "swpgonly")
    uvm_lock_pageq()
    uvm_pagedequeue(pg)
    uvm_pagefree(pg)
    uvm_unlock_pageq()
    rw_exit(uobj.vmobjlock)
