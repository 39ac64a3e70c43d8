"""`struct vm_page` and its flags (sys/uvm/uvm_page.h), as a header: data, no code paths.

`struct vm_page` fields and their protection (uvm_page.h 1.73 legend):
  pageq [Q]      one linkage: LRU queue, pmemrange free list or a private pglist
  uobject [o]    owning object, or None
  uanon [o]      owning anon, or None (never both)
  offset [o]     offset in the object
  wire_count [o] wiring count
  pg_flags [a]   changed only with atomic_setbits_int/atomic_clearbits_int; which lock
                 guards which bit is per bit (PQ_ACTIVE/PQ_INACTIVE: pageq; PQ_FREE: fpageq;
                 PG_BUSY, PG_RELEASED...: owner)
  phys_addr [I]
  lru_ref [a]    Linux's folio reference count, as far as the LRU uses it (switch
                 `lru_batch`): the owner's, the per-CPU batches', an isolating scan's
  pqflags        NetBSD's intent bits (switch `pdpol_intents`): written under the page's
                 `interlock` (a spin mutex per page); no lock letter names it, so only the
                 race detector watches it

The owner lock `[o]` is `uobject->vmobjlock` or `uanon->an_lock`; pages of the kernel's dummy
objects (pmap, buffer cache) skip the owner-lock assertions, as `uvm_page_owner_locked_p` does.
The owner predicates `UVM_OBJ_IS_*` (uvm_object.h) live here too: the annotation of every
`[o]` field needs them.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import IPL_VM, Mutex, Shared, SharedObject, peek
from uvmsim.uvm import pmap as _pmap

# ---- pg_flags (uvm_page.h) ------------------------------------------------------------------
PG_BUSY = 0x00000001
PG_WANTED = 0x00000002
PG_TABLED = 0x00000004
PG_CLEAN = 0x00000008
PG_CLEANCHK = 0x00000010
PG_RELEASED = 0x00000020
PG_FAKE = 0x00000040
PG_RDONLY = 0x00000080
PG_ZERO = 0x00000100
PG_DEV = 0x00000200
PG_MASK = 0x0000FFFF

PQ_FREE = 0x00010000
PQ_INACTIVE = 0x00020000
PQ_ACTIVE = 0x00040000
PQ_ITER = 0x00080000
PQ_ANON = 0x00100000
PQ_AOBJ = 0x00200000
PQ_SWAPBACKED = PQ_ANON | PQ_AOBJ
PQ_ENCRYPT = 0x00400000
PQ_MASK = 0x00FF0000

PG_PMAPMASK = 0x3F000000

# ---- pqflags: NetBSD's page-replacement intents (switch `pdpol_intents`) -------------------
# NetBSD keeps them in `pqflags`, apart from the flags the allocator owns (uvm_page.h of the
# 2020 intent rework; the values here are the model's own).  The intent says which queue
# operation the page wants; SET says one is pending; QUEUED says the page sits in some CPU's
# intent queue.  The model keeps PQ_ACTIVE/PQ_INACTIVE in pg_flags, as OpenBSD does: with
# intents they may still be set on a freed page whose dequeue intent is pending.
PQ_INTENT_A = 0x0  # activate
PQ_INTENT_I = 0x1  # deactivate
PQ_INTENT_E = 0x2  # enqueue (read-ahead: activates in the clock policy)
PQ_INTENT_D = 0x3  # dequeue
PQ_INTENT_MASK = 0x3
PQ_INTENT_SET = 0x4
PQ_INTENT_QUEUED = 0x8
# Linux's PG_lru (switch `lru_batch`, `mm_swap`), kept in pqflags: on an LRU list and not
# taken off it by anyone; cleared by an atomic test-and-clear before a page is moved or
# isolated.
PG_LRU = 0x10
PQ_LRU = PQ_ACTIVE | PQ_INACTIVE

FLAG_NAMES = (
    (PG_BUSY, "PG_BUSY"),
    (PG_WANTED, "PG_WANTED"),
    (PG_TABLED, "PG_TABLED"),
    (PG_CLEAN, "PG_CLEAN"),
    (PG_CLEANCHK, "PG_CLEANCHK"),
    (PG_RELEASED, "PG_RELEASED"),
    (PG_FAKE, "PG_FAKE"),
    (PG_RDONLY, "PG_RDONLY"),
    (PG_ZERO, "PG_ZERO"),
    (PG_DEV, "PG_DEV"),
    (PQ_FREE, "PQ_FREE"),
    (PQ_INACTIVE, "PQ_INACTIVE"),
    (PQ_ACTIVE, "PQ_ACTIVE"),
    (PQ_ITER, "PQ_ITER"),
    (PQ_ANON, "PQ_ANON"),
    (PQ_AOBJ, "PQ_AOBJ"),
    (PQ_ENCRYPT, "PQ_ENCRYPT"),
    (_pmap.PG_PMAP_REF, "PG_PMAP_REF"),
    (_pmap.PG_PMAP_MOD, "PG_PMAP_MOD"),
)

# uvm_pagealloc flags (uvm_extern.h)
UVM_PGA_USERESERVE = 0x0001
UVM_PGA_ZERO = 0x0002

PAGE_SIZE = 4096


def flag_names(flags: int) -> str:
    """`PG_BUSY|PQ_ACTIVE`-style rendering of a pg_flags value."""
    names = [n for bit, n in FLAG_NAMES if flags & bit]
    return "|".join(names) if names else "0"


def _owner_lock(pg: vm_page) -> Any:
    """The lock the `[o]` annotation means for `pg` (None: dummy owner or no owner)."""
    d = pg.__dict__
    uobj = d["uobject"]
    if uobj is not None:
        if UVM_OBJ_IS_DUMMY(uobj):
            return None
        return peek(uobj, "vmobjlock")
    anon = d["uanon"]
    if anon is not None:
        return peek(anon, "an_lock")
    return None


class vm_page(SharedObject):
    """`struct vm_page` (see the module docstring for the legend).

        Model bookkeeping that is not kernel state, kept outside the Shared fields and never a
        visible operation: `owner_state` ('pmr', 'magazine' or 'allocated'), `gen` (bumped at every
        allocation, to recognise stale mappings), `pageq` (which list the linkage is on),
        `in_pageclean` (the CPU inside uvm_pageclean on this page), `hand_wired` (wire_count set by
        hand, as the buffer cache and pmaps do; such pages are not counted in uvmexp.wired),
        `lru_deferred` (with `lru_batch`: the owner's free was not the last reference), `shard`
    (with `lru_shards`: the domain whose queues and lock the page's LRU linkage belongs to).
    """

    pg_flags = Shared("a")
    wire_count = Shared("o")
    uobject = Shared("o", default=None)
    uanon = Shared("o", default=None)
    offset = Shared("o")
    phys_addr = Shared("I")
    pmr_use = Shared("I")  # `use` of the page's pmemrange (> 0: constrained, bypasses caches)
    pqflags = Shared("")  # intents (PQ_INTENT_*), under `interlock`; 0 without `pdpol_intents`
    lru_ref = Shared("a")  # Linux's reference count as the LRU sees it (`lru_batch` only)

    annotation_locks = {"o": _owner_lock}

    def __init__(self, name: str, phys_addr: int, pmr_use: int = 0):
        super().__init__(name)
        d = self.__dict__
        d["phys_addr"] = phys_addr
        d["pmr_use"] = pmr_use
        d["mdpage"] = _pmap.vm_page_md(f"{name}.md")
        d["owner_state"] = "pmr"
        d["gen"] = 0
        d["pageq"] = None
        d["in_pageclean"] = None
        d["hand_wired"] = False
        d["lru_deferred"] = False  # lru_batch: freed by its owner, a batch frees it later
        d["shard"] = 0  # `lru_shards`: the page's domain (physical, fixed: `uvm_boot`)
        # NetBSD's `pg->interlock`: one lock class for every page (WITNESS, the simulator's
        # per-lock statistics); taken only with `pdpol_intents`.
        d["interlock"] = Mutex(f"{name}.interlock", IPL_VM, lock_class="pg_interlock")


# ---- owners -----------------------------------------------------------------------------------

UVM_OBJ_KERN = -2


def UVM_OBJ_IS_PMAP(uobj: Any) -> bool:
    """`UVM_OBJ_IS_PMAP`: the object is a pmap's page-table object (pgops == pmap_pager)."""
    return peek(uobj, "pgops") == "pmap"


def UVM_OBJ_IS_BUFCACHE(uobj: Any) -> bool:
    """`UVM_OBJ_IS_BUFCACHE`: the buffer cache's object (pgops == bufcache_pager)."""
    return peek(uobj, "pgops") == "bufcache"


def UVM_OBJ_IS_DUMMY(uobj: Any) -> bool:
    """`UVM_OBJ_IS_DUMMY`: pmap or buffer-cache object; owner-lock assertions are skipped."""
    return peek(uobj, "pgops") in ("pmap", "bufcache")
