"""The invariants of uvm-semantics.md §8 that the kernel relies on, as machine checks.

Each check returns None when it holds, else a message naming the page and the rule.  They run
at quiescent points (no CPU holds any lock) and at the end of every execution; the model also
asserts a few at the exact point where the kernel relies on them (`assert_model`), e.g. that a
page is unmapped when `uvm_pageclean` runs.  Mutex rules (I19-I22) are the machine's own.

The checks read the world directly through `__dict__` (they run with no machine running, so
nothing they read is a visible operation); they run often, hence the plain loops.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import failure as fk
from uvmsim.machine import peek
from uvmsim.machine.core import fail, running
from uvmsim.machine.sites import inline
from uvmsim.uvm.uvm import uvm
from uvmsim.uvm.uvmexp import queue_counts_at_rest, uvmexp

# pg_flags bits (uvm_page.h); repeated here because uvm_page imports this module.
PG_TABLED = 0x00000004
PG_ZERO = 0x00000100
PQ_FREE = 0x00010000
PQ_INACTIVE = 0x00020000
PQ_ACTIVE = 0x00040000
PQ_ITER = 0x00080000
PQ_ANON = 0x00100000
PG_PMAPMASK = 0x3F000000
_FREE_OK = PQ_FREE | PG_ZERO | PG_PMAPMASK
PQ_LRU = PQ_ACTIVE | PQ_INACTIVE
# pqflags intent bits (uvm_page_h), for `pdpol_intents`
PQ_INTENT_MASK = 0x3
PQ_INTENT_D = 0x3
PQ_INTENT_SET = 0x4
PQ_INTENT_QUEUED = 0x8
PG_LRU = 0x10  # Linux's PG_lru in pqflags (`lru_batch`)


@inline
def assert_model(cond: object, message: str) -> None:
    """A model invariant checked where the kernel relies on it (an 'invariant' Failure)."""
    if not cond and running() is not None:
        fail(fk.INVARIANT, f"invariant violated: {message}")


def _world() -> tuple:
    """The `uvm` globals and `uvmexp`'s fields (the same objects in every execution: a
    snapshot is installed into them)."""
    return uvm, uvmexp.__dict__


def _dequeue_pending(d: dict) -> bool:
    """With `pdpol_intents`: the page's dequeue intent is pending (NetBSD's uvm_pagefree and
    uvm_pagewire leave a page on its LRU queue until then).  The one excuse a queued page
    has for having no owner, a wiring, or being free."""
    pq = d["pqflags"]
    return bool(pq & PQ_INTENT_SET) and (pq & PQ_INTENT_MASK) == PQ_INTENT_D


def _intents(uvm: Any) -> bool:
    return bool(uvm.proto is not None and uvm.proto.pdpol_intents)


def _flags(flags: int) -> str:
    from uvmsim.uvm.uvm_page_h import flag_names

    return flag_names(flags)


def check_queues() -> str | None:
    """I1 (flag <=> membership), I2 (counters), I5 (wired => unqueued), owners of queued pages."""
    uvm, _ue = _world()
    # A scan's PQ_ITER marker (uvm_pdaemon.c 1.136+) is on a queue but is no page: the
    # rules are about the pages.
    # With `lru_shards` every shard's queues, and each page on its own shard's.
    active, inactive = [], []
    for pq in uvm.pagequeues:
        for q, into in ((pq.active, active), (pq.inactive, inactive)):
            for p in peek(q, "tqh"):
                if p.__dict__["pg_flags"] & PQ_ITER:
                    continue
                if p.__dict__["shard"] != pq.index:
                    return f"{p.name} of shard {p.__dict__['shard']} is on {q.name}"
                into.append(p)
    on_a, on_i = {id(p) for p in active}, {id(p) for p in inactive}
    if len(on_a) != len(active) or len(on_i) != len(inactive):
        return "a page appears twice on an LRU queue"
    intents = _intents(uvm)
    # FreeBSD's batches (`pqbatch_atomic`) keep no QUEUED bit: a pending request is in some
    # batch, checked at rest (check_intent_queues).
    batches = intents and bool(uvm.proto.pqbatch_atomic)
    # Linux's LRU (`lru_batch`): a page on a queue with PG_LRU clear is someone's (a batch
    # moving it, a scan, a last reference releasing it), who takes it off or puts it back;
    # a freed page stays on its queue until its last reference (a batch) lets go.
    lru = intents and bool(uvm.proto.lru_batch)
    for pg in uvm.pages:
        d = pg.__dict__
        flags = d["pg_flags"]
        a, i = id(pg) in on_a, id(pg) in on_i
        if bool(flags & PQ_ACTIVE) != a or bool(flags & PQ_INACTIVE) != i:
            where = "on active" if a else "on inactive" if i else "on no queue"
            return f"I1: {pg.name} has {_flags(flags & (PQ_ACTIVE | PQ_INACTIVE))} but is {where}"
        if lru and d["pqflags"] & PG_LRU and not (a or i):
            return f"{pg.name} has PG_LRU but is on no LRU queue"
        if (
            intents
            and not batches
            and d["pqflags"] & PQ_INTENT_SET
            and not d["pqflags"] & PQ_INTENT_QUEUED
        ):
            return f"{pg.name} has an intent pending but is on no CPU's intent queue (lost)"
        if a or i:
            if a and i:
                return f"I1: {pg.name} is on both LRU queues"
            if intents and _dequeue_pending(d):
                continue  # freed or wired, still queued until the intent is realized
            if lru and d["uobject"] is None and d["uanon"] is None:
                continue  # freed: its last reference takes it off (at rest: _check_lru)
            if lru and d["wire_count"] > 0 and not d["pqflags"] & PG_LRU:
                continue  # wired: whoever cleared the flag takes it off
            if d["wire_count"] > 0:
                return f"I5: {pg.name} is wired (wire_count {d['wire_count']}) and queued"
            if d["uobject"] is None and d["uanon"] is None:
                return f"{pg.name} is on an LRU queue with no owner (uobject and uanon NULL)"
    # The counters of the world's kind (`queue_counters`): per-CPU shares are summed.
    n_active, n_inactive = queue_counts_at_rest()
    if n_active != len(active):
        return f"I2: uvmexp.active is {n_active} but the active queue has {len(active)}"
    if n_inactive != len(inactive):
        return f"I2: uvmexp.inactive is {n_inactive} but the inactive queue has {len(inactive)}"
    return None


def check_wired() -> str | None:
    """I6: uvmexp.wired equals the pages wired through uvm_pagewire (hand-wired excluded)."""
    uvm, ue = _world()
    wired = 0
    for pg in uvm.pages:
        d = pg.__dict__
        if d["wire_count"] > 0 and not d["hand_wired"]:
            wired += 1
    if ue["wired"] != wired:
        return f"I6: uvmexp.wired is {ue['wired']} but {wired} pages are wired"
    return None


def check_owners(final: bool = True) -> str | None:
    """I8 (object membership), I9 (anon back-pointer), I10 (single owner).

    Buffer-cache objects are protected by the kernel lock; a quiescent point is one where no
    CPU holds any lock, the kernel lock included, so they are compared there too.
    """
    uvm, _ue = _world()
    for pg in uvm.pages:
        d = pg.__dict__
        if d["owner_state"] != "allocated":
            continue
        flags = d["pg_flags"]
        uobj, anon = d["uobject"], d["uanon"]
        if uobj is not None and anon is not None:
            return f"I10: {pg.name} has both an object ({uobj.name}) and an anon ({anon.name})"
        if flags & PG_TABLED and (uobj is None or peek(uobj, "memt").get(d["offset"]) is not pg):
            if uobj is not None and uobj.__dict__.get("dying"):
                continue
            return f"I8: {pg.name} is PG_TABLED but not in its object's tree"
        if flags & PQ_ANON and (anon is None or peek(anon, "an_page") is not pg):
            return f"I9: {pg.name} is PQ_ANON but its anon does not point back at it"
    for uobj in uvm.objects:
        od = uobj.__dict__
        if od.get("dying"):
            continue
        memt = od["memt"]
        if od["uo_npages"] != len(memt):
            return f"I8: {uobj.name}.uo_npages is {od['uo_npages']} but it holds {len(memt)}"
        for off, pg in memt.items():
            d = pg.__dict__
            if d["uobject"] is not uobj or d["offset"] != off:
                return f"I8: {uobj.name} holds {pg.name} at 0x{off:x} but the page says otherwise"
            if not d["pg_flags"] & PG_TABLED:
                return f"I8: {pg.name} is in {uobj.name} without PG_TABLED"
    for anon in uvm.anons:
        pg = peek(anon, "an_page")
        if pg is not None and (
            peek(pg, "uanon") is not anon or peek(pg, "owner_state") != "allocated"
        ):
            return f"I9: {anon.name}.an_page is {pg.name}, which does not belong to it"
    return None


def check_free_pool(final: bool = True) -> str | None:
    """I14-I17: pmemrange and magazine page states, conservation, no double free.

    `uvmexp.percpucaches` is updated atomically outside any lock after the magazine itself
    changed, so it is compared only when every CPU has finished (`final`).
    """
    uvm, ue = _world()
    pool = peek(uvm.pmr, "free_pages")
    intents = _intents(uvm)
    seen: dict[int, str] = {}
    for pg in pool:
        if id(pg) in seen:
            return f"I17: {pg.name} is twice in pmemrange"
        seen[id(pg)] = "pmemrange"
        d = pg.__dict__
        flags = d["pg_flags"]
        lru_ok = intents and _dequeue_pending(d)
        if not flags & PQ_FREE or flags & ~(_FREE_OK | (PQ_LRU if lru_ok else 0)):
            return f"I14: {pg.name} in pmemrange has flags {_flags(flags)}"
        if d["uobject"] is not None or d["uanon"] is not None:
            return f"I14: {pg.name} in pmemrange still has an owner"
    if ue["free"] != len(pool):
        return f"I14: uvmexp.free is {ue['free']} but pmemrange holds {len(pool)}"
    cached = 0
    for upc in uvm.cpu_caches:
        for mag in upc.magz:
            if len(mag) > 8:
                return f"I15: cpu{upc.cpu} has a magazine of {len(mag)} pages"
            for pg in mag:
                if id(pg) in seen:
                    return f"I17: {pg.name} is free twice ({seen[id(pg)]} and cpu{upc.cpu})"
                seen[id(pg)] = f"cpu{upc.cpu}'s magazine"
                d = pg.__dict__
                flags = d["pg_flags"]
                if intents and _dequeue_pending(d):
                    flags &= ~PQ_LRU
                if flags & PQ_FREE or flags & ~_FREE_OK or d["wire_count"]:
                    return f"I15: {pg.name} in a magazine has flags {_flags(flags)}"
                if d["uobject"] is not None or d["uanon"] is not None:
                    return f"I15: {pg.name} in a magazine still has an owner"
                cached += 1
    if final and ue["percpucaches"] != cached:
        return f"I15: uvmexp.percpucaches is {ue['percpucaches']} but magazines hold {cached}"
    allocated = len(uvm.pages) - len(seen)
    if final and ue["free"] + ue["percpucaches"] + allocated != ue["npages"]:
        return "I16: free + percpucaches + allocated != npages"
    for pg in uvm.pages:
        d = pg.__dict__
        state = d["owner_state"]
        where = seen.get(id(pg))
        if (state == "pmr") != (where == "pmemrange") or (state == "magazine") != (
            where is not None and where != "pmemrange"
        ):
            return f"I16: {pg.name} is {state} but found in {where or 'no free list'}"
        if where is not None and d["pg_flags"] & PQ_LRU and not (intents and _dequeue_pending(d)):
            return f"I18: free page {pg.name} is still on an LRU queue"
    return None


def check_intent_queues() -> str | None:
    """With `pdpol_intents`, once every CPU has finished: a page is marked queued exactly
    when it sits in one CPU's intent queue (uvm_pageunlock marks it, then appends it with no
    lock held, so the two agree only at the end)."""
    uvm, _ue = _world()
    if not _intents(uvm):
        return None
    if uvm.proto.lru_batch:
        return _check_lru(uvm)
    if uvm.proto.pqbatch_atomic:
        return _check_batches(uvm)
    where: dict[int, int] = {}
    for cpu, pdq in enumerate(uvm.pdq):
        for pg in pdq:
            if id(pg) in where:
                return f"{pg.name} is twice in the intent queues (cpu{where[id(pg)]}, cpu{cpu})"
            where[id(pg)] = cpu
    for pg in uvm.pages:
        queued = bool(pg.__dict__["pqflags"] & PQ_INTENT_QUEUED)
        if queued != (id(pg) in where):
            state = "marked queued" if queued else "not marked queued"
            found = f"in cpu{where[id(pg)]}'s" if id(pg) in where else "in no"
            return f"{pg.name} is {state} but {found} intent queue"
    return None


def _check_batches(uvm: Any) -> str | None:
    """With `pqbatch_atomic` (FreeBSD), once every CPU has finished: a page with a request
    pending sits in at least one CPU's batch (a page may sit in several: FreeBSD submits
    whenever a request appears where none was pending, and stale entries are no-ops)."""
    batched = {id(pg) for cpu in uvm.pqbatch for bq in cpu for pg in bq}
    for pg in uvm.pages:
        if pg.__dict__["pqflags"] & PQ_INTENT_SET and id(pg) not in batched:
            return f"{pg.name} has a queue request pending but is in no CPU's batch (lost)"
    return None


def _check_lru(uvm: Any) -> str | None:
    """With `lru_batch` (Linux), once every CPU has finished: every page on a queue has
    PG_LRU (no scan or batch holds it any more); a page's references are its owner's (one,
    unless its owner freed it or it never had one) plus one per entry in the CPUs' batches;
    a free page has none."""
    entries: dict[int, int] = {}
    for cpu in uvm.lru_fbatch:
        for name, batch in cpu.items():
            for entry in batch:
                pg = entry[0] if name == "lru_add" else entry
                entries[id(pg)] = entries.get(id(pg), 0) + 1
    for pg in uvm.pages:
        d = pg.__dict__
        flags = d["pg_flags"]
        if flags & (PQ_ACTIVE | PQ_INACTIVE):
            if not d["pqflags"] & PG_LRU:
                return f"{pg.name} is on an LRU queue without PG_LRU and nobody holds it (lost)"
            if d["uobject"] is None and d["uanon"] is None and id(pg) not in entries:
                return f"{pg.name} is on an LRU queue with no owner and no reference to free it"
        own = d["lru_ref"] - entries.get(id(pg), 0)
        if d["owner_state"] != "allocated":
            if d["lru_ref"] or id(pg) in entries or d["pqflags"] & PG_LRU:
                return f"free page {pg.name} has {d['lru_ref']} references"
        elif own not in (0, 1) or (own and d["lru_deferred"]):
            return (
                f"{pg.name} has {d['lru_ref']} references but {entries.get(id(pg), 0)} batch "
                "entries (a reference leaked or was dropped twice)"
            )
    return None


def check_mappings() -> str | None:
    """I12 at rest: every mapping points at an allocated page of the generation it mapped."""
    uvm, _ue = _world()
    for pm in uvm.pmaps:
        for va, (pg, _prot, gen) in sorted(peek(pm, "pm_map").items(), key=lambda e: e[0]):
            d = pg.__dict__
            if d["owner_state"] != "allocated" or d["gen"] != gen:
                return f"I12: {pm.name} va 0x{va:x} still maps {pg.name}, which was freed"
    return None


def check_all(final: bool = True) -> str | None:
    """Every invariant; the first violated one's message."""
    return (
        check_queues()
        or check_wired()
        or check_owners(final)
        or check_free_pool(final)
        or check_mappings()
        or (check_intent_queues() if final else None)
    )


def arm(m: Any) -> None:
    """Register the invariants on machine `m`: at quiescent points and at the end."""
    m.add_check(lambda: check_all(final=False), "quiescent")
    m.add_check(check_all, "end")
