"""FreeBSD's per-CPU page-queue batches and atomic queue-state word (switch `pqbatch_atomic`).

A peer design, not OpenBSD's: protocol `freebsd-batch`.  Read in `freebsd/freebsd-src` at
commit 9622baa299bb (sys/vm/vm_page.c: `vm_page_pqstate_commit*`, `vm_pqbatch_process_page`,
`vm_pqbatch_process`, `vm_page_pqbatch_submit`, `vm_page_pqbatch_drain`,
`vm_page_dequeue_deferred`, `vm_page_dequeue`, `vm_page_mvqueue`, `vm_page_free_prep`,
`vm_page_alloc_domain_after`), sys/vm/vm_pagequeue.h (struct vm_batchqueue,
VM_BATCHQUEUE_SIZE 63 on LP64) and sys/vm/vm_pageout.c (the scans).  The design is r332974
(markj, 2018: per-CPU batch queues, the requested operation encoded in the page's atomic
state) as reworked into one atomic `vm_page_astate` word (2019-2020); the flush rule of
D37305 (Netflix, 2022: try-lock from half full, batch size doubled) is the knob
`pqbatch_flush` (the revision read predates it: its submit locks only when the batch is full,
`pqbatch_flush=1`).

It shares NetBSD's shape (`uvm_pdpolicy_clock`): a queue operation records a request on the
page and defers the list work to a per-CPU queue realized under the pageq lock.  Where
FreeBSD differs, the model differs:

- No per-page interlock: the request is committed by a compare-and-swap loop on the page's
  queue-state word (`pqflags`, the model's `a.flags`); the page queue lock is the only lock.
- A page is submitted to a batch whenever a commit sets a request where none was pending
  (FreeBSD submits when new operation bits appear): a page may sit in a batch more than once;
  processing reads the word and does nothing for a stale entry (`queue_nops`).
- One batch per CPU and page queue (`pqbatch[domain][queue]`): activations fill the active
  batch, deactivations the inactive one, dequeues the batch of the page's current queue.
  With `lru_shards` each shard (domain) has its own pair, under its own lock.
- The flush rule: a full batch is processed under the (blocking) queue lock with the new
  entry; with `pqbatch_flush=2` a batch at least half full is processed if a try-lock
  succeeds.
- Processing (`vm_pqbatch_process_page`) does the list work and then CASes the request off;
  a failed CAS (a new request raced in) retries with the new word, as FreeBSD's fcmpset loop.
- Free (`vm_page_free_prep`): only a dequeue request (`vm_page_dequeue_deferred`); the page
  may reach the free pool still on its queue.  Reuse (`vm_page_alloc_domain_after`, label
  `found`): `vm_page_dequeue` first, synchronously under the queue lock, so an allocated page
  is never on a queue from its previous life.

Per-CPU state (`uvm.pqbatch[cpu]`, a list per queue and shard: index 2 * shard + queue) is
touched only by its CPU inside a critical section in FreeBSD: plain lists here, no visible
operations.  The queue lock of a page is its shard's (`pageq_lock_of`): one lock for both
queues of a domain here, where FreeBSD has one per queue.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    MUTEX_ASSERT_LOCKED,
    atomic_cas,
    atomic_load,
    curcpu,
    mtx_enter,
    mtx_enter_try,
    mtx_leave,
    mtx_owned,
)
from uvmsim.uvm.uvm import pageq_lock_of, uvm
from uvmsim.uvm.uvm_page_h import (
    PQ_ACTIVE,
    PQ_INACTIVE,
    PQ_INTENT_A,
    PQ_INTENT_D,
    PQ_INTENT_E,
    PQ_INTENT_I,
    PQ_INTENT_MASK,
    PQ_INTENT_SET,
)
from uvmsim.uvm.uvm_pdpolicy_clock import (
    uvmpdpol_pageactivate_locked,
    uvmpdpol_pagedeactivate_locked,
    uvmpdpol_pagedequeue_locked,
)

# Batch indices (FreeBSD's PQ_ACTIVE / PQ_INACTIVE queue indices).
BQ_ACTIVE = 0
BQ_INACTIVE = 1

FLUSH_WHEN_FULL = 1  # r332974 .. before D37305: lock only when the batch is full
FLUSH_TRY_FROM_HALF = 2  # D37305: try-lock from half full, lock when full


def queued_p(word: int, pg_flags: int) -> bool:
    """The page's logical queue is not PQ_NONE: a pending request decides (anything but a
    dequeue means queued), else the physical queue bits."""
    if word & PQ_INTENT_SET:
        return (word & PQ_INTENT_MASK) != PQ_INTENT_D
    return bool(pg_flags & (PQ_ACTIVE | PQ_INACTIVE))


def _logical_queue(word: int, pg_flags: int) -> int | None:
    """The page's `a.queue`: a pending activate/deactivate names its target, otherwise the
    page is where it physically is (a pending dequeue keeps the index until processed)."""
    if word & PQ_INTENT_SET:
        intent = word & PQ_INTENT_MASK
        if intent in (PQ_INTENT_A, PQ_INTENT_E):
            return BQ_ACTIVE
        if intent == PQ_INTENT_I:
            return BQ_INACTIVE
    if pg_flags & PQ_ACTIVE:
        return BQ_ACTIVE
    if pg_flags & PQ_INACTIVE:
        return BQ_INACTIVE
    return None


def vm_page_pqstate_commit_request(pg: Any, intent: int, only_if_queued: bool) -> bool:
    """`vm_page_mvqueue` / `vm_page_dequeue_deferred` through `vm_page_pqstate_commit`:
    CAS `intent` into the word (a retry loop: no lock), then submit the page to this CPU's
    batch for its queue if no request was pending before.  True if a request was committed.

    - An activation of a page whose queue is already the active one records nothing (FreeBSD
      only raises act_count there: no list work, no batch entry).
    - A move between queues (active <-> inactive) is `vm_page_pqstate_commit_dequeue`: the
      page leaves its old queue now, under that queue's lock, and the request is committed
      under it; the insertion is deferred to the new queue's batch.
    - `only_if_queued`: a dequeue request for a page on no queue is none (PQ_NONE).
    - A caller holding the pageq lock (a scan) realizes at once, as FreeBSD's scans commit
      under the queue lock.
    """
    target = BQ_INACTIVE if intent == PQ_INTENT_I else BQ_ACTIVE
    lock = pageq_lock_of(pg)
    while True:
        old = atomic_load(pg, "pqflags")
        cur = _logical_queue(old, pg.pg_flags)
        if intent == PQ_INTENT_D:
            if only_if_queued and cur is None:
                return False
            target = BQ_ACTIVE if cur is None else cur
        elif intent in (PQ_INTENT_A, PQ_INTENT_E) and cur == BQ_ACTIVE:
            return False
        new = PQ_INTENT_SET | (old & ~PQ_INTENT_MASK) | intent
        if intent != PQ_INTENT_D and cur is not None and cur != target:
            if mtx_owned(lock):
                if atomic_cas(pg, "pqflags", old, new) == old:
                    break
                continue
            mtx_enter(lock)
            moved = _commit_dequeue(pg, old, new)
            mtx_leave(lock)
            if not moved:
                continue
            old = 0  # the page left its queue: the request is a new one for `target`
            break
        if old == new or atomic_cas(pg, "pqflags", old, new) == old:
            break
    if mtx_owned(lock):
        vm_pqbatch_process_page(pg)
    elif not old & PQ_INTENT_SET:
        vm_page_pqbatch_submit(pg, target)
    return True


def _commit_dequeue(pg: Any, old: int, new: int) -> bool:
    """`vm_page_pqstate_commit_dequeue`: queue lock held; the word must still be `old` (else
    False: retry), `new` is stored and the page leaves its physical queue.  FreeBSD removes
    speculatively and rolls back if its CAS fails; the model removes after a successful CAS,
    which no one can tell apart (the lists are touched only under the lock, and a requester
    without it decides from the word, which now names the new queue)."""
    MUTEX_ASSERT_LOCKED(pageq_lock_of(pg))
    if atomic_cas(pg, "pqflags", old, new) != old:
        return False
    uvmpdpol_pagedequeue_locked(pg)
    return True


def vm_pqbatch_process_page(pg: Any) -> bool:
    """`vm_pqbatch_process_page`: queue lock held; apply the request the word holds *now*
    (the entry may be stale: the page freed, reused and given another request since), then
    CAS the request off; a failed CAS retries with the new word.  True if one was applied."""
    MUTEX_ASSERT_LOCKED(pageq_lock_of(pg))
    while True:
        old = atomic_load(pg, "pqflags")
        if not old & PQ_INTENT_SET:
            return False  # counter queue_nops
        intent = old & PQ_INTENT_MASK
        if intent in (PQ_INTENT_A, PQ_INTENT_E):
            uvmpdpol_pageactivate_locked(pg)
        elif intent == PQ_INTENT_I:
            uvmpdpol_pagedeactivate_locked(pg)
        else:
            uvmpdpol_pagedequeue_locked(pg)
        if atomic_cas(pg, "pqflags", old, old & ~PQ_INTENT_SET) == old:
            return True


def vm_pqbatch_process(bq: list) -> None:
    """`vm_pqbatch_process`: every entry of the batch, in order; queue lock held."""
    for pg in bq:
        vm_pqbatch_process_page(pg)
    bq.clear()


def vm_page_pqbatch_submit(pg: Any, queue: int) -> None:
    """`vm_page_pqbatch_submit`: put `pg` in this CPU's batch for `queue` of its shard.

    A batch with room takes the entry; with `pqbatch_flush=2` (D37305) a batch left with at
    most half its slots free is then processed if the queue lock is got by try-lock.  A full
    batch (the insertion fails) is processed under the blocking queue lock, and `pg` after
    it (the revision read: the only rule)."""
    shard = pg.__dict__["shard"]
    bq = uvm.pqbatch[curcpu().index][2 * shard + queue]
    lock = uvm.pagequeues[shard].lock
    size = uvm.proto.pqbatch_size
    if len(bq) < size:
        bq.append(pg)
        slots = size - len(bq)
        if (
            uvm.proto.pqbatch_flush >= FLUSH_TRY_FROM_HALF
            and slots <= size >> 1
            and mtx_enter_try(lock)
        ):
            vm_pqbatch_process(bq)
            mtx_leave(lock)
        return
    mtx_enter(lock)
    vm_pqbatch_process(bq)
    vm_pqbatch_process_page(pg)
    mtx_leave(lock)


def vm_page_pqbatch_drain() -> None:
    """`vm_page_pqbatch_drain` for this CPU: each batch processed under its queue lock.
    FreeBSD runs it in severe shortages; the model runs it where NetBSD's idle loop drains
    (`uvmpdpol_idle`: scenario set-ups at rest, and the scenarios that go idle)."""
    for i, bq in enumerate(uvm.pqbatch[curcpu().index]):
        if bq:
            lock = uvm.pagequeues[i // 2].lock
            mtx_enter(lock)
            vm_pqbatch_process(bq)
            mtx_leave(lock)


def vm_page_dequeue(pg: Any) -> None:
    """`vm_page_dequeue` before reuse (`vm_page_alloc_domain_after`, label `found`): a page
    still queued (or with a request pending) from its previous life is taken off its queue
    now, under the queue lock, and its request cleared; a page on no queue costs nothing."""
    word = atomic_load(pg, "pqflags")
    if not word & PQ_INTENT_SET and not pg.pg_flags & (PQ_ACTIVE | PQ_INACTIVE):
        return
    lock = pageq_lock_of(pg)
    mtx_enter(lock)
    while True:
        old = atomic_load(pg, "pqflags")
        uvmpdpol_pagedequeue_locked(pg)
        if atomic_cas(pg, "pqflags", old, old & ~PQ_INTENT_SET) == old:
            break
    mtx_leave(lock)
