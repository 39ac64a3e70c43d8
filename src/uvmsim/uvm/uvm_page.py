"""Physical pages (sys/uvm/uvm_page.c): allocation, queues, wiring, freeing.

`struct vm_page`, its flags and its lock legend are in `uvm_page_h` (uvm_page.h).

The pageq lock contract of each function follows uvm-semantics.md §3.0, per protocol switch:
before the diff `uvm_pageclean` requires the caller to hold the pageq lock for tabled or
queued pages; after it `uvm_pageclean` takes the lock itself around the dequeue of a queued
page, so a caller holding it must dequeue first.  From uvm_page.c 1.184 (switch
`pageq_inside_queue_ops`, protocol `openbsd-2026`, read at 1.188) the same holds for
`uvm_pageactivate`, `uvm_pagedeactivate` and `uvm_pagewire`: they take the lock themselves,
and their callers use `uvm_lock_pageq_for_queue_op` (a round trip before 1.184, nothing
after) or, when they hold the lock for a loop, `uvm_drop_pageq_for_queue_op`.

With switch `pdpol_intents` (protocol `netbsd-intent`) the queue operations are NetBSD's
(uvm_page.c 1.246, 2020/08/15, with uvm_pdpolicy_clock.c 1.40 in `uvm_pdpolicy_clock`):
each takes the page's interlock instead of the pageq lock and records an intent, which
`uvm_pageunlock` queues on this CPU's intent queue; `uvm_pageclean` removes the owner and
sets the dequeue intent under the interlock.  NetBSD's callers take the interlock around
the call (`uvm_pagelock`); the model takes it inside, as it takes the pageq lock inside
from 1.184: one acquisition per operation either way.  A caller that already holds the
pageq lock (the pagedaemon's scans, uvn_flush, a set-up's eviction) realizes the intent at
once, as NetBSD's scans call the `_locked` operations.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    MUTEX_ASSERT_LOCKED,
    atomic_clearbits_int,
    atomic_dec_int,
    atomic_inc_int,
    atomic_setbits_int,
    kernel_work,
    mtx_enter,
    mtx_leave,
    mtx_owned,
    peek,
    poke,
    rw_lock_held,
    rw_write_held,
    sleep_on,
    wakeup,
)
from uvmsim.machine.core import running
from uvmsim.machine.sites import inline
from uvmsim.uvm import mm_swap
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.invariants import assert_model
from uvmsim.uvm.uvm import (
    TAILQ_INSERT_TAIL,
    TAILQ_REMOVE,
    uvm,
    uvm_lock_pageq,
    uvm_unlock_pageq,
)
from uvmsim.uvm.uvm_page_h import (
    PAGE_SIZE,
    PG_BUSY,
    PG_CLEAN,
    PG_CLEANCHK,
    PG_DEV,
    PG_FAKE,
    PG_RELEASED,
    PG_TABLED,
    PG_WANTED,
    PG_ZERO,
    PQ_ACTIVE,
    PQ_ANON,
    PQ_AOBJ,
    PQ_ENCRYPT,
    PQ_INACTIVE,
    PQ_INTENT_A,
    PQ_INTENT_D,
    PQ_INTENT_I,
    PQ_INTENT_QUEUED,
    PQ_INTENT_SET,
    UVM_OBJ_IS_BUFCACHE,
    UVM_OBJ_IS_DUMMY,
    UVM_OBJ_IS_PMAP,
    UVM_OBJ_KERN,
    UVM_PGA_USERESERVE,
    UVM_PGA_ZERO,
    vm_page,
)
from uvmsim.uvm.uvm_pdpolicy_clock import (
    _queue_count_dec,
    _queue_count_inc,
    uvmpdpol_pageisqueued_p,
    uvmpdpol_pagerealize,
    uvmpdpol_pagerealize_locked,
    uvmpdpol_set_intent,
)
from uvmsim.uvm.uvmexp import uvmexp
from uvmsim.uvm.vm_pqbatch import vm_page_dequeue, vm_page_pqstate_commit_request


def uvm_page_owner_locked_p(pg: vm_page, exclusive: bool) -> bool:
    """`uvm_page_owner_locked_p` (uvm_page.c 1.181/1.182).

    Object page: true for dummy objects, else the object lock write-held (exclusive) or
    held (the kernel's weak `rw_lock_held`).  Anon page: the anon lock write-held, for either
    query (1.183 later accepts a read hold for shared queries).  No owner: true.  It is an
    assertion helper, so it reads the page without visible operations.
    """
    uobj = peek(pg, "uobject")
    if uobj is not None:
        if UVM_OBJ_IS_DUMMY(uobj):
            return True
        lock = peek(uobj, "vmobjlock")
        return rw_write_held(lock) if exclusive else rw_lock_held(lock)
    anon = peek(pg, "uanon")
    if anon is not None:
        return rw_write_held(peek(anon, "an_lock"))
    return True


# ---- the object tree ---------------------------------------------------------------------------


def uvm_pageinsert(pg: vm_page) -> None:
    """`uvm_pageinsert` (static): put `pg` in its object's tree; object lock write-held."""
    uobj = pg.uobject
    KASSERT(
        UVM_OBJ_IS_DUMMY(uobj) or rw_write_held(peek(uobj, "vmobjlock")),
        "UVM_OBJ_IS_DUMMY(uobj) || rw_write_held(uobj->vmobjlock)",
    )
    KASSERT((pg.pg_flags & PG_TABLED) == 0, "(pg->pg_flags & PG_TABLED) == 0")
    memt = uobj.memt
    off = pg.offset
    KASSERT(off not in memt, "dupe == NULL")
    uobj.memt = {**memt, off: pg}
    atomic_setbits_int(pg, "pg_flags", PG_TABLED)
    uobj.uo_npages = uobj.uo_npages + 1


def uvm_pageremove(pg: vm_page) -> None:
    """`uvm_pageremove` (static): take `pg` out of its object; object lock write-held.

    Clears `uobject` (and, in the kernel, bumps pg_version): after this the page has no owner
    until `uvm_pageclean` finishes.
    """
    uobj = pg.uobject
    KASSERT(
        UVM_OBJ_IS_DUMMY(uobj) or rw_write_held(peek(uobj, "vmobjlock")),
        "UVM_OBJ_IS_DUMMY(uobj) || rw_write_held(uobj->vmobjlock)",
    )
    KASSERT(pg.pg_flags & PG_TABLED, "pg->pg_flags & PG_TABLED")
    memt = uobj.memt
    off = pg.offset
    uobj.memt = {k: v for k, v in memt.items() if k != off}
    atomic_clearbits_int(pg, "pg_flags", PG_TABLED)
    uobj.uo_npages = uobj.uo_npages - 1
    pg.uobject = None


def uvm_pagelookup(obj: Any, off: int) -> vm_page | None:
    """`uvm_pagelookup`: find the page at `off` in `obj`; owner lock held by the caller."""
    pg = obj.memt.get(off)
    if pg is not None:
        KASSERT(obj.uo_npages != 0, "obj->uo_npages != 0")
        flags = pg.pg_flags
        KASSERT(
            (flags & PG_RELEASED) == 0 or (flags & PG_BUSY),
            "(pg->pg_flags & PG_RELEASED) == 0 || (pg->pg_flags & PG_BUSY)",
        )
    return pg


# ---- allocation -----------------------------------------------------------------------------


def uvm_pagealloc_pg(pg: vm_page, obj: Any, off: int, anon: Any) -> None:
    """`uvm_pagealloc_pg`: give a free page its identity (object+offset, or anon).

    Owner lock write-held (object) or the anon's lock NULL or write-held.  The page comes back
    PG_BUSY|PG_FAKE and is on no queue: the caller activates, deactivates or wires it.
    With `pdpol_intents` the identity is set under the page's interlock, as NetBSD's
    `uvm_pagealloc_strat` (uvm_page.c 1.246) does when it gives one; the page may still be
    on an LRU queue with the dequeue intent its free left.  With `pqbatch_atomic` FreeBSD's
    allocator (`vm_page_alloc_domain_after` at commit 9622baa299bb) dequeues such a page
    first (`vm_page_dequeue`, under the pageq lock) and no interlock is taken.  With
    `lru_batch` (Linux) the page gets its owner's reference and no interlock is taken.
    """
    KASSERT(obj is None or anon is None, "obj == NULL || anon == NULL")
    KASSERT(anon is None or off == 0, "anon == NULL || off == 0")
    KASSERT(off % PAGE_SIZE == 0, "off == trunc_page(off)")
    KASSERT(
        obj is None or UVM_OBJ_IS_DUMMY(obj) or rw_write_held(peek(obj, "vmobjlock")),
        "obj == NULL || UVM_OBJ_IS_DUMMY(obj) || rw_write_held(obj->vmobjlock)",
    )
    KASSERT(
        anon is None or peek(anon, "an_lock") is None or rw_write_held(peek(anon, "an_lock")),
        "anon == NULL || anon->an_lock == NULL || rw_write_held(anon->an_lock)",
    )
    # NetBSD gives the page its identity under the interlock (uvm_pagealloc_strat 1.246):
    # a scan holding the interlock sees the owner, or the intent the free left.
    if uvm.proto.pqbatch_atomic:
        # FreeBSD's allocator dequeues a page its free left queued before reusing it
        # (vm_page_alloc_domain_after, `found:`); no interlock: the identity is the
        # owner's, and the scans recheck it once they hold the owner lock.
        vm_page_dequeue(pg)
    lru = uvm.proto.lru_batch
    if lru:
        # Linux: a page comes from the allocator with one reference, its owner's, and off
        # every LRU list (its last reference took it off, `mm_swap.page_cache_release`).
        mm_swap.lru_folio_init_ref(pg)
    intents = (
        uvm.proto.pdpol_intents
        and not uvm.proto.pqbatch_atomic
        and not lru
        and (obj is not None or anon is not None)
    )
    if intents:
        uvm_pagelock(pg)
    pg.offset = off
    pg.uobject = obj
    pg.uanon = anon
    KASSERT(uvm_page_owner_locked_p(pg, True), "uvm_page_owner_locked_p(pg, TRUE)")
    flags = PG_BUSY | PG_FAKE
    if anon is not None:
        anon.an_page = pg
        flags |= PQ_ANON
    else:
        uvm_pageinsert(pg)
    if intents:
        mtx_leave(pg.interlock)
    atomic_setbits_int(pg, "pg_flags", flags)


def uvm_pagealloc(obj: Any, off: int, anon: Any, flags: int) -> vm_page | None:
    """`uvm_pagealloc`: allocate a page for `obj`/`off` or `anon` (NULL when none is free).

    Takes no pageq lock; the fpageq lock only inside pmemrange (via the per-CPU magazine when
    it must be refilled).  Owner lock write-held.
    """
    from uvmsim.uvm import uvm_pmemrange as pmr

    KASSERT(obj is None or anon is None, "obj == NULL || anon == NULL")
    KASSERT(anon is None or off == 0, "anon == NULL || off == 0")
    KASSERT(
        obj is None or UVM_OBJ_IS_DUMMY(obj) or rw_write_held(peek(obj, "vmobjlock")),
        "obj == NULL || UVM_OBJ_IS_DUMMY(obj) || rw_write_held(obj->vmobjlock)",
    )
    KASSERT(
        anon is None or peek(anon, "an_lock") is None or rw_write_held(peek(anon, "an_lock")),
        "anon == NULL || anon->an_lock == NULL || rw_write_held(anon->an_lock)",
    )
    pmr_flags = pmr.UVM_PLA_NOWAIT
    if (flags & UVM_PGA_USERESERVE) or (obj is not None and peek(obj, "uo_refs") == UVM_OBJ_KERN):
        pmr_flags |= pmr.UVM_PLA_USERESERVE
    if flags & UVM_PGA_ZERO:
        pmr_flags |= pmr.UVM_PLA_ZERO
    if uvm.proto.percpu_magazines:
        pg = pmr.uvm_pmr_cache_get(pmr_flags)
    else:
        pg = pmr.uvm_pmr_getone(pmr_flags)
    if pg is None:
        return None
    uvm_pagealloc_pg(pg, obj, off, anon)
    KASSERT((pg.pg_flags & PG_DEV) == 0, "(pg->pg_flags & PG_DEV) == 0")
    if flags & UVM_PGA_ZERO:
        atomic_clearbits_int(pg, "pg_flags", PG_CLEAN)
    else:
        atomic_setbits_int(pg, "pg_flags", PG_CLEAN)
    return pg


# ---- queues -------------------------------------------------------------------------------------


@inline
def uvm_pagelock(pg: vm_page) -> None:
    """`uvm_pagelock` (NetBSD uvm_page.c 1.246): take the page's interlock.  FreeBSD has
    none (`pqbatch_atomic`): its queue state is one atomic word, committed by CAS.  Linux
    has none either (`lru_batch`): the LRU flag and the reference count are atomic."""
    if not uvm.proto.pqbatch_atomic and not uvm.proto.lru_batch:
        mtx_enter(pg.interlock)


def uvm_pageunlock(pg: vm_page) -> None:
    """`uvm_pageunlock` (NetBSD uvm_page.c 1.246): release the interlock; a page with an
    intent pending and not yet on an intent queue is marked queued (under the interlock) and
    put on this CPU's queue after it (`uvmpdpol_pagerealize`, which may flush a full queue
    under the pageq lock).  With `pqbatch_atomic` nothing is held and the commit has
    already submitted the page (`vm_pqbatch.vm_page_pqstate_commit_request`); with
    `lru_batch` the operation is done (`mm_swap.lru_queue_op`)."""
    if uvm.proto.pqbatch_atomic or uvm.proto.lru_batch:
        return
    pqflags = pg.pqflags
    if not pqflags & PQ_INTENT_SET or pqflags & PQ_INTENT_QUEUED:
        mtx_leave(pg.interlock)
        return
    pg.pqflags = pqflags | PQ_INTENT_QUEUED
    mtx_leave(pg.interlock)
    uvmpdpol_pagerealize(pg)


@inline
def _pdpol_intent(pg: vm_page, intent: int) -> None:
    """Record `intent` (interlock held): NetBSD's `uvmpdpol_page{,de}activate`/`pagedequeue`.
    A caller holding the pageq lock (a scan) realizes it now, as NetBSD's scans call the
    `_locked` operations; the others leave it to `uvm_pageunlock` and a flush.  With
    `pqbatch_atomic` FreeBSD's commit: a CAS on the word, no interlock (`vm_pqbatch`); with
    `lru_batch` Linux's batches and LRU flag (`mm_swap.lru_queue_op`)."""
    if uvm.proto.lru_batch:
        mm_swap.lru_queue_op(pg, intent)
        return
    if uvm.proto.pqbatch_atomic:
        vm_page_pqstate_commit_request(pg, intent, only_if_queued=intent == PQ_INTENT_D)
        return
    uvmpdpol_set_intent(pg, intent)
    if mtx_owned(uvm.pageqlock):
        uvmpdpol_pagerealize_locked(pg)


def uvm_pagedequeue(pg: vm_page) -> None:
    """`uvm_pagedequeue`: take `pg` off the active or inactive queue (no-op if on neither).

    Callers hold the pageq lock.  Before 1.188 it asserts nothing; the model checks the lock
    anyway (the queue heads are [Q], so an unlocked dequeue is an annotation violation).
    From 1.188 (switch `pageq_inside_queue_ops`) it asserts the owner lock (the weak
    `uvm_page_owner_locked_p`, true for a page with no owner), the pageq lock and
    `wire_count == 0`, and the counters are atomic.
    With `pdpol_intents` (NetBSD 1.246) it records the dequeue intent of a queued page under
    its interlock (realized at once when the caller holds the pageq lock).
    """
    if uvm.proto.pdpol_intents:
        KASSERT(uvm_page_owner_locked_p(pg, False), "uvm_page_owner_locked_p(pg, FALSE)")
        uvm_pagelock(pg)
        if uvmpdpol_pageisqueued_p(pg):
            _pdpol_intent(pg, PQ_INTENT_D)
        uvm_pageunlock(pg)
        return
    if uvm.proto.pageq_inside_queue_ops:
        KASSERT(uvm_page_owner_locked_p(pg, False), "uvm_page_owner_locked_p(pg, FALSE)")
        MUTEX_ASSERT_LOCKED(uvm.pageqlock)
        KASSERT(pg.wire_count == 0, "pg->wire_count == 0")
    flags = pg.pg_flags
    if flags & PQ_ACTIVE:
        TAILQ_REMOVE(uvm.page_active, pg)
        atomic_clearbits_int(pg, "pg_flags", PQ_ACTIVE)
        _queue_count_dec("active")
    if flags & PQ_INACTIVE:
        TAILQ_REMOVE(uvm.page_inactive, pg)
        atomic_clearbits_int(pg, "pg_flags", PQ_INACTIVE)
        _queue_count_dec("inactive")


@inline
def uvm_lock_pageq_for_queue_op() -> None:
    """A caller's `uvm_lock_pageq()` around uvm_page{de,}activate/wire/unwire: there before
    uvm_page.c 1.184, gone from it (the functions take the lock themselves)."""
    if not uvm.proto.pageq_inside_queue_ops:
        uvm_lock_pageq()


@inline
def uvm_unlock_pageq_for_queue_op() -> None:
    """The `uvm_unlock_pageq()` that ends `uvm_lock_pageq_for_queue_op`'s round trip."""
    if not uvm.proto.pageq_inside_queue_ops:
        uvm_unlock_pageq()


@inline
def uvm_drop_pageq_for_queue_op() -> None:
    """A caller holding the pageq lock across a loop (uvn_flush, the pagedaemon) releases it
    around a queue operation from 1.184, since the operation takes it itself.  With
    `pdpol_intents` it keeps it: the operation realizes at once under it, as NetBSD's scans
    do."""
    if uvm.proto.pageq_inside_queue_ops and not uvm.proto.pdpol_intents:
        uvm_unlock_pageq()


@inline
def uvm_retake_pageq_after_queue_op() -> None:
    """The `uvm_lock_pageq()` after the queue operation `uvm_drop_pageq_for_queue_op` made room
    for."""
    if uvm.proto.pageq_inside_queue_ops and not uvm.proto.pdpol_intents:
        uvm_lock_pageq()


@inline
def _wired_off_queues(pg: vm_page) -> bool:
    """From 1.184: True for a wired page, which (asserted) is on no queue and stays so."""
    if pg.wire_count > 0:
        if not uvm.proto.pdpol_intents:  # with intents: a dequeue intent may be pending
            KASSERT(
                (pg.pg_flags & (PQ_INACTIVE | PQ_ACTIVE)) == 0,
                "(pg->pg_flags & (PQ_INACTIVE|PQ_ACTIVE)) == 0",
            )
        return True
    return False


def uvm_pageactivate(pg: vm_page) -> None:
    """`uvm_pageactivate`: move `pg` to the tail of the active queue (unless wired).

    Owner lock held (shared suffices).  Before 1.184 the caller holds the pageq lock
    (MUTEX_ASSERT_LOCKED); from 1.184 (switch `pageq_inside_queue_ops`) a wired page is
    left alone (it is on no queue, asserted) and otherwise the function takes the pageq lock
    itself around the dequeue and the insertion, the counter atomic.  With `pdpol_intents`
    (NetBSD 1.246): an unwired page gets the activate intent under its interlock.
    """
    KASSERT(uvm_page_owner_locked_p(pg, False), "uvm_page_owner_locked_p(pg, FALSE)")
    if uvm.proto.pdpol_intents:
        if pg.wire_count == 0:
            uvm_pagelock(pg)
            _pdpol_intent(pg, PQ_INTENT_A)
            uvm_pageunlock(pg)
        return
    if uvm.proto.pageq_inside_queue_ops:
        if _wired_off_queues(pg):
            return
        uvm_lock_pageq()
        uvm_pagedequeue(pg)
        TAILQ_INSERT_TAIL(uvm.page_active, pg)
        atomic_setbits_int(pg, "pg_flags", PQ_ACTIVE)
        _queue_count_inc("active")
        uvm_unlock_pageq()
        return
    MUTEX_ASSERT_LOCKED(uvm.pageqlock)
    uvm_pagedequeue(pg)
    if pg.wire_count == 0:
        TAILQ_INSERT_TAIL(uvm.page_active, pg)
        atomic_setbits_int(pg, "pg_flags", PQ_ACTIVE)
        _queue_count_inc("active")


def uvm_pagedeactivate(pg: vm_page) -> None:
    """`uvm_pagedeactivate`: unmap `pg` and move it to the inactive queue.

    Owner lock held (shared).  Before 1.184 the caller holds the pageq lock, and pmap locks
    nest inside it.  From 1.184 (switch `pageq_inside_queue_ops`): a wired page is left
    alone; the pageq lock is taken here, and an already inactive page is left where it is
    (checked under the lock); the unmapping still nests inside the pageq lock, the
    reference and modify bits are looked at after it is released.
    With `pdpol_intents` (NetBSD 1.246 and uvmpdpol_pagedeactivate 1.40): an unwired page is
    unmapped (OpenBSD's contract; NetBSD's callers unmap first), its reference bit cleared
    now (the owner lock is not held when the intent is realized), and it gets the
    deactivate intent under its interlock.
    """
    KASSERT(uvm_page_owner_locked_p(pg, False), "uvm_page_owner_locked_p(pg, FALSE)")
    if uvm.proto.pdpol_intents:
        if pg.wire_count > 0:
            return
        _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
        _pmap.pmap_clear_reference(pg)
        uvm_pagelock(pg)
        _pdpol_intent(pg, PQ_INTENT_I)
        uvm_pageunlock(pg)
        if pg.pg_flags & PG_CLEAN and _pmap.pmap_is_modified(pg):
            atomic_clearbits_int(pg, "pg_flags", PG_CLEAN)
        return
    if uvm.proto.pageq_inside_queue_ops:
        if _wired_off_queues(pg):
            return
        uvm_lock_pageq()
        if pg.pg_flags & PQ_INACTIVE:
            uvm_unlock_pageq()
            return
        _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
        uvm_pagedequeue(pg)
        TAILQ_INSERT_TAIL(uvm.page_inactive, pg)
        atomic_setbits_int(pg, "pg_flags", PQ_INACTIVE)
        _queue_count_inc("inactive")
        uvm_unlock_pageq()
        _pmap.pmap_clear_reference(pg)
        if pg.pg_flags & PG_CLEAN and _pmap.pmap_is_modified(pg):
            atomic_clearbits_int(pg, "pg_flags", PG_CLEAN)
        return
    MUTEX_ASSERT_LOCKED(uvm.pageqlock)
    _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
    if pg.pg_flags & PQ_ACTIVE:
        TAILQ_REMOVE(uvm.page_active, pg)
        atomic_clearbits_int(pg, "pg_flags", PQ_ACTIVE)
        _queue_count_dec("active")
    if (pg.pg_flags & PQ_INACTIVE) == 0:
        KASSERT(pg.wire_count == 0, "pg->wire_count == 0")
        TAILQ_INSERT_TAIL(uvm.page_inactive, pg)
        atomic_setbits_int(pg, "pg_flags", PQ_INACTIVE)
        _queue_count_inc("inactive")
        _pmap.pmap_clear_reference(pg)
        if _pmap.pmap_is_modified(pg):
            atomic_clearbits_int(pg, "pg_flags", PG_CLEAN)


@inline
def _wired_inc() -> None:
    if uvm.proto.wired_atomic:
        atomic_inc_int(uvmexp, "wired")
    else:
        uvmexp.wired = uvmexp.wired + 1


@inline
def _wired_dec() -> None:
    if uvm.proto.wired_atomic:
        atomic_dec_int(uvmexp, "wired")
    else:
        uvmexp.wired = uvmexp.wired - 1


def uvm_pagewire(pg: vm_page) -> None:
    """`uvm_pagewire`: wire `pg`; the first wiring takes it off the queues.

    Owner lock write-held.  uvmexp.wired++ is plain before the diff and atomic after it
    (switch `wired_atomic`).  Before 1.184 the caller holds the pageq lock; from 1.184
    (switch `pageq_inside_queue_ops`) only the first wiring takes it, around the dequeue,
    and the page is asserted off the queues after.  With `pdpol_intents` (NetBSD 1.246) the
    first wiring records the dequeue intent under the interlock, held across the count.
    """
    KASSERT(uvm_page_owner_locked_p(pg, True), "uvm_page_owner_locked_p(pg, TRUE)")
    if uvm.proto.pdpol_intents:
        uvm_pagelock(pg)
        if pg.wire_count == 0:
            if uvmpdpol_pageisqueued_p(pg):
                _pdpol_intent(pg, PQ_INTENT_D)
            _wired_inc()
        pg.wire_count = pg.wire_count + 1
        uvm_pageunlock(pg)
        return
    inside = uvm.proto.pageq_inside_queue_ops
    if not inside:
        MUTEX_ASSERT_LOCKED(uvm.pageqlock)
    if pg.wire_count == 0:
        if inside:
            uvm_lock_pageq()
        uvm_pagedequeue(pg)
        if inside:
            uvm_unlock_pageq()
        _wired_inc()
    if inside:
        KASSERT(
            (pg.pg_flags & (PQ_INACTIVE | PQ_ACTIVE)) == 0,
            "(pg->pg_flags & (PQ_INACTIVE|PQ_ACTIVE)) == 0",
        )
    pg.wire_count = pg.wire_count + 1


def uvm_pageunwire(pg: vm_page) -> None:
    """`uvm_pageunwire`: drop one wiring; the last one activates the page.

    Owner lock write-held.  Before 1.184 the caller holds the pageq lock; from 1.184 (switch
    `pageq_inside_queue_ops`) it needs none (`uvm_pageactivate` takes it).  With
    `pdpol_intents` (NetBSD 1.246) the page must not be queued, intents considered, and the
    last unwiring records the activate intent, all under the interlock.
    """
    KASSERT(uvm_page_owner_locked_p(pg, True), "uvm_page_owner_locked_p(pg, TRUE)")
    if uvm.proto.pdpol_intents:
        uvm_pagelock(pg)
        KASSERT(pg.wire_count != 0, "pg->wire_count != 0")
        # Linux (`lru_batch`): a wired page a scan isolated stays on its queue in the model
        # (the scan's private list) until the scan puts it back: not asserted.
        KASSERT(
            uvm.proto.lru_batch or not uvmpdpol_pageisqueued_p(pg), "!uvmpdpol_pageisqueued_p(pg)"
        )
        pg.wire_count = pg.wire_count - 1
        if pg.wire_count == 0:
            _pdpol_intent(pg, PQ_INTENT_A)  # uvm_pageactivate, the interlock held across
            _wired_dec()
        uvm_pageunlock(pg)
        return
    if uvm.proto.pageq_inside_queue_ops:
        KASSERT(pg.wire_count != 0, "pg->wire_count != 0")
    else:
        MUTEX_ASSERT_LOCKED(uvm.pageqlock)
    pg.wire_count = pg.wire_count - 1
    if pg.wire_count == 0:
        uvm_pageactivate(pg)
        _wired_dec()


# ---- freeing ------------------------------------------------------------------------------

_CLEAN_MASK = (
    PQ_ANON
    | PQ_AOBJ
    | PQ_ENCRYPT
    | PG_ZERO
    | PG_FAKE
    | PG_BUSY
    | PG_RELEASED
    | PG_CLEAN
    | PG_CLEANCHK
)


def uvm_pageclean(pg: vm_page) -> None:
    """`uvm_pageclean`: erase the page's identity (object, anon, queues, wiring).

    Owner lock write-held (KASSERT).  All mappings must already be gone (checked by the model).
    - Before the diff (`pageclean_no_assert` off): a tabled or queued page that is not a pmap
      page requires the pageq lock (MUTEX_ASSERT_LOCKED), and the dequeue relies on it.
    - After it (`pageclean_locks_dequeue` on): the dequeue is done under the pageq lock taken
      here, only when PQ_ACTIVE|PQ_INACTIVE is set (tested without the lock), so a caller
      that already holds the lock must dequeue first or recurse on the mutex.
    The object removal (which clears `uobject`) happens before the dequeue in both.
    - With `pdpol_intents` (NetBSD `uvm_pagefree` 1.246): a page with an owner or a wiring
      has its owner removed, its wiring dropped and (if queued, intents considered) its
      dequeue intent set under its interlock, then `uvm_pageunlock` queues the intent: the
      page may reach the allocator still on an LRU queue, until the intent is realized.  A
      scanner holding the interlock sees the owner or the intent, never neither.
    - With `lru_batch` (Linux, on the intent call sites): no interlock and no dequeue here;
      the owner's reference is dropped last, and the last reference takes the page off its
      list under the lock if it still has PG_LRU (`mm_swap.lru_owner_put`).
    """
    proto = uvm.proto
    if proto.pdpol_intents:
        _pageclean_intents(pg)
        return
    if not proto.pageclean_no_assert:
        uobj = peek(pg, "uobject")
        if (pg.pg_flags & (PG_TABLED | PQ_ACTIVE | PQ_INACTIVE)) and (
            uobj is None or not UVM_OBJ_IS_PMAP(uobj)
        ):
            MUTEX_ASSERT_LOCKED(uvm.pageqlock)
    KASSERT((pg.pg_flags & PG_DEV) == 0, "(pg->pg_flags & PG_DEV) == 0")
    KASSERT(uvm_page_owner_locked_p(pg, True), "uvm_page_owner_locked_p(pg, TRUE)")
    _enter_pageclean(pg)

    if proto.pageclean_dequeue_before_remove:
        # Proposed fix (finding F1): leave the queues while the page still has its owner.
        _pageclean_dequeue(pg, proto)
    if pg.pg_flags & PG_TABLED:
        uvm_pageremove(pg)
    if not proto.pageclean_dequeue_before_remove:
        _pageclean_dequeue(pg, proto)

    if pg.wire_count:
        pg.wire_count = 0
        if not peek(pg, "hand_wired"):
            _wired_dec()
    anon = pg.uanon
    if anon is not None:
        anon.an_page = None
        pg.uanon = None
    atomic_clearbits_int(pg, "pg_flags", _CLEAN_MASK)
    poke(pg, "in_pageclean", None)


@inline
def _pageclean_intents(pg: vm_page) -> None:
    """`uvm_pageclean` with NetBSD's intents (the identity part of `uvm_pagefree` 1.246)."""
    KASSERT((pg.pg_flags & PG_DEV) == 0, "(pg->pg_flags & PG_DEV) == 0")
    KASSERT(uvm_page_owner_locked_p(pg, True), "uvm_page_owner_locked_p(pg, TRUE)")
    _enter_pageclean(pg)
    locked = pg.uobject is not None or pg.uanon is not None or pg.wire_count != 0
    if locked:
        uvm_pagelock(pg)
    if pg.pg_flags & PG_TABLED:
        uvm_pageremove(pg)
    anon = pg.uanon
    if anon is not None:
        anon.an_page = None
        pg.uanon = None
    if pg.wire_count:
        pg.wire_count = 0
        if not peek(pg, "hand_wired"):
            _wired_dec()
    if uvm.proto.lru_batch:
        pass  # Linux: the last reference takes the page off its list (below)
    elif locked:
        if uvmpdpol_pageisqueued_p(pg):
            _pdpol_intent(pg, PQ_INTENT_D)
        uvm_pageunlock(pg)
    else:
        KASSERT(not uvmpdpol_pageisqueued_p(pg), "!uvmpdpol_pageisqueued_p(pg)")
    atomic_clearbits_int(pg, "pg_flags", _CLEAN_MASK)
    poke(pg, "in_pageclean", None)
    if uvm.proto.lru_batch:
        # The owner's folio_put: a page some CPU's batch (or a scan) still references is
        # freed by that reference (`mm_swap.folio_put`), not by this caller.
        poke(pg, "lru_deferred", not mm_swap.lru_owner_put(pg))


@inline
def _pageclean_dequeue(pg: vm_page, proto: Any) -> None:
    """The dequeue step of uvm_pageclean: locked and conditional after the diff."""
    if proto.pageclean_locks_dequeue:
        if pg.pg_flags & (PQ_ACTIVE | PQ_INACTIVE):
            uvm_lock_pageq()
            uvm_pagedequeue(pg)
            uvm_unlock_pageq()
    else:
        uvm_pagedequeue(pg)


@inline
def _enter_pageclean(pg: vm_page) -> None:
    """Model checks on entering uvm_pageclean: no two CPUs inside it on one page (review
    question R1), and the kernel's contract that every mapping of the page is gone."""
    m = running()
    me = m.current.index if m is not None else -1
    other = peek(pg, "in_pageclean")
    assert_model(
        other is None or other == me,
        f"two CPUs in uvm_pageclean({pg.name}) at once: cpu{other} and cpu{me}",
    )
    poke(pg, "in_pageclean", me)
    assert_model(
        not peek(pg.mdpage, "pv_list"),
        f"uvm_pageclean({pg.name}) while the page is still mapped "
        f"({_mappings(pg)}): 'assumes all valid mappings of pg are gone'",
    )


def _mappings(pg: vm_page) -> str:
    return ", ".join(f"{pm.name} va 0x{va:x}" for pm, va, _p in peek(pg.mdpage, "pv_list"))


def uvm_pagefree(pg: vm_page) -> None:
    """`uvm_pagefree`: `uvm_pageclean` then return the page to the allocator.

    With per-CPU magazines the page goes to this CPU's magazine (`uvm_pmr_cache_put`, which
    may take the fpageq lock to flush a full magazine, or to free a constrained page
    directly); without them straight to pmemrange.  Lock contract: as `uvm_pageclean`.
    With `lru_batch` a page still referenced by a CPU's batch or a scan is left to that
    reference (Linux's `folio_put` that is not the last one).
    """
    from uvmsim.uvm import uvm_pmemrange as pmr

    uvm_pageclean(pg)
    if uvm.proto.lru_batch and peek(pg, "lru_deferred"):
        poke(pg, "lru_deferred", False)
        return  # a batch or a scan holds the last reference: it frees the page
    if uvm.proto.percpu_magazines:
        pmr.uvm_pmr_cache_put(pg)
    else:
        pmr.uvm_pmr_freepages([pg])


def uvm_pglistfree(pgl: list) -> None:
    """`uvm_pglistfree`: return cleaned, unmapped, unqueued pages to pmemrange (fpageq only)."""
    from uvmsim.uvm import uvm_pmemrange as pmr

    for pg in pgl:
        assert_model(
            not peek(pg, "lru_deferred"),
            f"{pg.name} freed on a page list while a per-CPU batch references it "
            "(lru_batch: not modelled for uvm_pglistfree)",
        )
    pmr.uvm_pmr_freepageq(pgl)


def uvm_page_unbusy(pgs: list) -> None:
    """`uvm_page_unbusy`: unbusy pages, waking waiters; free those marked PG_RELEASED.

    Owner lock write-held.  A released page is freed here, so before the diff callers held
    the pageq lock around it, and after it they must not (the page is usually queued).
    """
    for pg in pgs:
        if pg is None:
            continue
        KASSERT(uvm_page_owner_locked_p(pg, True), "uvm_page_owner_locked_p(pg, TRUE)")
        KASSERT(pg.pg_flags & PG_BUSY, "pg->pg_flags & PG_BUSY")
        if pg.pg_flags & PG_WANTED:
            wakeup(pg)
        if pg.pg_flags & PG_RELEASED:
            uobj = pg.uobject
            anon = pg.uanon
            KASSERT(
                uobj is not None or (anon is not None and anon.an_ref > 0),
                "pg->uobject != NULL || (pg->uanon != NULL && pg->uanon->an_ref > 0)",
            )
            atomic_clearbits_int(pg, "pg_flags", PG_RELEASED)
            _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
            uvm_pagefree(pg)
        else:
            KASSERT((pg.pg_flags & PG_FAKE) == 0, "(pg->pg_flags & PG_FAKE) == 0")
            atomic_clearbits_int(pg, "pg_flags", PG_WANTED | PG_BUSY)


def uvm_pagewait(pg: vm_page, lock: Any, wmesg: str) -> None:
    """`uvm_pagewait`: sleep until busy `pg` is unbusied; releases `lock` (PNORELOCK).

    Owner lock held; must not be called with a mutex held.  Returns without the lock.
    """
    KASSERT(rw_lock_held(lock), "rw_lock_held(lock)")
    KASSERT(pg.pg_flags & PG_BUSY, "pg->pg_flags & PG_BUSY")
    KASSERT(uvm_page_owner_locked_p(pg, False), "uvm_page_owner_locked_p(pg, FALSE)")
    atomic_setbits_int(pg, "pg_flags", PG_WANTED)
    sleep_on(pg, lock, wmesg)


def uvm_pagezero(pg: vm_page) -> None:
    """`uvm_pagezero`: zero the page (clears PG_CLEAN): work, no shared state."""
    atomic_clearbits_int(pg, "pg_flags", PG_CLEAN)
    kernel_work("pagezero", pg)


def uvm_pagecopy(src: vm_page, dst: vm_page) -> None:
    """`uvm_pagecopy`: copy a page's contents (clears the copy's PG_CLEAN), then the work."""
    atomic_clearbits_int(dst, "pg_flags", PG_CLEAN)
    kernel_work("pagecopy", dst)


def uvm_pagealloc_multi(obj: Any, off: int, size: int, flags: int) -> int:
    """`uvm_pagealloc_multi` (uvm_page.c 1.181/1.183): a buffer's pages, from dma_constraint.

    Buffer-cache object (dummy owner); kernel lock held (asserted).  One `uvm_pglistalloc`
    inside `dma_constraint` (one fpageq acquisition, no magazines), then each page is wired
    by hand (never counted in uvmexp.wired, never queued), marked clean and fake, and
    inserted in the object.  No pageq lock, before or after the diff.  Returns 0 or ENOMEM.
    """
    from uvmsim.uvm import uvm_pmemrange as pmr
    from uvmsim.uvm.kernel_lock import KERNEL_ASSERT_LOCKED

    KASSERT(UVM_OBJ_IS_BUFCACHE(obj), "UVM_OBJ_IS_BUFCACHE(obj)")
    KERNEL_ASSERT_LOCKED()
    plist: list = []
    error = pmr.uvm_pglistalloc(size // PAGE_SIZE, flags, plist, uvm.dma_constraint)
    if error:
        return error
    for i, pg in enumerate(plist):
        pg.wire_count = 1
        poke(pg, "hand_wired", True)
        atomic_setbits_int(pg, "pg_flags", PG_CLEAN | PG_FAKE)
        uvm_pagealloc_pg(pg, obj, off + i * PAGE_SIZE, None)
    return 0


def uvm_pagerealloc_multi(obj: Any, off: int, size: int, flags: int, where: Any) -> int:
    """`uvm_pagerealloc_multi` (uvm_page.c 1.181/1.182): the buffer cache "flip".

    Moves a buffer's pages into the memory `where` (`high_constraint` for buf_flip_high,
    `dma_constraint` for buf_flip_dma).  Buffer-cache object (dummy owner), kernel lock
    held (asserted).  One `uvm_pglistalloc` for the new pages; each old page (wired by
    hand, never queued) is copied, unwired by hand and freed -- before the diff inside a
    pageq lock round trip per page (switch `pagerealloc_multi_unlocked`); its free goes to
    this CPU's magazine, or straight to pmemrange (one fpageq acquisition) when it comes
    from a constrained range, as every page a flip to high memory leaves does.  Returns 0
    or the allocation's error.
    """
    from uvmsim.uvm import uvm_pmemrange as pmr
    from uvmsim.uvm.kernel_lock import KERNEL_ASSERT_LOCKED

    KASSERT(UVM_OBJ_IS_BUFCACHE(obj), "UVM_OBJ_IS_BUFCACHE(obj)")
    KERNEL_ASSERT_LOCKED()
    npages = size // PAGE_SIZE
    plist: list = []
    error = pmr.uvm_pglistalloc(npages, flags, plist, where)
    if error:
        return error
    for i in range(npages):
        offset = off + i * PAGE_SIZE
        tpg = uvm_pagelookup(obj, offset)
        KASSERT(tpg is not None, "tpg != NULL")
        pg = plist.pop(0)
        pg.wire_count = 1
        poke(pg, "hand_wired", True)
        atomic_setbits_int(pg, "pg_flags", PG_CLEAN | PG_FAKE)
        uvm_pagecopy(tpg, pg)
        KASSERT(tpg.wire_count == 1, "tpg->wire_count == 1")
        tpg.wire_count = 0
        poke(tpg, "hand_wired", False)
        if not uvm.proto.pagerealloc_multi_unlocked:
            uvm_lock_pageq()
        uvm_pagefree(tpg)
        if not uvm.proto.pagerealloc_multi_unlocked:
            uvm_unlock_pageq()
        uvm_pagealloc_pg(pg, obj, offset, None)
    return 0
