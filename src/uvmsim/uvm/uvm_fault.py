"""Page faults (sys/uvm/uvm_fault.c 1.164 before the seed diff; read in 1.166 and 1.171).

`uvm_fault` is the kernel's loop: `uvm_fault_check` works out the range of interest around
the faulting page from the map entry's advice (`uvmadvice`: MADV_NORMAL 3 pages back and 4
forward, MADV_SEQUENTIAL 8 back, deactivated and dropped, and 7 forward, MADV_RANDOM none;
a wired fault, and any refault, looks at the faulting page only) and locks the amap;
`uvm_fault_upper_lookup` maps the resident, unbusy, unmapped neighbour anon pages, each
activated under its own pageq lock round trip; then the faulting page is handled in the
upper layer (`uvm_fault_upper`: its anon exists) or the lower one (`uvm_fault_lower`:
`uvm_fault_lower_lookup` does the same for the object's resident neighbours under the
object lock; a missing object page is read in by `uvm_fault_lower_io`, whose `pgo_get`
returns with the object unlocked; no object is a zero-fill fault).  ERESTART loops.

Lock order everywhere: amap lock, then object lock, then the pageq lock only around queue
operations, then pmap locks.  `pmap_enter` runs with the owner lock(s) held (or the page
busy) and never with the pageq lock.  The pageq lock is never part of *finding* a page
(uvm-semantics.md §6.1).  Locks are taken for writing: shared amap/object locking is not
enabled in 2025 (`#if notyet`).

A fault is described by a `vm_map_entry`-like `fault_entry`: the amap and slot for the upper
(anon) layer and/or the object and offset for the lower layer at the faulting `va`, the
entry's protection and advice, and its range [start, end) (by default the faulting page
alone, so that there are no neighbours); `wired` asks for a wired fault (`uvm_fault_wire`).
Not modelled: the map and its locking, copy-on-write (needs-copy, promotion of object pages
and of shared anons), `pgo_fault` pagers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uvmsim.machine import (
    KASSERT,
    RW_READ,
    RW_WRITE,
    atomic_clearbits_int,
    peek,
    rw_enter,
    rw_exit,
    rw_write_held,
    unlocked_read,
    wakeup,
)
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_amap import amap_add, amap_lock, amap_lookup, amap_unlock
from uvmsim.uvm.uvm_page import uvm_lock_pageq_for_queue_op, uvm_unlock_pageq_for_queue_op
from uvmsim.uvm.uvm_page_h import PAGE_SIZE

ERESTART = -1
EIO = 5
EACCES = 13
ENOMEM = 12

# madvise(2) advice (sys/mman.h)
MADV_NORMAL = 0
MADV_RANDOM = 1
MADV_SEQUENTIAL = 2

UVM_MAXRANGE = 16


def _atop(nbytes: int) -> int:
    return nbytes // PAGE_SIZE


def uvmfault_init() -> dict[int, tuple[int, int]]:
    """`uvmfault_init` (uvm_fault.c 1.171): the `uvmadvice` table, advice -> (nback, nforw).

    Filled from byte sizes at boot: MADV_NORMAL looks 16 KiB forward and one page less
    back, MADV_SEQUENTIAL 32 KiB back and one page less forward; MADV_RANDOM is never set
    (zero: the faulting page alone).  Both stay within UVM_MAXRANGE.
    """
    normal_forw = _atop(16 * 1024)
    seq_back = _atop(32 * 1024)
    table = {
        MADV_NORMAL: (normal_forw - 1, normal_forw),
        MADV_RANDOM: (0, 0),
        MADV_SEQUENTIAL: (seq_back, seq_back - 1),
    }
    for nback, nforw in table.values():
        KASSERT(nback + nforw + 1 <= UVM_MAXRANGE, "npages <= UVM_MAXRANGE")
    return table


uvmadvice = uvmfault_init()


@dataclass
class fault_entry:
    """What a faulting address maps (a `vm_map_entry` and the faulting `va`).

    `amap`/`slot` and `uobj`/`offset` are the anon slot and object offset *of `va`*; the
    entry covers [start, end) (None: the page at `va` alone) with the same linear layout,
    so the page at `va + k*PAGE_SIZE` is slot `slot + k` and offset `offset + k*PAGE_SIZE`.
    `prot` is the entry's protection, `advice` its madvise(2) advice.
    """

    pmap: Any
    va: int
    amap: Any = None
    slot: int = 0
    uobj: Any = None
    offset: int = 0
    prot: int = _pmap.PROT_READ | _pmap.PROT_WRITE
    advice: int = MADV_NORMAL
    start: int | None = None
    end: int | None = None

    @property
    def entry_start(self) -> int:
        return self.va if self.start is None else self.start

    @property
    def entry_end(self) -> int:
        return self.va + PAGE_SIZE if self.end is None else self.end

    def slot_at(self, va: int) -> int:
        return self.slot + (va - self.va) // PAGE_SIZE

    def offset_at(self, va: int) -> int:
        return self.offset + (va - self.va)


def fault_range(
    pmap: Any,
    start: int,
    npages: int,
    index: int,
    *,
    amap: Any = None,
    slot: int = 0,
    uobj: Any = None,
    offset: int = 0,
    prot: int = _pmap.PROT_READ | _pmap.PROT_WRITE,
    advice: int = MADV_NORMAL,
) -> fault_entry:
    """The fault on page `index` of a mapping of `npages` pages at `start`.

    The mapping is amap slots `slot`.. and/or object offsets `offset`..; faults on it see
    the other pages of the mapping as neighbours (fault-ahead).
    """
    va = start + index * PAGE_SIZE
    return fault_entry(
        pmap=pmap,
        va=va,
        amap=amap,
        slot=slot + index,
        uobj=uobj,
        offset=offset + index * PAGE_SIZE,
        prot=prot,
        advice=advice,
        start=start,
        end=start + npages * PAGE_SIZE,
    )


class faultctx:
    """`struct uvm_faultctx`: the range of interest and what the fault found in it."""

    __slots__ = ("anons", "centeridx", "lower_lock_type", "narrow", "npages", "startva", "wired")

    def __init__(self, wired: bool):
        self.wired = wired
        # The object lock is shared for a read fault (uvm_fault 1.171 starts both lock types
        # as RW_READ; a write or wired fault makes them RW_WRITE).  The amap lock the model
        # always takes for writing (docs/model.md).
        self.lower_lock_type = RW_READ
        self.narrow = False
        self.startva = 0
        self.npages = 1
        self.centeridx = 0
        self.anons: list = []


def uvm_fault(entry: fault_entry, wired: bool = False) -> int:
    """`uvm_fault` (uvm_fault.c 1.171): handle a fault on `entry.va`; 0 or an error.

    Loops while a step asks to restart (ERESTART); a restarted fault is narrow (the range
    of interest is worked out once per fault).
    """
    flt = faultctx(wired)
    while True:
        error = uvm_fault_check(entry, flt)
        if error:
            return error
        shadowed, pages = uvm_fault_upper_lookup(entry, flt)
        if shadowed:
            error = uvm_fault_upper(entry, wired, flt=flt)
        else:
            error = uvm_fault_lower(entry, wired, flt=flt, pages=pages)
        if error != ERESTART:
            return error


def uvm_fault_check(entry: fault_entry, flt: faultctx) -> int:
    """`uvm_fault_check` (uvm_fault.c 1.171): the range of interest; lock the amap.

    The range is `uvmadvice[advice]` around the faulting page, clipped to the entry; a
    wired fault, and every pass after the first, is narrow.  With an amap, it is locked and
    the anons of the range looked up.  MADV_SEQUENTIAL deactivates the back pages (anons
    through `uvmfault_anonflush`, the object through `pgo_flush(PGO_DEACTIVATE)` under its
    lock) and drops them from the range.
    """
    if flt.wired:
        flt.narrow = True
        flt.lower_lock_type = RW_WRITE
    if entry.prot & _pmap.PROT_WRITE:
        # The model knows no access type apart from the entry's protection: a fault on a
        # writable entry is taken as a write fault, which dirties the object (RW_WRITE).
        flt.lower_lock_type = RW_WRITE
    nback = 0
    if not flt.narrow:
        adv_back, adv_forw = uvmadvice[entry.advice]
        nback = min(adv_back, (entry.va - entry.entry_start) // PAGE_SIZE)
        nforw = min(adv_forw, (entry.entry_end - entry.va) // PAGE_SIZE - 1)
        flt.startva = entry.va - nback * PAGE_SIZE
        flt.npages = nback + nforw + 1
        flt.centeridx = nback
        flt.narrow = True
    else:
        flt.startva = entry.va
        flt.npages = 1
        flt.centeridx = 0
    amap = entry.amap
    if amap is not None:
        amap_lock(amap)
        flt.anons = [
            amap_lookup(amap, entry.slot_at(flt.startva + i * PAGE_SIZE)) for i in range(flt.npages)
        ]
    else:
        flt.anons = [None] * flt.npages
    if entry.advice == MADV_SEQUENTIAL and nback != 0:
        if amap is not None:
            uvmfault_anonflush(flt.anons[:nback])
        uobj = entry.uobj
        if uobj is not None:
            from uvmsim.uvm.uvm_pager import PGO_DEACTIVATE

            uoff = entry.offset_at(flt.startva)
            flt.lower_lock_type = RW_WRITE
            rw_enter(uobj.vmobjlock, RW_WRITE)
            _pgo_flush(uobj, uoff, uoff + nback * PAGE_SIZE, PGO_DEACTIVATE)
            rw_exit(uobj.vmobjlock)
        flt.anons = flt.anons[nback:]
        flt.startva += nback * PAGE_SIZE
        flt.npages -= nback
        flt.centeridx = 0
    return 0


def uvmfault_anonflush(anons: list) -> None:
    """`uvmfault_anonflush`: deactivate the resident, unbusy pages of `anons`.

    The amap lock is held; each page costs one pageq lock round trip (a wired page is left
    alone inside it).
    """
    from uvmsim.uvm.uvm_page import uvm_pagedeactivate
    from uvmsim.uvm.uvm_page_h import PG_BUSY

    for anon in anons:
        if anon is None:
            continue
        pg = anon.an_page
        if pg is not None and not pg.pg_flags & PG_BUSY:
            uvm_lock_pageq_for_queue_op()
            if pg.wire_count == 0:
                uvm_pagedeactivate(pg)
            uvm_unlock_pageq_for_queue_op()


def _pgo_get(uobj: Any) -> Any:
    from uvmsim.uvm.uvm_aobj import uao_get
    from uvmsim.uvm.uvm_vnode import uvn_get

    return uao_get if peek(uobj, "pgops") == "aobj" else uvn_get


def _pgo_flush(uobj: Any, start: int, stop: int, flags: int) -> None:
    from uvmsim.uvm.uvm_aobj import uao_flush
    from uvmsim.uvm.uvm_vnode import uvn_flush

    (uao_flush if peek(uobj, "pgops") == "aobj" else uvn_flush)(uobj, start, stop, flags)


def uvm_fault_upper_lookup(entry: fault_entry, flt: faultctx) -> tuple[bool, list]:
    """`uvm_fault_upper_lookup` (uvm_fault.c 1.171): map the neighbour anons' pages.

    Amap locked (if any).  For each page of the range: no anon -> left to the lower layer;
    the centre's anon -> the fault is "shadowed" (upper); a neighbour anon whose page is
    resident, neither busy nor released, and whose va is not mapped yet
    (`pmap_extract`) -> one pageq lock round trip to activate it (nothing is batched), then
    `pmap_enter` (read-only if the anon is shared; the result is ignored).  Returns
    (shadowed, pages), `pages` marking the anon slots PGO_DONTCARE for the lower layer.
    """
    from uvmsim.uvm.uvm_page import uvm_pageactivate
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_RELEASED
    from uvmsim.uvm.uvm_pager import PGO_DONTCARE

    amap = entry.amap
    shadowed = False
    pages: list = [None] * flt.npages
    for lcv in range(flt.npages):
        anon = flt.anons[lcv]
        if amap is None or anon is None:
            continue
        pages[lcv] = PGO_DONTCARE
        if lcv == flt.centeridx:
            shadowed = True
            continue
        currva = flt.startva + lcv * PAGE_SIZE
        pg = anon.an_page
        KASSERT(anon.an_lock is amap.am_lock, "anon->an_lock == amap->am_lock")
        if (
            pg is not None
            and not pg.pg_flags & (PG_RELEASED | PG_BUSY)
            and not _pmap.pmap_extract(entry.pmap, currva)
        ):
            uvm_lock_pageq_for_queue_op()
            uvm_pageactivate(pg)
            uvm_unlock_pageq_for_queue_op()
            KASSERT(not flt.wired, "flt->wired == FALSE")
            prot = entry.prot & ~_pmap.PROT_WRITE if anon.an_ref > 1 else entry.prot
            _pmap.pmap_enter(entry.pmap, currva, pg, prot)
    return shadowed, pages


def uvmfault_anonget(entry: fault_entry, anon: Any) -> int:
    """`uvmfault_anonget` (uvm_fault.c 1.164/1.165): `anon`'s page resident and unbusy.

    Returns 0 with the amap locked, or an error/ERESTART with it unlocked.  Busy page:
    unlock and `uvm_pagewait` (ERESTART).  No page: allocate one busy (on shortage the model
    returns ENOMEM where the kernel waits and restarts), unlock, read it from swap
    (`uvm_swap_get`: kernel lock, `swpgonly` decremented on success), relock.  If the anon
    was freed meanwhile (PG_RELEASED) release it; if the read failed, free the never-mapped
    page (before the diff inside the pageq lock, switch `anonget_unlocked`) and return
    EACCES; else activate it under the pageq lock.  As in 1.171, PG_WANTED is cleared on
    the success path only: a page a sleeper waited on is freed with it set (finding F3;
    switch `anonget_error_clears_wanted` is the fix, as 1.61 cleared it after the wakeup).
    """
    from uvmsim.uvm.uvm_anon import SWSLOT_BAD, uvm_anon_release
    from uvmsim.uvm.uvm_page import uvm_pageactivate, uvm_pagealloc, uvm_pagefree, uvm_pagewait
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_FAKE, PG_RELEASED, PG_WANTED, PQ_ANON
    from uvmsim.uvm.uvm_swap import PGO_SYNCIO, VM_PAGER_OK, uvm_swap_get, uvm_swap_markbad

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
    result = uvm_swap_get(pg, peek(anon, "an_swslot"), PGO_SYNCIO)
    amap_lock(amap)
    if pg.pg_flags & PG_WANTED:
        wakeup(pg)
        if uvm.proto.anonget_error_clears_wanted:
            # the fix for finding F3: the sleepers are woken, so the bit has done its work;
            # left set, the error path below frees a page that carries it
            atomic_clearbits_int(pg, "pg_flags", PG_WANTED)
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
    uvm_lock_pageq_for_queue_op()
    uvm_pageactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    atomic_clearbits_int(pg, "pg_flags", PG_WANTED | PG_BUSY | PG_FAKE)
    return 0


def uvm_fault_upper(entry: fault_entry, wired: bool = False, flt: faultctx | None = None) -> int:
    """`uvm_fault_upper` (uvm_fault.c 1.171): the faulting page's anon exists.

    Amap locked on entry.  `uvmfault_anonget` makes its page resident and unbusy (swapping
    it in if needed; on ERESTART or an error it has unlocked everything); the page is
    mapped (read-only if the anon is shared), then wired or activated under one pageq lock
    round trip.  A wired anon page gives its swap slot back (`uvm_anon_dropswap`) and is no
    longer clean.  Returns 0 with nothing locked.

    Called without `flt`, as the simulator's workloads do, it is the whole fault
    (`uvm_fault`) on `entry`.
    """
    from uvmsim.uvm.uvm_anon import uvm_anon_dropswap
    from uvmsim.uvm.uvm_page import uvm_pageactivate, uvm_pagewire
    from uvmsim.uvm.uvm_page_h import PG_CLEAN

    if flt is None:
        return uvm_fault(entry, wired)
    amap = entry.amap
    anon = flt.anons[flt.centeridx]
    KASSERT(anon.an_lock is amap.am_lock, "anon->an_lock == amap->am_lock")
    error = uvmfault_anonget(entry, anon)
    if error:
        return error
    pg = anon.an_page
    prot = entry.prot if anon.an_ref == 1 else entry.prot & ~_pmap.PROT_WRITE
    _pmap.pmap_enter(entry.pmap, entry.va, pg, prot)
    uvm_lock_pageq_for_queue_op()
    if flt.wired:
        uvm_pagewire(pg)
    else:
        uvm_pageactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    if flt.wired:
        atomic_clearbits_int(pg, "pg_flags", PG_CLEAN)
        uvm_anon_dropswap(anon)
    amap_unlock(amap)
    return 0


def uvm_fault_lower_lookup(entry: fault_entry, flt: faultctx, pages: list) -> Any:
    """`uvm_fault_lower_lookup` (uvm_fault.c 1.171): the object's resident pages of the range.

    Takes the object lock (`flt.lower_lock_type`: shared for a read fault) and keeps it.
    `pgo_get(PGO_LOCKED)` fills in resident,
    unbusy pages (never busying them).  Each neighbour whose va is not mapped yet is
    activated under its own pageq lock round trip (unless wired) and mapped; the centre
    page, if found, is returned (not activated here).
    """
    from uvmsim.uvm.uvm_page import uvm_pageactivate
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_RELEASED
    from uvmsim.uvm.uvm_pager import PGO_DONTCARE, PGO_LOCKED

    uobj = entry.uobj
    rw_enter(uobj.vmobjlock, flt.lower_lock_type)
    _rv, gotpages = _pgo_get(uobj)(
        uobj, entry.offset_at(flt.startva), pages, flt.centeridx, PGO_LOCKED
    )
    if gotpages == 0:
        return None
    uobjpage = None
    for lcv in range(flt.npages):
        pg = pages[lcv]
        if pg is None or pg is PGO_DONTCARE:
            continue
        KASSERT((pg.pg_flags & PG_BUSY) == 0, "(pages[lcv]->pg_flags & PG_BUSY) == 0")
        KASSERT((pg.pg_flags & PG_RELEASED) == 0, "(pages[lcv]->pg_flags & PG_RELEASED) == 0")
        if lcv == flt.centeridx:
            uobjpage = pg
            continue
        currva = flt.startva + lcv * PAGE_SIZE
        if _pmap.pmap_extract(entry.pmap, currva):
            continue
        if pg.wire_count == 0:
            uvm_lock_pageq_for_queue_op()
            uvm_pageactivate(pg)
            uvm_unlock_pageq_for_queue_op()
        KASSERT(not flt.wired, "flt->wired == FALSE")
        _pmap.pmap_enter(entry.pmap, currva, pg, entry.prot)
    return uobjpage


def uvm_fault_lower(
    entry: fault_entry,
    wired: bool = False,
    flt: faultctx | None = None,
    pages: list | None = None,
) -> int:
    """`uvm_fault_lower` (uvm_fault.c 1.171): the faulting page is not an anon's.

    Amap (if any) locked on entry.  With an object: `uvm_fault_lower_lookup` (object lock
    taken and kept), then the centre page is activated under one pageq round trip if it
    was resident, else read in by `uvm_fault_lower_io` (which returns it with the object
    relocked).  Without one it is a zero-fill fault: a new anon sharing the amap lock and a
    zeroed page, put in the amap.  The page is mapped, then wired or activated under a
    second pageq round trip (a wired aobj page drops its swap slot), unbusied, and
    everything unlocked.  Returns 0, or an error with nothing locked.

    Called without `flt`, as the simulator's workloads do, it is the whole fault
    (`uvm_fault`) on `entry`.
    """
    from uvmsim.uvm.uvm_anon import uvm_analloc
    from uvmsim.uvm.uvm_aobj import uao_dropswap
    from uvmsim.uvm.uvm_page import uvm_pageactivate, uvm_pagealloc, uvm_pagewire
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_CLEAN, PG_FAKE, PG_WANTED, PQ_AOBJ, UVM_PGA_ZERO

    if flt is None:
        return uvm_fault(entry, wired)
    assert pages is not None
    amap = entry.amap
    uobj = entry.uobj
    if uobj is None:
        # Zero fill (uvmfault_promote of PGO_DONTCARE): a new anon and a zeroed page.
        KASSERT(amap is not None, "amap != NULL")
        anon = uvm_analloc(amap.am_lock)
        pg = uvm_pagealloc(None, 0, anon, UVM_PGA_ZERO)
        if pg is None:
            amap_unlock(amap)
            return ENOMEM  # the kernel waits for memory (uvm_wait) and restarts
        amap_add(amap, entry.slot, anon)
    else:
        uobjpage = uvm_fault_lower_lookup(entry, flt, pages)
        if uobjpage is not None:
            uvm_lock_pageq_for_queue_op()
            uvm_pageactivate(uobjpage)
            uvm_unlock_pageq_for_queue_op()
        else:
            if flt.lower_lock_type != RW_WRITE:
                # uvm_fault_lower_upgrade: the read lock must become a write lock for the
                # I/O.  The kernel tries RW_UPGRADE|RW_NOSLEEP first; the model always takes
                # its fallback: unlock everything and restart the fault write-locked.
                flt.lower_lock_type = RW_WRITE
                rw_exit(uobj.vmobjlock)
                if amap is not None:
                    amap_unlock(amap)
                return ERESTART
            error, uobjpage = uvm_fault_lower_io(entry, flt)
            if error:
                return error
            uobj = unlocked_read(uobjpage, "uobject")
        pg = uobjpage
    _pmap.pmap_enter(entry.pmap, entry.va, pg, entry.prot)
    dropswap = False
    uvm_lock_pageq_for_queue_op()
    if flt.wired:
        uvm_pagewire(pg)
        if pg.pg_flags & PQ_AOBJ:
            atomic_clearbits_int(pg, "pg_flags", PG_CLEAN)
            dropswap = True
    else:
        uvm_pageactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    if dropswap:
        uao_dropswap(uobj, pg.offset // PAGE_SIZE)
    if pg.pg_flags & PG_WANTED:
        wakeup(pg)
    atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_FAKE | PG_WANTED)
    if uobj is not None:
        rw_exit(uobj.vmobjlock)
    if amap is not None:
        amap_unlock(amap)
    return 0


def uvm_fault_lower_io(entry: fault_entry, flt: faultctx) -> tuple[int, Any]:
    """`uvm_fault_lower_io` (uvm_fault.c 1.171): read the faulting object page in.

    Object write-locked on entry (the lower lookup took it); the amap is unlocked, then
    `pgo_get` (PGO_SYNCIO) gets the page busy and returns with the object *unlocked*.
    VM_PAGER_AGAIN restarts the fault (after a 5 ms sleep the model leaves out); another
    error is EIO.  Then amap and the page's object (taken from the page: a tmpfs vnode's
    pages belong to its aobj) are relocked, the page is activated under one pageq round
    trip and unbusied.  If the amap slot got an anon meanwhile, the fault restarts.
    Returns (0, page) with the object locked, or (error, None) with nothing locked.
    """
    from uvmsim.uvm.uvm_page import uvm_pageactivate
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_WANTED
    from uvmsim.uvm.uvm_pager import PGO_SYNCIO
    from uvmsim.uvm.uvm_swap import VM_PAGER_AGAIN, VM_PAGER_OK, VM_PAGER_PEND

    amap = entry.amap
    uobj = entry.uobj
    if amap is not None:
        amap_unlock(amap)
    KASSERT(rw_write_held(uobj.vmobjlock), "rw_write_held(uobj->vmobjlock)")
    pps: list = [None]
    result, _got = _pgo_get(uobj)(uobj, entry.offset, pps, 0, PGO_SYNCIO)
    if result != VM_PAGER_OK:
        KASSERT(result != VM_PAGER_PEND, "result != VM_PAGER_PEND")
        if result == VM_PAGER_AGAIN:
            return ERESTART, None
        return EIO, None
    pg = pps[0]
    locked = True
    if amap is not None:
        amap_lock(amap)
    uobj = unlocked_read(pg, "uobject")  # the page is busy: its object cannot change
    rw_enter(uobj.vmobjlock, RW_WRITE)
    KASSERT(pg.pg_flags & PG_BUSY, "(pg->pg_flags & PG_BUSY) != 0")
    if amap is not None and amap_lookup(amap, entry.slot) is not None:
        amap_unlock(amap)
        locked = False
    uvm_lock_pageq_for_queue_op()
    uvm_pageactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    if pg.pg_flags & PG_WANTED:
        wakeup(pg)
    atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_WANTED)
    if not locked:
        rw_exit(uobj.vmobjlock)
        return ERESTART, None
    return 0, pg


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
    uvm_lock_pageq_for_queue_op()
    uvm_pageunwire(pg)
    uvm_unlock_pageq_for_queue_op()
    if entry.amap is not None:
        amap_unlock(entry.amap)
    else:
        rw_exit(entry.uobj.vmobjlock)
