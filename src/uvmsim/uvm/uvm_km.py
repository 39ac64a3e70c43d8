"""Kernel memory (sys/uvm/uvm_km.c): freeing pageable kernel memory.

The kernel object is an aobj (uo_refs UVM_OBJ_KERN) whose pages back pageable kernel
virtual memory; they are mapped in the kernel pmap.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import KASSERT, RW_WRITE, atomic_sub_int, rw_enter, rw_write_held
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvmexp import uvmexp


def uvm_km_pgremove(uobj: Any, kpmap: Any, sva: int, eva: int, kva_base: int) -> None:
    """`uvm_km_pgremove`: unmap [sva, eva) from the kernel pmap, then free its pages.

    Kernel VA `va` is object offset `va - kva_base` (the start of the kernel map).

    Object lock write-held (KASSERT).  The kernel VA goes first, so nobody can fault the pages
    back; busy pages are waited for (relock, retry); each page's swap slot is dropped and the
    page freed (before the diff inside the pageq lock, switch `km_pgremove_unlocked`); swap-only
    pages adjust swpgonly.
    """
    from uvmsim.uvm.uvm_aobj import uao_dropswap
    from uvmsim.uvm.uvm_page import uvm_pagefree, uvm_pagelookup, uvm_pagewait
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY

    lock = uobj.vmobjlock
    KASSERT(rw_write_held(lock), "rw_write_held(uobj->vmobjlock)")
    _pmap.pmap_remove(kpmap, sva, eva)
    swpgonlydelta = 0
    curoff = sva - kva_base
    while curoff < eva - kva_base:
        pp = uvm_pagelookup(uobj, curoff)
        if pp is not None and pp.pg_flags & PG_BUSY:
            uvm_pagewait(pp, lock, "km_pgrm")
            rw_enter(lock, RW_WRITE)
            continue
        slot = uao_dropswap(uobj, curoff // PAGE_SIZE)
        if pp is not None:
            unlocked = uvm.proto.km_pgremove_unlocked
            if not unlocked:
                uvm_lock_pageq()
            uvm_pagefree(pp)
            if not unlocked:
                uvm_unlock_pageq()
        elif slot != 0:
            swpgonlydelta += 1
        curoff += PAGE_SIZE
    if swpgonlydelta > 0:
        atomic_sub_int(uvmexp, "swpgonly", swpgonlydelta)
