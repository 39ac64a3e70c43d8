"""NetBSD's page-replacement intents (sys/uvm/uvm_pdpolicy_clock.c 1.40, uvm_pdpolicy.h).

A peer design, not OpenBSD's: the model runs it with switch `pdpol_intents` (protocol
`netbsd-intent`).  Read in `NetBSD/src` at uvm_pdpolicy_clock.c 1.40 (2022/04/12) and the
`uvmpdpol_set_intent` inline of uvm_pdpolicy.h (same tree); `uvm_pageunlock` and
`uvm_pagefree`, their callers, are in `uvm_page` (uvm_page.c 1.246).

- The queues and their counts are under one mutex, `pdpol_state.lock`: the model's pageq
  lock plays it (the queues are OpenBSD's `uvm.page_active`/`page_inactive`, the counts
  `uvmexp.active`/`inactive`).
- A queue operation on a page (activate, deactivate, dequeue, enqueue) only records an
  *intent* in the page's `pqflags`, under the page's `interlock`; `uvm_pageunlock` then puts
  a page whose intent is not yet queued on this CPU's intent queue (`uvmpdpol_pagerealize`).
- A full queue (`Protocol.pdq_size` entries, NetBSD's CLOCK_PDQ_SIZE, 128) is flushed before
  the next entry goes in: one pageq acquisition for the whole batch, each entry realized
  under its interlock (`uvmpdpol_flush`).  The idle loop drains the queue by try-lock
  (`uvmpdpol_idle`).
- Realizing reads the page's *current* intent under its interlock, so a stale entry (the
  page was freed, reused and given another intent since) realizes whatever the page wants
  now, or nothing.

Per-CPU state: each CPU's intent queue is a plain list in `uvm.pdq`, indexed by the CPU
that runs (`curcpu()`), touched only by that CPU (NetBSD disables preemption around it), so
its accesses are no visible operations, as with the per-CPU magazines.
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
    curcpu,
    inline,
    mtx_enter,
    mtx_enter_try,
    mtx_leave,
    peek,
)
from uvmsim.uvm.uvm import (
    TAILQ_INSERT_TAIL,
    TAILQ_REMOVE,
    pageq_lock_of,
    pg_pagequeues,
    uvm,
    uvm_lock_pageq,
    uvm_unlock_pageq,
)
from uvmsim.uvm.uvm_page_h import (
    PG_LRU,
    PQ_ACTIVE,
    PQ_INACTIVE,
    PQ_INTENT_A,
    PQ_INTENT_D,
    PQ_INTENT_E,
    PQ_INTENT_I,
    PQ_INTENT_MASK,
    PQ_INTENT_QUEUED,
    PQ_INTENT_SET,
)
from uvmsim.uvm.uvmexp import COUNTERS_ATOMIC, COUNTERS_PERCPU, uvmexp


def uvmpdpol_init(ncpu: int) -> None:
    """`uvmpdpol_init_cpu` (1.40) for every CPU: an empty intent queue each; and FreeBSD's
    per-CPU batch queues, one per page queue and shard (`vm_pqbatch`, `pqbatch_atomic`: the
    batch of queue q of shard s at index 2 * s + q); and Linux's
    per-CPU folio batches, one per operation (`mm_swap`, `lru_batch`)."""
    from uvmsim.uvm.mm_swap import lru_init

    uvm.pdq = [[] for _ in range(ncpu)]
    uvm.pqbatch = [tuple([] for _ in range(2 * uvm.nshards)) for _ in range(ncpu)]
    lru_init(ncpu)


# ---- the queue counters (shared with uvm_page's OpenBSD operations) ------------------------


@inline
def _queue_count_inc(field: str) -> None:
    """uvmexp.active/inactive += 1, pageq lock held, of the world's kind (`queue_counters`):
    plain (before 1.184), atomic_inc_int (1.184-1.188), or this CPU's share."""
    kind = uvm.queue_counters
    if kind == COUNTERS_ATOMIC:
        atomic_inc_int(uvmexp, field)
    elif kind == COUNTERS_PERCPU:
        share = uvm.cpu_queue_counts[curcpu().index]
        setattr(share, field, getattr(share, field) + 1)
    else:
        setattr(uvmexp, field, getattr(uvmexp, field) + 1)


@inline
def _queue_count_dec(field: str) -> None:
    """uvmexp.active/inactive -= 1, pageq lock held, of the world's kind (as the increment)."""
    kind = uvm.queue_counters
    if kind == COUNTERS_ATOMIC:
        atomic_dec_int(uvmexp, field)
    elif kind == COUNTERS_PERCPU:
        share = uvm.cpu_queue_counts[curcpu().index]
        setattr(share, field, getattr(share, field) - 1)
    else:
        setattr(uvmexp, field, getattr(uvmexp, field) - 1)


# ---- intents (uvm_pdpolicy.h) ------------------------------------------------------------


