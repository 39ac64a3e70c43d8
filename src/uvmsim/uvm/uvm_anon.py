"""Anons (sys/uvm/uvm_anon.c, uvm_anon.h).

`struct vm_anon`: `an_lock` points at the owning amap's lock once the anon is in an amap (NULL
for a fresh or freed anon); `an_page` the resident page [o]; `an_ref` references [o];
`an_swslot` the swap slot [o] (0: none; SWSLOT_BAD: unusable).
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    Shared,
    SharedObject,
    atomic_dec_int,
    atomic_setbits_int,
    peek,
    poke,
    rw_exit,
    rw_write_held,
)
from uvmsim.machine.sites import inline
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvmexp import uvmexp

SWSLOT_BAD = -1


class vm_anon(SharedObject):
    """`struct vm_anon` (see the module docstring)."""

    an_lock = Shared("", default=None)
    an_page = Shared("o", default=None)
    an_ref = Shared("o")
    an_swslot = Shared("o")

    annotation_locks = {"o": lambda anon: peek(anon, "an_lock")}

    def __init__(self, name: str | None = None):
        super().__init__(name)
        poke(self, "freed", False)
        poke(self, "lock_holds", 0)
        uvm.anons.append(self)


def uvm_analloc(lock: Any = None) -> vm_anon:
    """`uvm_analloc`: a new anon with one reference (pool_get); `lock` becomes its an_lock."""
    anon = vm_anon()
    d = anon.__dict__
    d["an_ref"] = 1
    d["an_lock"] = lock
    return anon


def uvm_anfree_list(anon: vm_anon, pgl: list | None) -> None:
    """`uvm_anfree_list`: free an anon whose last reference is gone (an_lock write-held).

    A busy page (I/O in progress) is marked PG_RELEASED and left for whoever unbusies it; the
    anon stays allocated and an extra hold on its lock is taken.  Otherwise the page is
    unmapped and freed (or cleaned and put on `pgl`); before the diff inside the pageq lock
    "to lock out the pagedaemon" (switch `anfree_list_unlocked`).
    """
    from uvmsim.uvm.uvm_page import uvm_pageclean, uvm_pagefree
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_RELEASED

    lock = anon.an_lock
    KASSERT(
        lock is None or rw_write_held(lock), "anon->an_lock == NULL || rw_write_held(anon->an_lock)"
    )
    KASSERT(anon.an_ref == 0, "anon->an_ref == 0")
    pg = anon.an_page
    if pg is not None:
        KASSERT(lock is not None, "anon->an_lock != NULL")
        if pg.pg_flags & PG_BUSY:
            atomic_setbits_int(pg, "pg_flags", PG_RELEASED)
            poke(anon, "lock_holds", peek(anon, "lock_holds") + 1)  # rw_obj_hold(anon->an_lock)
            return
        _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
        unlocked = uvm.proto.anfree_list_unlocked
        if not unlocked:
            uvm_lock_pageq()
        if pgl is not None:
            uvm_pageclean(pg)
        else:
            uvm_pagefree(pg)
        if not unlocked:
            uvm_unlock_pageq()
        if pgl is not None:
            pgl.insert(0, pg)
    else:
        slot = anon.an_swslot
        if slot not in (0, SWSLOT_BAD):
            KASSERT(peek(uvmexp, "swpgonly") > 0, "uvmexp.swpgonly > 0")
            atomic_dec_int(uvmexp, "swpgonly")
    anon.an_lock = None
    uvm_anon_dropswap(anon)
    KASSERT(anon.an_page is None, "anon->an_page == NULL")
    KASSERT(anon.an_swslot == 0, "anon->an_swslot == 0")
    _pool_put(anon)


def uvm_anfree(anon: vm_anon) -> None:
    """`uvm_anfree`: `uvm_anfree_list(anon, NULL)`."""
    uvm_anfree_list(anon, None)


def uvm_anon_dropswap(anon: vm_anon) -> None:
    """`uvm_anon_dropswap`: release the anon's swap slot, if any (owner lock or no references)."""
    from uvmsim.uvm.uvm_swap import uvm_swap_free

    slot = anon.an_swslot
    if slot == 0:
        return
    if slot != SWSLOT_BAD:
        uvm_swap_free(slot, 1)
    anon.an_swslot = 0


def uvm_anon_release(anon: vm_anon) -> None:
    """`uvm_anon_release`: free a PG_RELEASED|PG_BUSY anon page once its I/O is done.

    Entered with the anon's lock write-held; returns with it released (and the extra hold
    taken by `uvm_anfree_list` dropped).  Before the diff the unmap+free ran inside the pageq
    lock (switch `anon_release_unlocked`).
    """
    from uvmsim.uvm.uvm_page import uvm_pagefree
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_RELEASED

    lock = anon.an_lock
    KASSERT(rw_write_held(lock), "rw_write_held(anon->an_lock)")
    pg = anon.an_page
    KASSERT(pg is not None, "pg != NULL")
    KASSERT(pg.pg_flags & PG_RELEASED, "(pg->pg_flags & PG_RELEASED) != 0")
    KASSERT(pg.pg_flags & PG_BUSY, "(pg->pg_flags & PG_BUSY) != 0")
    KASSERT(pg.uobject is None, "pg->uobject == NULL")
    KASSERT(pg.uanon is anon, "pg->uanon == anon")
    KASSERT(anon.an_ref == 0, "anon->an_ref == 0")
    unlocked = uvm.proto.anon_release_unlocked
    if not unlocked:
        uvm_lock_pageq()
    _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
    uvm_pagefree(pg)
    if not unlocked:
        uvm_unlock_pageq()
    KASSERT(anon.an_page is None, "anon->an_page == NULL")
    uvm_anon_dropswap(anon)
    _pool_put(anon)
    rw_exit(lock)
    poke(anon, "lock_holds", peek(anon, "lock_holds") - 1)  # rw_obj_free(lock)


@inline
def _pool_put(anon: vm_anon) -> None:
    """`pool_put(&uvm_anon_pool, anon)`: the anon is gone (model bookkeeping)."""
    poke(anon, "freed", True)
    if anon in uvm.anons:
        uvm.anons.remove(anon)
