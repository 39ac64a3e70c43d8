"""The pagedaemon (sys/uvm/uvm_pdaemon.c 1.134 + the seed diff; swap clustering as in 1.137).

One round of `uvm_pageout`: compute the shortages, drain this CPU's magazines when short,
then with the pageq lock held scan the inactive queue (`uvmpd_scan_inactive`) and the active
queue (`uvmpd_scan_active`), and finally take the fpageq lock *inside* the pageq lock to wake
those waiting for memory.

The pagedaemon runs holding the kernel lock: unlike the aiodone daemon it never drops it,
so it is released only while the pagedaemon sleeps (`kl_rw_enter`, the sleep between rounds,
the OOM sleep in `uvm_swap_allocpages`).  Swap slot allocation (`uvm_swap_alloc`) and swap
I/O (`uvm_swap_io`) assert it.

The inactive scan holds the pageq lock at the top of every iteration.  It reads a page's
owner pointers with only the pageq lock held (`uvmpd_trylockowner`), try-locks the owner
(RW_NOSLEEP: pageq -> owner is the wrong order), and then: reactivates referenced pages,
skips busy ones, frees clean ones, pages dirty vnode pages out through `uvm_pager_put`
(which drops the pageq lock) and gathers dirty swap-backed pages into swap clusters written
asynchronously.  It advances with a saved `nextpg`, re-validated after a pageout.  With
switch `pdaemon_iter_marker` the scans are 1.154's (`uvmpd_scan_inactive_1154`,
`uvmpd_scan_active_1154`): a PQ_ITER marker page keeps the place (`uvmpd_iterator`, 1.136)
and swap clusters are 1.148's `swapcluster_*`.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    MUTEX_ASSERT_LOCKED,
    RW_NOSLEEP,
    RW_WRITE,
    atomic_add_int,
    atomic_clearbits_int,
    atomic_inc_int,
    atomic_setbits_int,
    curcpu,
    inline,
    mtx_leave,
    peek,
    poke,
    racy_read,
    rw_enter,
    rw_exit,
    sleep_on,
    unlocked_read,
    wakeup,
)
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.invariants import assert_model
from uvmsim.uvm.kernel_lock import (
    KERNEL_LOCK,
    KERNEL_UNLOCK,
    kernel_lock_acquire_count,
    kernel_lock_release_all,
    kl_rw_enter,
)
from uvmsim.uvm.uvm import (
    TAILQ_FIRST,
    TAILQ_INSERT_AFTER,
    TAILQ_NEXT,
    TAILQ_REMOVE,
    scanned_pagequeues,
    uvm,
    uvm_lock_fpageq,
    uvm_lock_pageq,
    uvm_unlock_fpageq,
    uvm_unlock_pageq,
)
from uvmsim.uvm.uvm_pager import uvm_pager_put
from uvmsim.uvm.uvm_swap import VM_PAGER_AGAIN, VM_PAGER_OK, VM_PAGER_PEND
from uvmsim.uvm.uvmexp import queue_counts, uvmexp

UVMPD_NUMDIRTYREACTS = 16


def uvmpd_trylockowner(pg: Any) -> Any:
    """`uvmpd_trylockowner`: try-lock the page's owner; the lock, or None.

    Called with only the pageq lock held.  Reads `uobject` first; only if it is NULL reads
    `uanon` and KASSERTs it is not NULL ("no object implies an anon"), then try-locks
    (RW_WRITE|RW_NOSLEEP) the object's or the anon's lock.  These reads are deliberately done
    without the owner lock.

    With `pdpol_intents`: NetBSD's (uvm_pdaemon.c 1.133.16.1, netbsd-10, with the scans of
    uvm_pdpolicy_clock.c 1.40 that call it): the page's interlock is taken first (pageq ->
    interlock, NetBSD's order); a pending intent is realized and the page skipped (the
    scans' "state of flux: realize and retry"); a page with neither owner is skipped ("in
    flux - ignore") where OpenBSD asserts; else the owner is try-locked under the
    interlock.  NetBSD falls back to a blocking owner lock with the interlock dropped: not
    modelled, the OpenBSD scans calling this hold the pageq mutex and may not sleep.
    """
    if uvm.proto.lru_batch:
        return _trylockowner_isolate(pg)
    if uvm.proto.pqbatch_atomic:
        return _trylockowner_pqstate(pg)
    if uvm.proto.pdpol_intents:
        return _trylockowner_interlocked(pg)
    from uvmsim.uvm.uvm_page_h import PQ_ITER

    # A marker is never handed over by the kernel's one scanner (the pagedaemon); a second
    # scanner, or a broken iterator, would.  The kernel would panic on the KASSERT below;
    # the model names why first, so that the failure is not taken for F1's page that lost
    # its owner.
    assert_model(
        not peek(pg, "pg_flags") & PQ_ITER,
        f"uvmpd_trylockowner is handed a PQ_ITER marker ({pg.name}) as a page: "
        "KASSERT(anon != NULL) panics",
    )
    uobj = unlocked_read(pg, "uobject")
    if uobj is not None:
        slock = uobj.vmobjlock
    else:
        anon = unlocked_read(pg, "uanon")
        KASSERT(anon is not None, "anon != NULL")
        slock = anon.an_lock
    if rw_enter(slock, RW_WRITE | RW_NOSLEEP) != 0:
        return None
    return slock


def _trylockowner_pqstate(pg: Any) -> Any:
    """`uvmpd_trylockowner` as FreeBSD's scans do it (vm_pageout.c at commit 9622baa299bb,
    `vm_pageout_scan_active`/`_inactive`; `pqbatch_atomic`): no interlock.  A page with a
    request pending has it applied and is skipped (the scans' "requeue requested: second
    chance" / "dequeue lazily"); the owner pointer is read without a lock (NULL: "removed
    from its object", skipped) and try-locked; once held, the owner is read again and a page
    that changed hands meanwhile is let go (FreeBSD's recheck `m->object == object`)."""
    from uvmsim.uvm.vm_pqbatch import vm_pqbatch_process_page

    MUTEX_ASSERT_LOCKED(scanned_pagequeues().lock)
    if vm_pqbatch_process_page(pg):
        return None
    return _trylock_owner_rechecked(pg)


def _trylock_owner_rechecked(pg: Any) -> Any:
    """The owner read by the peer designs' scans (FreeBSD's and Linux's), the owner try-locked,
    then read again under it: the owner lock, or None if there is none, it is taken, or the
    page changed hands between the read and the lock.

    The owner pointers race by design with a free clearing them (FreeBSD's `atomic_load_ptr`,
    Linux's stable read of an isolated folio's owner): `racy_read`.  So does the freed anon's
    lock pointer: FreeBSD's lock is inside its type-stable object and Linux's anon_vma lives
    while the isolation's reference does, but the model's anon stands for both and the free
    clears its lock pointer (a visible read, so DPOR orders it against that write)."""
    uobj = racy_read(pg, "uobject")
    anon = None
    if uobj is not None:
        slock = uobj.vmobjlock
    else:
        anon = racy_read(pg, "uanon")
        if anon is None:
            return None
        slock = racy_read(anon, "an_lock")
        if slock is None:
            return None  # the anon was freed after the read: the page changed hands
    if rw_enter(slock, RW_WRITE | RW_NOSLEEP) != 0:
        return None
    if (uobj is not None and pg.uobject is not uobj) or (
        uobj is None and (pg.uobject is not None or pg.uanon is not anon)
    ):
        rw_exit(slock)
        return None
    return slock


def _trylockowner_isolate(pg: Any) -> Any:
    """`uvmpd_trylockowner` as Linux's reclaim isolates (vm_pageout of a 6.x tree: mm/vmscan.c
    at CachyOS/linux commit 04a07002f646, `isolate_lru_folios`; `lru_batch`): under the
    lruvec lock, a reference unless the page is being freed and the LRU flag tested and
    cleared (`mm_swap.lru_isolate`); a page whose flag was clear belongs to someone else and
    is skipped.  An isolated page stays this CPU's until the scan puts it back
    (`mm_swap.move_folios_to_lru`, at the end of `uvm_pageout`'s round) or frees it.  Linux
    works on isolated pages outside the lock with `folio_trylock`; the model's scans try the
    owner lock, read without a lock, and recheck the owner once they hold it (the page may
    have been freed meanwhile: its reference keeps it from being reused).

    The owner pointers are read as Linux's reclaim reads a folio's owner, stably
    (`racy_read`: a visible step the race detector is not told about):
    Linux reads `folio->mapping` under `folio_trylock`, which truncation holds while it
    clears it, and an anon folio keeps its anon_vma until its last reference is gone, which
    the isolation holds; the model clears the owner when the owner frees the page
    (OpenBSD's `uvm_pageclean`) and has no folio lock.  The recheck under the owner lock
    decides (docs/decisions.md)."""
    from uvmsim.uvm.mm_swap import lru_isolate

    if not lru_isolate(pg):
        return None
    return _trylock_owner_rechecked(pg)


def _trylockowner_interlocked(pg: Any) -> Any:
    """`uvmpd_trylockowner` with `uvmpd_page_owner_lock` as in NetBSD's uvm_pdaemon.c
    1.133.16.1 (see `uvmpd_trylockowner`); pageq held, the interlock taken here."""
    from uvmsim.uvm.uvm_page import uvm_pagelock
    from uvmsim.uvm.uvm_pdpolicy_clock import uvmpdpol_pagerealize_locked

    MUTEX_ASSERT_LOCKED(scanned_pagequeues().lock)
    uvm_pagelock(pg)
    if uvmpdpol_pagerealize_locked(pg):
        mtx_leave(pg.interlock)
        return None
    # The owner pointers are NetBSD's [o,i]: the interlock held, not the owner lock.
    uobj = unlocked_read(pg, "uobject")
    if uobj is not None:
        slock = uobj.vmobjlock
    else:
        anon = unlocked_read(pg, "uanon")
        if anon is None:
            mtx_leave(pg.interlock)
            return None
        slock = anon.an_lock
    got = rw_enter(slock, RW_WRITE | RW_NOSLEEP) == 0
    mtx_leave(pg.interlock)
    return slock if got else None


def uvmpd_dropswap(pg: Any) -> int:
    """`uvmpd_dropswap`: free the swap slot of a swap-backed page (owner locked); 1 if any."""
    from uvmsim.uvm.uvm_aobj import uao_dropswap
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PQ_ANON, PQ_AOBJ

    anon = pg.uanon
    if pg.pg_flags & PQ_ANON and anon is not None and anon.an_swslot:
        from uvmsim.uvm.uvm_swap import uvm_swap_free

        uvm_swap_free(anon.an_swslot, 1)
        anon.an_swslot = 0
        return 1
    if pg.pg_flags & PQ_AOBJ:
        return 1 if uao_dropswap(pg.uobject, pg.offset // PAGE_SIZE) else 0
    return 0


@inline
def _busy_for_pageout(p: Any) -> bool:
    """Both inactive scans (1.134, 1.154) on a dirty page they will page out, owner held:
    give up its slot if swap is filled, busy it, write-protect it, and drop its old slot if
    swap-backed (a new one comes with the cluster).  Whether it is swap-backed."""
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PQ_SWAPBACKED
    from uvmsim.uvm.uvm_swap import uvm_swapisfilled

    if p.pg_flags & PQ_SWAPBACKED and uvm_swapisfilled():
        uvmpd_dropswap(p)
    swap_backed = bool(p.pg_flags & PQ_SWAPBACKED)
    atomic_setbits_int(p, "pg_flags", PG_BUSY)
    _pmap.pmap_page_protect(p, _pmap.PROT_READ)
    if swap_backed:
        uvmpd_dropswap(p)
    return swap_backed


def uvmpd_scan_inactive(shortage: int) -> int:
    """`uvmpd_scan_inactive` (uvm_pdaemon.c 1.134): free or page out inactive pages.

    Pageq held on entry and on return; the pagedaemon holds the kernel lock throughout.
    Stops when the pages freed plus those being paged out (`uvmexp.paging`) meet
    `shortage`, or after UVMPD_NUMDIRTYREACTS dirty reactivations.
    - Clean page: unmap, then (after the diff) dequeue first, then `uvm_pagefree` (switch
      `pdaemon_clean_dequeue_first`: without it the free would take the pageq lock again).
    - Dirty object page (vnode): busy, write-protect, `uvm_pager_put` with the object lock
      held (pageq dropped there; `uvn_put` is synchronous).
    - Dirty swap-backed page: busy, write-protect, drop its old slot, and add it to the swap
      cluster: a cluster of SWCLUSTPAGES contiguous slots from `uvm_swap_alloc` (one slot
      when swap is too fragmented), each page given its slot under its owner lock, which is
      then released: the page stays busy and queued with no owner lock held.  The cluster
      is written when full, or at the end of the scan with no page of interest (`p` NULL).
    - The write: PEND (always, unless AGAIN: every pagedaemon swap write is asynchronous)
      adds the cluster to `uvmexp.paging` and moves on.  Otherwise the page of interest is
      relocked (blocking) and unbusied; if its anon was freed meanwhile (PG_RELEASED) the
      anon is freed (`uvm_anfree`, with the slot the cluster gave it) and the page freed with
      the pageq lock retaken, again dequeued first after the diff (switch
      `pdaemon_released_dequeue_first`); on AGAIN it stays inactive and dirty; on an error
      it is reactivated; on OK it is marked clean.
    It advances with a saved `nextpg`, re-validated after the pageq lock was dropped (the
    PQ_ITER marker iterator came later, in 1.136).
    """
    from uvmsim.uvm.uvm_anon import uvm_anfree
    from uvmsim.uvm.uvm_aobj import uao_set_swslot
    from uvmsim.uvm.uvm_page import (
        uvm_drop_pageq_for_queue_op,
        uvm_pageactivate,
        uvm_pagedequeue,
        uvm_pagefree,
        uvm_retake_pageq_after_queue_op,
    )
    from uvmsim.uvm.uvm_page_h import (
        PAGE_SIZE,
        PG_BUSY,
        PG_CLEAN,
        PG_RELEASED,
        PG_WANTED,
        PQ_INACTIVE,
        PQ_SWAPBACKED,
    )
    from uvmsim.uvm.uvm_pager import PGO_ALLPAGES, PGO_PDFREECLUST
    from uvmsim.uvm.uvm_swap import (
        SWCLUSTPAGES,
        uvm_swap_alloc,
        uvm_swap_free,
        uvm_swapisfull,
    )

    MUTEX_ASSERT_LOCKED(scanned_pagequeues().lock)
    proto = uvm.proto
    if proto.pdaemon_iter_marker:
        return uvmpd_scan_inactive_1154(shortage)
    freed = 0
    dirtyreacts = 0
    swslot = swnpages = swcpages = 0
    swpps: list = []
    inactive = scanned_pagequeues().inactive
    p = TAILQ_FIRST(inactive)
    while p is not None or swslot != 0:
        uobj = anon = None
        slock = None
        nextpg = None
        if p is not None and (
            uvmexp.paging >= shortage - freed or dirtyreacts == UVMPD_NUMDIRTYREACTS
        ):
            if swslot == 0:
                break
            p = None  # the target is met: write out the open cluster
        if p is not None:
            uvmexp.pdscans = uvmexp.pdscans + 1
            nextpg = TAILQ_NEXT(inactive, p)
            # Only the pageq lock is held: the owner pointers are read without the owner lock
            # (with intents, under the owner lock once taken: NetBSD reads them interlocked).
            if not proto.pdpol_intents:
                anon = unlocked_read(p, "uanon")
                uobj = unlocked_read(p, "uobject")
            slock = uvmpd_trylockowner(p)
            if slock is None:
                p = nextpg
                continue
            if proto.pdpol_intents:
                anon, uobj = p.uanon, p.uobject
            if _pmap.pmap_is_referenced(p):
                uvm_drop_pageq_for_queue_op()
                uvm_pageactivate(p)
                uvm_retake_pageq_after_queue_op()
                rw_exit(slock)
                uvmexp.pdreact = uvmexp.pdreact + 1
                p = nextpg
                continue
            if p.pg_flags & PG_BUSY:
                rw_exit(slock)
                uvmexp.pdbusy = uvmexp.pdbusy + 1
                p = nextpg
                continue
            if uobj is None:
                KASSERT(anon is not None, "anon != NULL")
            if p.pg_flags & PG_CLEAN:
                if p.pg_flags & PQ_SWAPBACKED:
                    atomic_inc_int(uvmexp, "swpgonly")
                _pmap.pmap_page_protect(p, _pmap.PROT_NONE)
                if proto.pdaemon_clean_dequeue_first:
                    uvm_pagedequeue(p)
                uvm_pagefree(p)
                freed += 1
                if anon is not None:
                    KASSERT(anon.an_swslot != 0, "anon->an_swslot != 0")
                    anon.an_page = None
                rw_exit(slock)
                p = nextpg
                continue
            if uvmexp.paging > shortage - freed:
                rw_exit(slock)
                p = nextpg
                continue
            if p.pg_flags & PQ_SWAPBACKED and uvm_swapisfull():
                dirtyreacts += 1
                uvm_drop_pageq_for_queue_op()
                uvm_pageactivate(p)
                uvm_retake_pageq_after_queue_op()
                rw_exit(slock)
                p = nextpg
                continue
            swap_backed = _busy_for_pageout(p)
            if swap_backed:
                if swslot == 0:
                    swslot, swnpages = uvm_swap_alloc(SWCLUSTPAGES, True)
                    if swslot == 0:
                        atomic_clearbits_int(p, "pg_flags", PG_BUSY)
                        rw_exit(slock)
                        p = nextpg
                        continue
                    swcpages = 0
                    swpps = []
                swpps.append(p)
                if anon is not None:
                    anon.an_swslot = swslot + swcpages
                else:
                    uao_set_swslot(uobj, p.offset // PAGE_SIZE, swslot + swcpages)
                swcpages += 1
                rw_exit(slock)  # the page stays busy and queued while it is written
                if swcpages < swnpages:
                    p = nextpg
                    continue
        else:
            swap_backed = True  # p NULL: the last swap cluster
        if swap_backed:
            pps = swpps
            start = swslot
            npages = swcpages
            if swcpages < swnpages:
                uvm_swap_free(swslot + swcpages, swnpages - swcpages)
        else:
            pps = None
            start = 0
            npages = 1
        uvmexp.pdpageouts = uvmexp.pdpageouts + 1
        result = uvm_pager_put(
            None if swap_backed else uobj, p, PGO_ALLPAGES | PGO_PDFREECLUST, start, pps
        )
        if swap_backed:
            swslot = 0
            swpps = []
        if result == VM_PAGER_PEND:
            atomic_add_int(uvmexp, "paging", npages)
            uvm_lock_pageq()
            uvmexp.pdpending = uvmexp.pdpending + 1
            if p is not None:
                p = TAILQ_NEXT(inactive, p) if p.pg_flags & PQ_INACTIVE else TAILQ_FIRST(inactive)
            continue
        if p is None:
            uvm_lock_pageq()
            continue
        if swap_backed:
            kl_rw_enter(slock, RW_WRITE)
        if p.pg_flags & PG_WANTED:
            wakeup(p)
        atomic_clearbits_int(p, "pg_flags", PG_BUSY | PG_WANTED)
        if p.pg_flags & PG_RELEASED:
            # Only anons are released while we page them out: free the anon, then the page.
            KASSERT(anon is not None, "anon != NULL")
            anon.an_page = None
            p.uanon = None
            uvm_anfree(anon)
            _pmap.pmap_page_protect(p, _pmap.PROT_NONE)
            anon = None
            uvm_lock_pageq()
            nextpg = TAILQ_NEXT(inactive, p)
            if proto.pdaemon_released_dequeue_first:
                uvm_pagedequeue(p)
            uvm_pagefree(p)
        else:
            uvm_lock_pageq()
            nextpg = TAILQ_NEXT(inactive, p)
            if result != VM_PAGER_OK:
                if result != VM_PAGER_AGAIN:
                    uvm_drop_pageq_for_queue_op()
                    uvm_pageactivate(p)
                    uvm_retake_pageq_after_queue_op()
                _pmap.pmap_clear_reference(p)
            else:
                _pmap.pmap_clear_reference(p)
                _pmap.pmap_clear_modify(p)
                atomic_setbits_int(p, "pg_flags", PG_CLEAN)
        rw_exit(slock)
        if nextpg is not None and not nextpg.pg_flags & PQ_INACTIVE:
            nextpg = TAILQ_FIRST(inactive)
        p = nextpg
    return freed


@inline
def _active_page(p: Any, slock: Any, swap_shortage: int, inactive_shortage: int) -> tuple:
    """What both active scans do to a page whose owner they hold: give its swap slot back
    (swap shortage; it is dirty then), deactivate it (inactive shortage; from 1.184 with the
    pageq lock let go around the call), release the owner.  The shortages left."""
    from uvmsim.uvm.uvm_page import uvm_pagedeactivate
    from uvmsim.uvm.uvm_page_h import PG_CLEAN

    if swap_shortage > 0 and uvmpd_dropswap(p):
        atomic_clearbits_int(p, "pg_flags", PG_CLEAN)
        swap_shortage -= 1
    if inactive_shortage > 0:
        # From 1.184 the lock is let go around the call; NetBSD's scan keeps it and
        # realizes the deactivation at once (`pdpol_intents`).
        inside = uvm.proto.pageq_inside_queue_ops and not uvm.proto.pdpol_intents
        if inside:
            uvm_unlock_pageq()
        uvm_pagedeactivate(p)
        if inside:
            uvm_lock_pageq()
        inactive_shortage -= 1
    rw_exit(slock)
    return swap_shortage, inactive_shortage


def uvmpd_scan_active(swap_shortage: int, inactive_shortage: int) -> int:
    """`uvmpd_scan_active`: deactivate active pages (and drop swap slots); pageq held.

    Never frees pages; the pageq lock is not dropped inside, so the saved `nextpg` is safe.
    Returns the inactive shortage left (the model's, for `lru_shards`' next shard).
    """
    from uvmsim.uvm.uvm_page_h import PG_BUSY

    MUTEX_ASSERT_LOCKED(scanned_pagequeues().lock)
    active = scanned_pagequeues().active
    p = TAILQ_FIRST(active)
    while p is not None and (swap_shortage > 0 or inactive_shortage > 0):
        nextpg = TAILQ_NEXT(active, p)
        if p.pg_flags & PG_BUSY:
            p = nextpg
            continue
        slock = uvmpd_trylockowner(p)
        if slock is None:
            p = nextpg
            continue
        if p.pg_flags & PG_BUSY:
            rw_exit(slock)
            p = nextpg
            continue
        swap_shortage, inactive_shortage = _active_page(p, slock, swap_shortage, inactive_shortage)
        p = nextpg
    return inactive_shortage


def uvmpd_scan(shortage: int, inactive_shortage: int) -> tuple[int, int]:
    """`uvmpd_scan`: the inactive scan, then the active scan; pageq held on entry and return.

    With `pdaemon_iter_marker` (uvm_pdaemon.c 1.154) the active scan is this function's own
    marker walk (`uvmpd_scan_active_1154`), and it asks for swap slots back when swap is
    filled but not full and the inactive scan freed nothing.
    Returns the pages freed and the inactive shortage left (the model's, for `lru_shards`:
    the kernel's returns nothing).
    """
    MUTEX_ASSERT_LOCKED(scanned_pagequeues().lock)
    freed = uvmpd_scan_inactive(shortage)
    uvmexp.pdfreed = uvmexp.pdfreed + freed
    if uvm.proto.pdaemon_iter_marker:
        from uvmsim.uvm.uvm_swap import uvm_swapisfilled, uvm_swapisfull

        shortage -= freed
        swap_shortage = 0
        if shortage > 0 and freed == 0 and uvm_swapisfilled() and not uvm_swapisfull():
            swap_shortage = shortage
        return freed, uvmpd_scan_active_1154(swap_shortage, inactive_shortage)
    return freed, uvmpd_scan_active(0, inactive_shortage)


# ---- uvm_pdaemon.c 1.154: marker scans and swap clusters (switch `pdaemon_iter_marker`) ----


def _iter_marker() -> Any:
    """The scan's marker page, `iter` with only PQ_ITER set (uvm_pdaemon.c 1.136-1.154), on
    the pagedaemon's stack.

    A page of no memory: never in `uvm.pages`, no owner, skipped by the invariants.
    """
    from uvmsim.uvm.uvm_page_h import PQ_ITER, vm_page

    it = vm_page(f"iter.cpu{curcpu().index}", -1)
    poke(it, "pg_flags", PQ_ITER)
    poke(it, "owner_state", "marker")
    return it


def uvmpd_iterator(pglst: Any, p: Any, it: Any) -> Any:
    """`uvmpd_iterator` (uvm_pdaemon.c 1.136-1.154): the page after the marker, and the
    marker moved after it.  Pageq lock held.

    `p` is only tested for NULL (the end of the scan): the place is the marker's, so it
    does not matter where `p` went while the pageq lock was dropped.  The kernel skips a
    following marker by re-reading the page after its *own* marker, which cannot change
    while it holds the pageq lock: a second marker right after the first would make it spin
    for ever.  OpenBSD has one scanner per queue (the pagedaemon), so it never happens
    there; the model reports it instead of spinning.
    """
    from uvmsim.uvm.uvm_page_h import PQ_ITER

    MUTEX_ASSERT_LOCKED(scanned_pagequeues().lock)
    if p is None:
        return None
    nextpg = TAILQ_NEXT(pglst, it)
    assert_model(
        nextpg is None or not nextpg.pg_flags & PQ_ITER,
        f"uvmpd_iterator spins for ever: the page after {it.name} is another scan's "
        f"marker ({nextpg.name if nextpg is not None else ''}) and the pageq lock is held",
    )
    if nextpg is not None:
        TAILQ_REMOVE(pglst, it)
        TAILQ_INSERT_AFTER(pglst, nextpg, it)
    return nextpg


class swapcluster:
    """`struct swapcluster` (uvm_pdaemon.c 1.148/1.154): the swap cluster being built, on
    the pagedaemon's stack: its first slot (0: none), slots allocated, pages added."""

    def __init__(self) -> None:
        self.swc_slot = 0
        self.swc_nallocated = 0
        self.swc_nused = 0
        self.swc_pages: list = []


def swapcluster_allocslots(swc: swapcluster) -> int:
    """`swapcluster_allocslots` (uvm_pdaemon.c 1.148/1.154): open a cluster (SWCLUSTPAGES
    slots, fewer when swap is fragmented) unless one is open; 0 or ENOMEM.  Kernel lock held
    (`uvm_swap_alloc`)."""
    from uvmsim.uvm.uvm_pmemrange import ENOMEM
    from uvmsim.uvm.uvm_swap import SWCLUSTPAGES, uvm_swap_alloc

    if swc.swc_slot != 0:
        return 0
    slot, npages = uvm_swap_alloc(SWCLUSTPAGES, True)
    if slot == 0:
        return ENOMEM
    swc.swc_slot, swc.swc_nallocated, swc.swc_nused, swc.swc_pages = slot, npages, 0, []
    return 0


def swapcluster_add(swc: swapcluster, pg: Any) -> int:
    """`swapcluster_add` (uvm_pdaemon.c 1.148/1.154): give busy `pg` the next slot of the
    cluster, under its owner lock (write-held, asserted); 0 (the model's aobj slot table
    never fails)."""
    from uvmsim.uvm.uvm_aobj import uao_set_swslot
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PQ_SWAPBACKED

    KASSERT(swc.swc_slot != 0, "swc->swc_slot != 0")
    KASSERT(swc.swc_nused < swc.swc_nallocated, "swc->swc_nused < swc->swc_nallocated")
    KASSERT(pg.pg_flags & PQ_SWAPBACKED, "(pg->pg_flags & PQ_SWAPBACKED) != 0")
    slot = swc.swc_slot + swc.swc_nused
    uobj = pg.uobject
    if uobj is None:
        pg.uanon.an_swslot = slot
    else:
        uao_set_swslot(uobj, pg.offset // PAGE_SIZE, slot)
    swc.swc_pages.append(pg)
    swc.swc_nused += 1
    return 0


def swapcluster_flush(swc: swapcluster) -> int:
    """`swapcluster_flush` (1.148/1.154): write the open cluster; pageq lock not held.

    Gives back the slots no page took, then `uvm_swap_put` (asynchronous: PEND once
    started).  Anything but PEND must be AGAIN (asserted): the whole cluster is dropped,
    each page relocked, its slot zeroed and unbusied (`uvm_swap_dropcluster`, modelled as
    `uvm_pager_dropcluster` with PGO_REALLOCSWAP; its source was not read), and the slots
    are freed.  No page of the cluster is the pagedaemon's to finish any more.  (The
    kernel also bumps `uvmexp.pdpageouts` here, a second time per cluster: a statistic the
    model counts once, in the scan.)
    """
    from uvmsim.uvm.uvm_pager import PGO_REALLOCSWAP, uvm_pager_dropcluster
    from uvmsim.uvm.uvm_swap import uvm_swap_free, uvm_swap_put

    if swc.swc_slot == 0:
        return 0
    slot, nused, nallocated = swc.swc_slot, swc.swc_nused, swc.swc_nallocated
    if nused < nallocated:
        uvm_swap_free(slot + nused, nallocated - nused)
    result = uvm_swap_put(slot, swc.swc_pages, 0)
    if result != VM_PAGER_PEND:
        KASSERT(result == VM_PAGER_AGAIN, "result == VM_PAGER_AGAIN")
        uvm_pager_dropcluster(None, None, swc.swc_pages, PGO_REALLOCSWAP)
        uvm_swap_free(slot, nused)
    swc.__init__()
    return result


@inline
def _pdaemon_reactivate(p: Any, slock: Any) -> None:
    """The 1.154 scan's reactivation: pageq dropped (from 1.184), `uvm_pageactivate`, the
    owner released, pageq taken back."""
    from uvmsim.uvm.uvm_page import (
        uvm_drop_pageq_for_queue_op,
        uvm_pageactivate,
        uvm_retake_pageq_after_queue_op,
    )

    uvm_drop_pageq_for_queue_op()
    uvm_pageactivate(p)
    rw_exit(slock)
    uvm_retake_pageq_after_queue_op()


def uvmpd_scan_inactive_1154(shortage: int) -> int:
    """`uvmpd_scan_inactive` as in uvm_pdaemon.c 1.154 (switch `pdaemon_iter_marker`).

    Pageq held on entry and on return; kernel lock held throughout.  A PQ_ITER marker is
    put after the first page and moved after each page considered (`uvmpd_iterator`), so
    the scan keeps its place wherever the page it was looking at went.  The lock is dropped
    around each `uvm_pageactivate` (with `pageq_inside_queue_ops`, which takes it itself),
    around a swap cluster's write and inside `uvm_pager_put`.  Per page: target met (pages
    being paged out plus those in the open cluster) -> stop; owner try-lock (pageq ->
    owner, so RW_NOSLEEP) else skip; referenced -> reactivate; busy -> skip; clean -> unmap,
    dequeue (pageq held), free; dirty and enough paging -> skip; swap full -> reactivate
    (a dirty reactivation); otherwise busy it, write-protect it and either add it to the
    swap cluster (reactivating it when no slot can be had) and release its owner, or page
    the vnode page out (`uvm_pager_put`).  The open cluster is written when full and at the
    end.  The pagedaemon never relocks a page of a written cluster.
    A vnode page written synchronously is unbusied and marked clean under its object lock
    after `uvm_pager_put` returns, as 1.134 did: the 1.154 scan no longer does it, so
    uvm_pager.c after 1.94 (not read) must; the model keeps it in one place, here.
    """
    from uvmsim.uvm.uvm_page import (
        uvm_lock_pageq_for_queue_op,
        uvm_pageactivate,
        uvm_pagedequeue,
        uvm_pagefree,
        uvm_unlock_pageq_for_queue_op,
    )
    from uvmsim.uvm.uvm_page_h import (
        PG_BUSY,
        PG_CLEAN,
        PG_WANTED,
        PQ_ACTIVE,
        PQ_INACTIVE,
        PQ_SWAPBACKED,
    )
    from uvmsim.uvm.uvm_pager import PGO_ALLPAGES, PGO_PDFREECLUST
    from uvmsim.uvm.uvm_swap import uvm_swapisfull

    pglst = scanned_pagequeues().inactive
    freed = 0
    dirtyreacts = 0
    swc = swapcluster()
    p = TAILQ_FIRST(pglst)  # no pmalloc waiter in the model: no constraint to match
    if p is None:
        return 0
    it = _iter_marker()
    TAILQ_INSERT_AFTER(pglst, p, it)

    while p is not None:
        if uvmexp.paging + swc.swc_nused >= shortage - freed or (
            dirtyreacts == UVMPD_NUMDIRTYREACTS
        ):
            break
        uvmexp.pdscans = uvmexp.pdscans + 1
        # Only the pageq lock is held: the owner pointers are read without the owner lock
        # (with intents, under the owner lock once taken: NetBSD reads them interlocked).
        intents = uvm.proto.pdpol_intents
        if not intents:
            anon = unlocked_read(p, "uanon")
            uobj = unlocked_read(p, "uobject")
        slock = uvmpd_trylockowner(p)
        if slock is None:
            p = uvmpd_iterator(pglst, p, it)
            continue
        if intents:
            anon, uobj = p.uanon, p.uobject
        if _pmap.pmap_is_referenced(p):
            _pdaemon_reactivate(p, slock)
            uvmexp.pdreact = uvmexp.pdreact + 1
            p = uvmpd_iterator(pglst, p, it)
            continue
        if p.pg_flags & PG_BUSY:
            rw_exit(slock)
            uvmexp.pdbusy = uvmexp.pdbusy + 1
            p = uvmpd_iterator(pglst, p, it)
            continue
        if uobj is None:
            KASSERT(anon is not None, "anon != NULL")
        if p.pg_flags & PG_CLEAN:
            if p.pg_flags & PQ_SWAPBACKED:
                atomic_inc_int(uvmexp, "swpgonly")
            _pmap.pmap_page_protect(p, _pmap.PROT_NONE)
            # 1.154 has hunk 17 (dequeue first, so that uvm_pageclean does not take the
            # pageq lock again): not a switch here, this scan is only ever the diff's.
            if p.pg_flags & (PQ_ACTIVE | PQ_INACTIVE):
                uvm_pagedequeue(p)
            uvm_pagefree(p)
            freed += 1
            if anon is not None:
                KASSERT(anon.an_swslot != 0, "anon->an_swslot != 0")
                anon.an_page = None
            rw_exit(slock)
            p = uvmpd_iterator(pglst, p, it)
            continue
        if uvmexp.paging > shortage - freed:
            rw_exit(slock)
            p = uvmpd_iterator(pglst, p, it)
            continue
        if p.pg_flags & PQ_SWAPBACKED and uvm_swapisfull():
            dirtyreacts += 1
            _pdaemon_reactivate(p, slock)
            p = uvmpd_iterator(pglst, p, it)
            continue
        swap_backed = _busy_for_pageout(p)
        if swap_backed:
            if swapcluster_allocslots(swc) or swapcluster_add(swc, p):
                atomic_clearbits_int(p, "pg_flags", PG_BUSY)
                dirtyreacts += 1
                _pdaemon_reactivate(p, slock)
                p = uvmpd_iterator(pglst, p, it)
                continue
            rw_exit(slock)  # the page stays busy and queued while its cluster is written
            if swc.swc_nused < swc.swc_nallocated:
                p = uvmpd_iterator(pglst, p, it)
                continue
        uvmexp.pdpageouts = uvmexp.pdpageouts + 1
        if swap_backed:
            uvm_unlock_pageq()
            npages = swc.swc_nused
            result = swapcluster_flush(swc)
        else:
            npages = 1
            result = uvm_pager_put(uobj, p, PGO_ALLPAGES | PGO_PDFREECLUST)
            if result != VM_PAGER_PEND:
                if p.pg_flags & PG_WANTED:
                    wakeup(p)
                atomic_clearbits_int(p, "pg_flags", PG_BUSY | PG_WANTED)
                _pmap.pmap_clear_reference(p)
                if result == VM_PAGER_OK:
                    _pmap.pmap_clear_modify(p)
                    atomic_setbits_int(p, "pg_flags", PG_CLEAN)
                elif result != VM_PAGER_AGAIN:
                    uvm_lock_pageq_for_queue_op()
                    uvm_pageactivate(p)
                    uvm_unlock_pageq_for_queue_op()
            rw_exit(slock)
        uvm_lock_pageq()
        if result == VM_PAGER_PEND:
            atomic_add_int(uvmexp, "paging", npages)
            uvmexp.pdpending = uvmexp.pdpending + 1
        p = uvmpd_iterator(pglst, p, it)
    TAILQ_REMOVE(pglst, it)
    if swc.swc_slot > 0:
        uvm_unlock_pageq()
        npages = swc.swc_nused
        result = swapcluster_flush(swc)
        uvm_lock_pageq()
        if result == VM_PAGER_PEND:
            atomic_add_int(uvmexp, "paging", npages)
            uvmexp.pdpending = uvmexp.pdpending + 1
    return freed


def uvmpd_scan_active_1154(swap_shortage: int, inactive_shortage: int) -> int:
    """The active scan of `uvmpd_scan` in uvm_pdaemon.c 1.154 (switch `pdaemon_iter_marker`).

    Pageq held on entry and return.  A PQ_ITER marker keeps the place: busy pages are
    skipped before the owner try-lock and again after it; a swap shortage takes the page's
    slot back (and marks it dirty); an inactive shortage deactivates it, with the pageq lock
    dropped around `uvm_pagedeactivate` (which takes it itself, `pageq_inside_queue_ops`).
    Returns the inactive shortage left (the model's, for `lru_shards`).
    """
    from uvmsim.uvm.uvm_page_h import PG_BUSY

    pglst = scanned_pagequeues().active
    p = TAILQ_FIRST(pglst)
    if p is None:
        return inactive_shortage
    it = _iter_marker()
    TAILQ_INSERT_AFTER(pglst, p, it)
    while p is not None and (inactive_shortage > 0 or swap_shortage > 0):
        if p.pg_flags & PG_BUSY:
            p = uvmpd_iterator(pglst, p, it)
            continue
        slock = uvmpd_trylockowner(p)
        if slock is None:
            p = uvmpd_iterator(pglst, p, it)
            continue
        if p.pg_flags & PG_BUSY:
            rw_exit(slock)
            p = uvmpd_iterator(pglst, p, it)
            continue
        swap_shortage, inactive_shortage = _active_page(p, slock, swap_shortage, inactive_shortage)
        p = uvmpd_iterator(pglst, p, it)
    TAILQ_REMOVE(pglst, it)
    return inactive_shortage


def uvm_pageout(rounds: int = 1, shortage: int | None = None) -> None:
    """`uvm_pageout` (uvm_pdaemon.c 1.134): `rounds` iterations of the pagedaemon's loop.

    This CPU is the pagedaemon (`uvm.pagedaemon_proc`) and holds the kernel lock while it
    runs (taken here, recursively when `uvm_pagedaemon` already holds it).  The sleep at the
    top of the loop is left out (see `uvm_pagedaemon`): each round computes the shortage
    from the free target as in the kernel and drains this CPU's magazines when short;
    `shortage` (a scenario knob: "free this many") replaces that computation and skips the
    drain.  Lock order at the end of a round: pageq, then fpageq inside it.
    1.154 (`openbsd-2026`) has the same round: the shortage under fpageq, the inactive
    target under pageq (its counters now read with atomic loads), `uvm_pmr_cache_drain` when
    still short, the scans, the wakeup with fpageq inside pageq.  Its `bufbackoff`/DRM
    backoff and the pmalloc waiters' constraint are not modelled (no buffer cache to shrink,
    no waiter).
    With `lru_batch` (Linux) the round drains this CPU's folio batches before the scans
    (`lru_add_drain`, as `shrink_inactive_list` does) and puts back the pages the scans
    isolated and kept after them (`move_folios_to_lru`), under the pageq (lruvec) lock.
    """
    from uvmsim.uvm.uvm_pmemrange import uvm_pmr_cache_drain

    curcpu().local["pagedaemon"] = True
    KERNEL_LOCK()
    for _ in range(rounds):
        uvm_lock_fpageq()
        short = uvmexp.freetarg - (uvmexp.free + uvmexp.paging)
        uvm_unlock_fpageq()
        uvm_lock_pageq()
        active, inactive = queue_counts()
        inactarg = max((active + inactive) // 3, uvmexp.freetarg + 1)
        inactive_shortage = inactarg - inactive
        uvm_unlock_pageq()
        if shortage is not None:
            short = shortage
        elif short > 0 and uvm.proto.percpu_magazines:
            short -= uvm_pmr_cache_drain()
        if short <= 0 and inactive_shortage <= 0:
            continue
        lru = uvm.proto.lru_batch
        if lru:
            from uvmsim.uvm.mm_swap import lru_add_drain, move_folios_to_lru

            lru_add_drain()  # shrink_inactive_list drains this CPU's batches first
        if uvm.nshards > 1:
            _scan_shards(max(short, 0), max(inactive_shortage, 0))
            continue
        uvm_lock_pageq()
        uvmpd_scan(max(short, 0), max(inactive_shortage, 0))
        if lru:
            move_folios_to_lru()
        uvm_lock_fpageq()
        if uvmexp.free > uvmexp.reserve_kernel or uvmexp.paging == 0:
            wakeup(uvmexp)
        uvm_unlock_fpageq()
        uvm_unlock_pageq()
    KERNEL_UNLOCK()


def _scan_shards(short: int, inactive_shortage: int) -> None:
    """The scans of a round with `lru_shards`: each shard in turn, under its own lock, with
    what is left of the round's targets after the shards before it (FreeBSD runs one
    pagedaemon thread per domain against the domain's own targets, Linux one kswapd per
    node; the model's one pagedaemon visits the domains in turn, against the global targets
    its free and queue counts give).  The round's counters were read without a lock: there
    is no global pageq lock, and they are atomic.  With `lru_batch` the pages a shard's scan
    isolated go back before its lock is let go; the wakeup comes after the last shard,
    under fpageq alone."""
    lru = uvm.proto.lru_batch
    local = curcpu().local
    for pq in uvm.pagequeues:
        local["pagequeues"] = pq
        uvm_lock_pageq()
        freed, inactive_shortage = uvmpd_scan(short, inactive_shortage)
        short = max(short - freed, 0)
        inactive_shortage = max(inactive_shortage, 0)
        if lru:
            from uvmsim.uvm.mm_swap import move_folios_to_lru

            move_folios_to_lru()
        uvm_unlock_pageq()
        del local["pagequeues"]
    uvm_lock_fpageq()
    if uvmexp.free > uvmexp.reserve_kernel or uvmexp.paging == 0:
        wakeup(uvmexp)
    uvm_unlock_fpageq()


def uvm_wait(wmsg: str) -> None:
    """`uvm_wait` (uvm_pdaemon.c): no free page: wake the pagedaemon and sleep for memory.

    Sleeps on `&uvmexp.free` with the fpageq lock as interlock (never the pageq lock).
    """
    uvm_lock_fpageq()
    wakeup(uvm.pagedaemon_chan)
    sleep_on(uvmexp, uvm.fpageqlock, wmsg)


def uvm_pagedaemon() -> None:
    """The pagedaemon thread (`uvm_pageout`'s loop, uvm_pdaemon.c 1.134), forever.

    It holds the kernel lock except while it sleeps on `uvm.pagedaemon` until the free
    count falls below the free target (the scheduler drops the kernel lock for the sleep;
    the model drops it before re-taking the fpageq interlock for the sleep, so that the
    mutexes nest), then runs a round.  A timed run stops it.
    """
    curcpu().local["pagedaemon"] = True
    KERNEL_LOCK()
    while True:
        uvm_lock_fpageq()
        if uvmexp.free >= uvmexp.freetarg:
            uvm_unlock_fpageq()
            saved = kernel_lock_release_all()
            uvm_lock_fpageq()
            if uvmexp.free >= uvmexp.freetarg:
                sleep_on(uvm.pagedaemon_chan, uvm.fpageqlock, "pgdaemon")
            else:
                uvm_unlock_fpageq()
            kernel_lock_acquire_count(saved)
            continue
        uvm_unlock_fpageq()
        uvm_pageout(1)


@inline
def uvmpd_drop_inactive() -> None:
    """Hibernate's `uvmpd_drop(&uvm.page_inactive)`: every shard's inactive queue with
    `lru_shards`."""
    for pq in uvm.pagequeues:
        uvmpd_drop(pq.inactive)


def uvmpd_drop(pglst: Any) -> None:
    """`uvmpd_drop` (HIBERNATE): free clean object pages of a queue, walking it unlocked.

    Takes each object's lock (blocking; no mutex held); before the diff also the pageq lock
    around the free (switch `pdaemon_drop_unlocked`), after it the free takes it itself.
    """
    from uvmsim.uvm.uvm_page import uvm_pagefree
    from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_CLEAN, PQ_ANON, PQ_SWAPBACKED

    # Hibernate runs with the rest of the system quiesced: the queue is read without the lock.
    for p in list(unlocked_read(pglst, "tqh")):
        if p.pg_flags & PQ_ANON:
            continue
        uobj = unlocked_read(p, "uobject")
        if uobj is None or p.pg_flags & PG_BUSY:
            continue
        if not p.pg_flags & PG_CLEAN:
            continue
        rw_enter(uobj.vmobjlock, RW_WRITE)
        unlocked = uvm.proto.pdaemon_drop_unlocked
        if not unlocked:
            uvm_lock_pageq()
        if p.pg_flags & PG_CLEAN and peek(p, "uobject") is uobj:
            if p.pg_flags & PQ_SWAPBACKED:
                atomic_inc_int(uvmexp, "swpgonly")
            _pmap.pmap_page_protect(p, _pmap.PROT_NONE)
            uvm_pagefree(p)
        if not unlocked:
            uvm_unlock_pageq()
        rw_exit(uobj.vmobjlock)