@inline
def uvmpdpol_set_intent(pg: Any, intent: int) -> None:
    """`uvmpdpol_set_intent` (uvm_pdpolicy.h): record `intent` as pending, replacing an
    earlier pending one and keeping the other bits (QUEUED); interlock held."""
    MUTEX_ASSERT_LOCKED(pg.interlock)
    pg.pqflags = PQ_INTENT_SET | (pg.pqflags & ~PQ_INTENT_MASK) | intent


def uvmpdpol_pageisqueued_p(pg: Any) -> bool:
    """`uvmpdpol_pageisqueued_p` (1.40): a pending intent decides (anything but a dequeue
    means queued), else the page's queue bits.  Called with the interlock held here.  With
    `pqbatch_atomic` there is none: the word is peeked (no visible step), and the CAS that
    commits a request decides again from what it loads.  With `lru_batch` (Linux): on a
    queue or with PG_LRU, peeked (the operation decides again from atomic loads)."""
    if uvm.proto.lru_batch:
        return bool(
            peek(pg, "pqflags") & PG_LRU or peek(pg, "pg_flags") & (PQ_ACTIVE | PQ_INACTIVE)
        )
    if uvm.proto.pqbatch_atomic:
        word, flags = peek(pg, "pqflags"), peek(pg, "pg_flags")
        if word & PQ_INTENT_SET:
            return (word & PQ_INTENT_MASK) != PQ_INTENT_D
        return bool(flags & (PQ_ACTIVE | PQ_INACTIVE))
    pqflags = pg.pqflags
    if pqflags & PQ_INTENT_SET:
        return (pqflags & PQ_INTENT_MASK) != PQ_INTENT_D
    return bool(pg.pg_flags & (PQ_ACTIVE | PQ_INACTIVE))


# ---- realizing an intent: pageq (pdpolicy) lock and interlock held -----------------------


def _assert_realizing(pg: Any) -> None:
    MUTEX_ASSERT_LOCKED(pageq_lock_of(pg))
    # FreeBSD has no interlock (its word is CASed), nor has Linux (`lru_batch`).
    if not uvm.proto.pqbatch_atomic and not uvm.proto.lru_batch:
        MUTEX_ASSERT_LOCKED(pg.interlock)


@inline
def _intent_done(pg: Any) -> None:
    """The pending intent is realized: clear SET under the interlock.  With
    `pqbatch_atomic` the caller's compare-and-swap of the whole word clears it instead
    (`vm_pqbatch.vm_pqbatch_process_page`), so that a request that raced in is not lost.
    With `lru_batch` there is no intent (Linux's state is the LRU flag, `mm_swap`)."""
    if not uvm.proto.pqbatch_atomic and not uvm.proto.lru_batch:
        pg.pqflags = pg.pqflags & ~PQ_INTENT_SET


def uvmpdpol_pagedequeue_locked(pg: Any) -> None:
    """`uvmpdpol_pagedequeue_locked` (1.40): off whichever queue the page is on; the pending
    intent, if any, is done."""
    _assert_realizing(pg)
    flags = pg.pg_flags
    if flags & PQ_ACTIVE:
        TAILQ_REMOVE(pg_pagequeues(pg).active, pg)
        atomic_clearbits_int(pg, "pg_flags", PQ_ACTIVE)
        _queue_count_dec("active")
    elif flags & PQ_INACTIVE:
        TAILQ_REMOVE(pg_pagequeues(pg).inactive, pg)
        atomic_clearbits_int(pg, "pg_flags", PQ_INACTIVE)
        _queue_count_dec("inactive")
    _intent_done(pg)


def uvmpdpol_pageactivate_locked(pg: Any) -> None:
    """`uvmpdpol_pageactivate_locked` (1.40): to the tail of the active queue (from wherever
    it was: an active page moves to the tail, the LRU update an activation is)."""
    _assert_realizing(pg)
    # Read without a visible step: with `pqbatch_atomic` a requester may CAS the word now.
    KASSERT(
        (peek(pg, "pqflags") & (PQ_INTENT_MASK | PQ_INTENT_SET)) != (PQ_INTENT_D | PQ_INTENT_SET),
        "(pg->pqflags & (PQ_INTENT_MASK | PQ_INTENT_SET)) != (PQ_INTENT_D | PQ_INTENT_SET)",
    )
    uvmpdpol_pagedequeue_locked(pg)
    TAILQ_INSERT_TAIL(pg_pagequeues(pg).active, pg)
    atomic_setbits_int(pg, "pg_flags", PQ_ACTIVE)
    _queue_count_inc("active")


