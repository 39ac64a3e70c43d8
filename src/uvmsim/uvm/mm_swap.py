"""Linux's LRU: per-CPU folio batches, one lock per lruvec, the LRU flag (switch `lru_batch`).

A peer design, not OpenBSD's: protocol `linux-lruvec`.  Read in a 6.x tree, as the store
holds it: `CachyOS/linux` (mainline's mm/ plus CachyOS's own hunks, none in the functions
modelled here) -- mm/swap.c at commit 3bb379be9b84 (`struct cpu_fbatches`,
`__folio_batch_add_and_move`, `folio_batch_move_lru`, `lru_add`, `lru_activate`,
`lru_deactivate`, `folio_activate`, `folio_deactivate`, `__lru_cache_activate_folio`,
`lru_add_drain_cpu`, `folios_put_refs`, `__page_cache_release`, `__folio_put`) and
mm/vmscan.c at commit 04a07002f646 (`isolate_lru_folios`, `folio_isolate_lru`,
`move_folios_to_lru`, `shrink_inactive_list`).  The store's own `torvalds/linux` mm/swap.c
(commit eb39d618f9e8) is a 3.x tree (zone->lru_lock, pagevecs of 14): read for contrast only.

What the model takes from it (the mapping onto the model's call sites is netbsd-intent's:
each queue operation ends in `uvm_page._pdpol_intent`, which calls `lru_queue_op` here):

- One lock per lruvec: the model has one node and no memory cgroups, so one lruvec whose
  `lru_lock` is the model's pageq lock (`uvm.pageqlock`), guarding the active and inactive
  lists and their counts.  Shards are not modelled (see docs/protocols.md).
- The LRU flag `PG_LRU` (Linux's PG_lru; the model keeps it in the page's `pqflags`, the
  word the peer designs keep their queue state in, apart from the model's `pg_flags` whose
  many atomic updates would all look dependent on it): set exactly when the page is on an
  LRU list and nobody has taken it off for themselves.  Whoever wants to move or take a page
  off a list clears it first with an atomic test-and-clear (`folio_test_clear_lru`, a CAS
  here) and skips the page if it was already clear: the flag is the isolation token.
- Per-CPU batches per operation type (`cpu_fbatches`: lru_add, lru_activate,
  lru_deactivate), `Protocol.lru_batch_size` entries each (31, PAGEVEC_SIZE of the 6.x
  trees).  An entry holds a page reference (`folio_get`); a batch is moved under the lruvec
  lock when it fills (`folio_batch_add_and_move`) or when drained (`lru_add_drain`: before
  the pagedaemon's scan, as `shrink_inactive_list` does, and when a CPU idles, where the
  model's other batch designs drain).  Moving an entry: lru_add puts the page on its list;
  the others test-and-clear the flag first and skip the entry if it was clear; all set it
  after.  Then the batch's references are dropped (`folios_put`).
- References (`vm_page.lru_ref`, Linux's `_refcount` as far as the LRU cares): the owner's
  one (set when the page is given an identity), one per batch entry, one for an isolating
  scan.  Freeing a page (`uvm_pagefree`) drops the owner's; the page goes back to the
  allocator only when the count reaches zero, so a page in some CPU's batch is freed when
  that batch lets go of it (`folios_put_refs`).  The last reference takes the page off its
  list under the lock if it still has the flag (`__page_cache_release`).
- Isolation for reclaim (`isolate_lru_folios`): under the lock, a reference is taken unless
  the count is zero (`folio_try_get`), then the flag is tested and cleared; a page whose flag
  was clear is someone else's (a batch moving it, another isolator, a free) and is skipped.
  Linux moves an isolated page to the scanner's private list; the model leaves it where it is
  on the queue (the scans walk the queues in place) and keeps the private list as this CPU's
  `lru_isolated` list: the flag being clear is what keeps everybody else off it.  The scan
  puts them back at its end (`move_folios_to_lru`): flag set, reference dropped (the last
  one frees the page).

Per-CPU state (`uvm.lru_fbatch[cpu]`, `curcpu().local["lru_isolated"]`) is touched only by
its CPU (Linux: a local lock / the scanner's stack): plain lists, no visible operations.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    MUTEX_ASSERT_LOCKED,
    atomic_clearbits_int,
    atomic_inc_int,
    atomic_load,
    atomic_rmw_ordered,
    atomic_setbits_int,
    curcpu,
    inline,
    mtx_enter,
    mtx_leave,
    mtx_owned,
    peek,
)
from uvmsim.uvm.uvm import pageq_lock_of, uvm
from uvmsim.uvm.uvm_page_h import (
    PG_LRU,
    PQ_ACTIVE,
    PQ_INACTIVE,
    PQ_INTENT_A,
    PQ_INTENT_D,
    PQ_INTENT_E,
    PQ_INTENT_I,
)
from uvmsim.uvm.uvm_pdpolicy_clock import (
    uvmpdpol_pageactivate_locked,
    uvmpdpol_pagedeactivate_locked,
    uvmpdpol_pagedequeue_locked,
)

# The batches of `struct cpu_fbatches` the model's operations use.
LRU_ADD = "lru_add"
LRU_ACTIVATE = "lru_activate"
LRU_DEACTIVATE = "lru_deactivate"
FBATCHES = (LRU_ADD, LRU_ACTIVATE, LRU_DEACTIVATE)
ON_LIST = PQ_ACTIVE | PQ_INACTIVE


def lru_init(ncpu: int) -> None:
    """Every CPU's `cpu_fbatches`, empty.  An lru_add entry is `[page, active]`: Linux keeps
    the wanted list in the folio's PG_active until the batch moves it; the model carries it
    with the entry (set by `__lru_cache_activate_folio` on this CPU's own batch)."""
    uvm.lru_fbatch = [{name: [] for name in FBATCHES} for _ in range(ncpu)]


def _isolated() -> list:
    """This CPU's isolated pages: the scanner's private list (`folio_list` on its stack)."""
    return curcpu().local.setdefault("lru_isolated", [])


# ---- the LRU flag -------------------------------------------------------------------------


@inline
def folio_test_clear_lru(pg: Any) -> bool:
    """`folio_test_clear_lru`: atomically clear PG_LRU; whether it was set (Linux's
    test_and_clear_bit, fully ordered): one winner among racing clearers."""
    return bool(atomic_rmw_ordered(pg, "pqflags", lambda old: old & ~PG_LRU) & PG_LRU)


def folio_set_lru(pg: Any) -> None:
    """`folio_set_lru`: set PG_LRU (an atomic set_bit)."""
    atomic_setbits_int(pg, "pqflags", PG_LRU)


# ---- references -------------------------------------------------------------------------


def folio_get(pg: Any) -> None:
    """`folio_get`: one more reference; the caller already holds one (the owner lock here)."""
    atomic_inc_int(pg, "lru_ref")


@inline
def folio_try_get(pg: Any) -> bool:
    """`folio_try_get`: a reference unless the count is zero (the page is being freed):
    `atomic_add_unless(&refcount, 1, 0)`, fully ordered when it succeeds."""
    return atomic_rmw_ordered(pg, "lru_ref", lambda old: old + 1 if old else 0) != 0


@inline
def folio_ref_sub_and_test(pg: Any, n: int) -> bool:
    """`folio_ref_sub_and_test`: drop `n` references; whether none is left (fully ordered)."""
    old = atomic_rmw_ordered(pg, "lru_ref", lambda old: old - n)
    KASSERT(old >= n, "folio_ref_count(folio) >= nr_refs")
    return old == n


def lru_folio_init_ref(pg: Any) -> None:
    """The owner's reference of a page given an identity (`uvm_pagealloc_pg`): a free page has
    none (Linux's allocator hands out a folio with a count of one)."""
    old = atomic_rmw_ordered(pg, "lru_ref", lambda old: 1 if old == 0 else old)
    KASSERT(old == 0, "folio_ref_count(folio) == 0")


def page_cache_release(pg: Any) -> None:
    """`__page_cache_release` of a page whose last reference is gone: off its list under the
    lruvec lock if it still has the flag, the flag cleared (`__folio_clear_lru_flags`).  A
    page isolated by this CPU (no flag, still on its queue in the model: the scanner's private
    list) leaves the queue here too.  Taken only when not held already."""
    lru = atomic_load(pg, "pqflags") & PG_LRU
    mine = pg in _isolated()
    if not lru and not (mine and pg.pg_flags & ON_LIST):
        if mine:
            _isolated().remove(pg)
        return
    lock = pageq_lock_of(pg)
    held = mtx_owned(lock)
    if not held:
        mtx_enter(lock)
    uvmpdpol_pagedequeue_locked(pg)
    if mine:
        _isolated().remove(pg)
    else:
        atomic_clearbits_int(pg, "pqflags", PG_LRU)
    if not held:
        mtx_leave(lock)


def _free_to_allocator(pg: Any) -> None:
    """The page allocator's free of a page without references (`free_unref_folios`): this
    CPU's magazine, or pmemrange (as `uvm_pagefree` does)."""
    from uvmsim.uvm import uvm_pmemrange as pmr

    KASSERT(not peek(pg, "pqflags") & PG_LRU, "!folio_test_lru(folio)")  # free_page_is_bad
    if uvm.proto.percpu_magazines:
        pmr.uvm_pmr_cache_put(pg)
    else:
        pmr.uvm_pmr_freepages([pg])


def folio_put(pg: Any) -> None:
    """`folio_put` by a batch or a scanner: the last reference frees the page."""
    if folio_ref_sub_and_test(pg, 1):
        page_cache_release(pg)
        _free_to_allocator(pg)


def lru_owner_put(pg: Any) -> bool:
    """The owner's `folio_put` in `uvm_pageclean` (its identity is gone): True if that was the
    last reference (the caller frees the page), else a batch or a scan still holds one and
    frees it when it lets go.  A scanner freeing a page it isolated drops its isolation
    reference with the owner's (reclaim frees by freezing both, `__remove_mapping`)."""
    n = 2 if pg in _isolated() else 1
    if n == 1 and atomic_load(pg, "lru_ref") == 0:
        return True  # never given an owner's reference: a page list's (bounce pages)
    if not folio_ref_sub_and_test(pg, n):
        if n == 2:
            _isolated().remove(pg)
        return False
    page_cache_release(pg)
    return True


# ---- the lists, lruvec lock held ---------------------------------------------------------


def lruvec_add_folio(pg: Any, active: bool) -> None:
    """`lruvec_add_folio`: a page on no list to the tail of the active or inactive list (the
    model's list operations, as the intent designs realize theirs)."""
    MUTEX_ASSERT_LOCKED(pageq_lock_of(pg))
    KASSERT(not pg.pg_flags & ON_LIST, "!folio_test_lru(folio)")
    if active:
        uvmpdpol_pageactivate_locked(pg)
    else:
        uvmpdpol_pagedeactivate_locked(pg)


def _unevictable(pg: Any) -> bool:
    """Wired (mlocked, as far as the LRU is concerned): `folio_evictable` false.  The wiring is
    the owner's; Linux reads PG_mlocked under the lruvec lock, the model peeks."""
    return peek(pg, "wire_count") > 0


def lru_add(pg: Any, active: bool) -> bool:
    """`lru_add`: the page goes on its list; whether it did.  A page wired meanwhile would go
    on Linux's unevictable list, which the model has not: it stays off the lists with its
    flag clear until its unwiring adds it again (see `lru_queue_op`)."""
    if _unevictable(pg):
        return False
    lruvec_add_folio(pg, active)
    return True


def lru_activate(pg: Any) -> None:
    """`lru_activate`: an inactive page to the active list (nothing for an active one)."""
    if pg.pg_flags & PQ_ACTIVE or _unevictable(pg):
        return
    uvmpdpol_pageactivate_locked(pg)


def lru_deactivate(pg: Any) -> None:
    """`lru_deactivate`: an active page to the inactive list (nothing for an inactive one)."""
    if not pg.pg_flags & PQ_ACTIVE or _unevictable(pg):
        return
    uvmpdpol_pagedeactivate_locked(pg)


def folio_batch_move_lru(batch: list, op: str) -> None:
    """`folio_batch_move_lru`: the entries under their lruvec's lock, taken at the first entry
    that moves and kept while the next entry's lruvec is the same (`folio_lruvec_relock_irq`:
    with `lru_shards`, a change of shard drops one lock and takes the other); an entry of a
    non-add batch whose flag someone else cleared is skipped; the flag is set again after
    the move.  Then the batch's references are dropped (`folios_put`), which frees the pages
    whose owners let go meanwhile."""
    locked = None
    for entry in batch:
        pg = entry[0] if op == LRU_ADD else entry
        if op != LRU_ADD and not folio_test_clear_lru(pg):
            continue
        lock = pageq_lock_of(pg)
        if locked is not lock:
            if locked is not None:
                mtx_leave(locked)
            mtx_enter(lock)
            locked = lock
        if op == LRU_ADD:
            if not lru_add(pg, entry[1]):
                continue
        elif _unevictable(pg):
            # Wired after it was batched, its flag won here first: Linux leaves it on its
            # list for reclaim to cull to the unevictable list; the model, which has none,
            # takes it off now and leaves the flag clear (see `lru_add`).
            uvmpdpol_pagedequeue_locked(pg)
            continue
        elif op == LRU_ACTIVATE:
            lru_activate(pg)
        else:
            lru_deactivate(pg)
        folio_set_lru(pg)
    if locked is not None:
        mtx_leave(locked)
    pages = [entry[0] if op == LRU_ADD else entry for entry in batch]
    batch.clear()
    for pg in pages:
        folio_put(pg)


def folio_batch_add_and_move(pg: Any, op: str, active: bool = False) -> None:
    """`__folio_batch_add_and_move`: a reference for the batch, the page into this CPU's batch
    for `op`, and the batch moved when that filled it (`folio_batch_add` left no space)."""
    folio_get(pg)
    batch = uvm.lru_fbatch[curcpu().index][op]
    batch.append([pg, active] if op == LRU_ADD else pg)
    if len(batch) >= uvm.proto.lru_batch_size:
        folio_batch_move_lru(batch, op)


def lru_add_drain() -> None:
    """`lru_add_drain` (`lru_add_drain_cpu` for this CPU): each non-empty batch moved, lru_add
    first then the deactivations, then the activations, as Linux orders them."""
    fb = uvm.lru_fbatch[curcpu().index]
    for op in (LRU_ADD, LRU_DEACTIVATE, LRU_ACTIVATE):
        if fb[op]:
            folio_batch_move_lru(fb[op], op)


def _lru_cache_activate_folio(pg: Any) -> bool:
    """`__lru_cache_activate_folio`: a page not on the LRU sitting in *this* CPU's lru_add
    batch is marked to go on the active list; whether it was found."""
    for entry in reversed(uvm.lru_fbatch[curcpu().index][LRU_ADD]):
        if entry[0] is pg:
            entry[1] = True
            return True
    return False


# ---- the model's queue operations ----------------------------------------------------------


def lru_queue_op(pg: Any, intent: int) -> None:
    """A queue operation of the model (`uvm_page._pdpol_intent`), Linux's way.

    - Activate (`folio_activate`) / deactivate (`folio_deactivate`): a page on the LRU goes
      into this CPU's batch for the operation (nothing if already where it is asked to go).
      A page not on the LRU with only its owner's reference is a new one (or one just
      unwired): `folio_add_lru`, into the lru_add batch for the list asked.  A page not on
      the LRU that others reference is in some batch or isolated: left to them (an
      activation marks it active if it is in this CPU's lru_add batch).
    - Dequeue (`uvm_pagedequeue`, the first wiring): `folio_isolate_lru` at once, a page off
      the LRU stays off (a wired page stays off until its unwiring adds it again); nothing if
      the flag is already clear.  Freeing dequeues nothing here: the last reference does
      (`lru_owner_put`).
    - A caller holding the lruvec lock (the pagedaemon's scans, uvn_flush, a set-up's
      eviction) moves the page at once: a page it isolated itself directly, another one if it
      wins its flag (the move of `folio_batch_move_lru` done in place).
    """
    lock = pageq_lock_of(pg)
    if mtx_owned(lock):
        _queue_op_locked(pg, intent)
        return
    flags = pg.pg_flags
    if intent == PQ_INTENT_D:
        if folio_test_clear_lru(pg):
            mtx_enter(lock)
            uvmpdpol_pagedequeue_locked(pg)
            mtx_leave(lock)
        return
    active = intent in (PQ_INTENT_A, PQ_INTENT_E)
    if atomic_load(pg, "pqflags") & PG_LRU:
        if active == bool(flags & PQ_ACTIVE):
            return
        folio_batch_add_and_move(pg, LRU_ACTIVATE if active else LRU_DEACTIVATE)
        return
    if not flags & ON_LIST and atomic_load(pg, "lru_ref") == 1:
        folio_batch_add_and_move(pg, LRU_ADD, active)
        return
    if active:
        _lru_cache_activate_folio(pg)


def _queue_op_locked(pg: Any, intent: int) -> None:
    """`lru_queue_op` with the lruvec lock held by the caller."""
    flags = pg.pg_flags
    mine = pg in _isolated()
    if not mine and not folio_test_clear_lru(pg):
        new = intent != PQ_INTENT_D and not flags & ON_LIST and atomic_load(pg, "lru_ref") == 1
        if new and lru_add(pg, intent != PQ_INTENT_I):
            folio_set_lru(pg)
        return
    if intent == PQ_INTENT_D:
        uvmpdpol_pagedequeue_locked(pg)
        return  # off the LRU, flag clear (an isolating scan frees it next)
    if intent == PQ_INTENT_I:
        if not flags & PQ_INACTIVE:
            uvmpdpol_pagedeactivate_locked(pg)
    elif not flags & PQ_ACTIVE:
        uvmpdpol_pageactivate_locked(pg)
    if not mine:
        folio_set_lru(pg)


# ---- reclaim -----------------------------------------------------------------------------


def lru_isolate(pg: Any) -> bool:
    """`isolate_lru_folios` for one page, lruvec lock held: a reference unless it is being
    freed (`folio_try_get`), then the flag tested and cleared; a page whose flag was clear
    is someone else's (the reference is dropped again).  True: the page is this CPU's."""
    MUTEX_ASSERT_LOCKED(pageq_lock_of(pg))
    if pg in _isolated():
        return False
    if not folio_try_get(pg):
        return False
    if not folio_test_clear_lru(pg):
        folio_put(pg)
        return False
    _isolated().append(pg)
    return True


def move_folios_to_lru() -> None:
    """`move_folios_to_lru` at the end of a scan, lruvec lock held: each page this CPU still
    has isolated gets its flag back and loses the isolation reference; the last reference
    frees it (off its list first, `__folio_clear_lru_flags`).  A page wired meanwhile goes
    off the lists (Linux: to the unevictable list, `folio_putback_lru`).  With `lru_shards`
    the scan is of one shard and so are the pages it isolated: its lock is held."""
    iso = _isolated()
    while iso:
        pg = iso.pop(0)
        MUTEX_ASSERT_LOCKED(pageq_lock_of(pg))
        if _unevictable(pg):
            if pg.pg_flags & ON_LIST:
                uvmpdpol_pagedequeue_locked(pg)
            if folio_ref_sub_and_test(pg, 1):
                _free_to_allocator(pg)
            continue
        if not pg.pg_flags & ON_LIST:
            lruvec_add_folio(pg, False)
        folio_set_lru(pg)
        if folio_ref_sub_and_test(pg, 1):
            atomic_clearbits_int(pg, "pqflags", PG_LRU)
            uvmpdpol_pagedequeue_locked(pg)
            _free_to_allocator(pg)


def lru_pending() -> int:
    """Entries waiting in the CPUs' batches (the workload's `intents_pending`)."""
    return sum(len(b) for cpu in uvm.lru_fbatch for b in cpu.values())