def uvmpdpol_pagedeactivate_locked(pg: Any) -> None:
    """`uvmpdpol_pagedeactivate_locked` (1.40): off the active queue, onto the tail of the
    inactive queue unless already there (the reference bit was cleared when the intent was
    set: the owner lock is not held now)."""
    _assert_realizing(pg)
    # Read without a visible step: with `pqbatch_atomic` a requester may CAS the word now.
    KASSERT(
        (peek(pg, "pqflags") & (PQ_INTENT_MASK | PQ_INTENT_SET)) != (PQ_INTENT_D | PQ_INTENT_SET),
        "(pg->pqflags & (PQ_INTENT_MASK | PQ_INTENT_SET)) != (PQ_INTENT_D | PQ_INTENT_SET)",
    )
    flags = pg.pg_flags
    if flags & PQ_ACTIVE:
        TAILQ_REMOVE(pg_pagequeues(pg).active, pg)
        atomic_clearbits_int(pg, "pg_flags", PQ_ACTIVE)
        _queue_count_dec("active")
    if not flags & PQ_INACTIVE:
        # wire_count is the owner's ([o]): an assertion reads it without a visible step.
        KASSERT(peek(pg, "wire_count") == 0, "pg->wire_count == 0")
        TAILQ_INSERT_TAIL(pg_pagequeues(pg).inactive, pg)
        atomic_setbits_int(pg, "pg_flags", PQ_INACTIVE)
        _queue_count_inc("inactive")
    _intent_done(pg)


def uvmpdpol_pagerealize_locked(pg: Any) -> bool:
    """`uvmpdpol_pagerealize_locked` (1.40): make the pending intent real; True if there
    was one.  Pageq and interlock held."""
    _assert_realizing(pg)
    pqflags = pg.pqflags
    if not pqflags & PQ_INTENT_SET:
        return False
    intent = pqflags & PQ_INTENT_MASK
    if intent in (PQ_INTENT_A, PQ_INTENT_E):
        uvmpdpol_pageactivate_locked(pg)
    elif intent == PQ_INTENT_I:
        uvmpdpol_pagedeactivate_locked(pg)
    else:
        uvmpdpol_pagedequeue_locked(pg)
    return True


# ---- the per-CPU intent queues ----------------------------------------------------------


def uvmpdpol_flush() -> None:
    """`uvmpdpol_flush` (1.40): realize every entry of this CPU's queue under one pageq
    acquisition, each under its interlock, newest first (NetBSD fills the array downwards
    and drains it upwards)."""
    pdq = uvm.pdq[curcpu().index]
    uvm_lock_pageq()
    while pdq:
        pg = pdq.pop()
        mtx_enter(pg.interlock)
        pg.pqflags = pg.pqflags & ~PQ_INTENT_QUEUED
        uvmpdpol_pagerealize_locked(pg)
        mtx_leave(pg.interlock)
    uvm_unlock_pageq()


def uvmpdpol_pagerealize(pg: Any) -> None:
    """`uvmpdpol_pagerealize` (1.40): put `pg` on this CPU's intent queue, flushing the queue
    first when it is full (`Protocol.pdq_size` entries).  No lock held."""
    pdq = uvm.pdq[curcpu().index]
    if len(pdq) >= uvm.proto.pdq_size:
        uvmpdpol_flush()
    pdq.append(pg)


def uvmpdpol_idle() -> None:
    """`uvmpdpol_idle` (1.40): the idle loop drains this CPU's queue if it gets the pageq
    lock by try-lock, stopping at the first entry whose interlock is taken.

    With `pqbatch_atomic` (FreeBSD, which has no idle drain) this CPU's batches are processed
    as `vm_page_pqbatch_drain` does, under the blocking lock (`vm_pqbatch`).  With
    `lru_batch` (Linux) this CPU's folio batches are drained (`mm_swap.lru_add_drain`, one
    lock acquisition per non-empty batch), as the drain work Linux queues on an idle CPU.

    NetBSD does it at most about 8 times a second (`pdqtime`, ticks) and stops when the CPU
    is wanted for something else (`ci_want_resched`); the model has no clock and no
    scheduler, so a CPU that calls this has gone idle and tries once.
    """
    if uvm.proto.lru_batch:
        from uvmsim.uvm.mm_swap import lru_add_drain

        lru_add_drain()
        return
    if uvm.proto.pqbatch_atomic:
        from uvmsim.uvm.vm_pqbatch import vm_page_pqbatch_drain

        vm_page_pqbatch_drain()
        return
    pdq = uvm.pdq[curcpu().index]
    if not pdq:
        return
    if not mtx_enter_try(uvm.pageqlock):
        return
    while pdq:
        pg = pdq[-1]
        if not mtx_enter_try(pg.interlock):
            break
        pdq.pop()
        pg.pqflags = pg.pqflags & ~PQ_INTENT_QUEUED
        uvmpdpol_pagerealize_locked(pg)
        mtx_leave(pg.interlock)
    uvm_unlock_pageq()


def uvmpdpol_drain_at_rest() -> None:
    """Scenario set-ups only: the set-up CPU goes idle long enough for its intent queue to
    drain (`uvmpdpol_idle` with nobody contending), so a scenario starts with the queues
    its set-up asked for, as on a system that was idle before the race."""
    if uvm.proto.pdpol_intents:
        uvmpdpol_idle()
