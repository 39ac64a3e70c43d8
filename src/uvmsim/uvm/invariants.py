"""The invariants of uvm-semantics.md §8 that the kernel relies on, as machine checks.

Each check returns None when it holds, else a message naming the page and the rule.  They run
at quiescent points (no CPU holds any lock) and at the end of every execution; the model also
asserts a few at the exact point where the kernel relies on them (`assert_model`), e.g. that a
page is unmapped when `uvm_pageclean` runs.  Mutex rules (I19-I22) are the machine's own.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import failure as fk
from uvmsim.machine import peek
from uvmsim.machine.core import fail, inline, running


@inline
def assert_model(cond: object, message: str) -> None:
    """A model invariant checked where the kernel relies on it (an 'invariant' Failure)."""
    if not cond and running() is not None:
        fail(fk.INVARIANT, f"invariant violated: {message}")


def _f():
    from uvmsim.uvm import uvm_page as up

    return up


def _pages() -> list:
    from uvmsim.uvm.uvm import uvm

    return uvm.pages


def check_queues() -> str | None:
    """I1 (flag <=> membership), I2 (counters), I5 (wired => unqueued), owners of queued pages."""
    from uvmsim.uvm.uvm import uvm
    from uvmsim.uvm.uvmexp import uvmexp

    up = _f()
    active = peek(uvm.page_active, "tqh")
    inactive = peek(uvm.page_inactive, "tqh")
    act, inact = set(map(id, active)), set(map(id, inactive))
    if len(act) != len(active) or len(inact) != len(inactive):
        return "a page appears twice on an LRU queue"
    for pg in _pages():
        flags = peek(pg, "pg_flags")
        on_a, on_i = id(pg) in act, id(pg) in inact
        if bool(flags & up.PQ_ACTIVE) != on_a or bool(flags & up.PQ_INACTIVE) != on_i:
            return (
                f"I1: {pg.name} has {up.flag_names(flags & (up.PQ_ACTIVE | up.PQ_INACTIVE))}"
                f" but is {'on active' if on_a else 'on inactive' if on_i else 'on no queue'}"
            )
        if on_a and on_i:
            return f"I1: {pg.name} is on both LRU queues"
        if (on_a or on_i) and peek(pg, "wire_count") > 0:
            return f"I5: {pg.name} is wired (wire_count {peek(pg, 'wire_count')}) and queued"
        if (on_a or on_i) and peek(pg, "uobject") is None and peek(pg, "uanon") is None:
            return f"{pg.name} is on an LRU queue with no owner (uobject and uanon NULL)"
    if peek(uvmexp, "active") != len(active):
        return (
            f"I2: uvmexp.active is {peek(uvmexp, 'active')} but the active queue has {len(active)}"
        )
    if peek(uvmexp, "inactive") != len(inactive):
        return (
            f"I2: uvmexp.inactive is {peek(uvmexp, 'inactive')} but the inactive queue has "
            f"{len(inactive)}"
        )
    return None


def check_wired() -> str | None:
    """I6: uvmexp.wired equals the pages wired through uvm_pagewire (hand-wired excluded)."""
    from uvmsim.uvm.uvmexp import uvmexp

    wired = sum(1 for pg in _pages() if peek(pg, "wire_count") > 0 and not peek(pg, "hand_wired"))
    if peek(uvmexp, "wired") != wired:
        return f"I6: uvmexp.wired is {peek(uvmexp, 'wired')} but {wired} pages are wired"
    return None


def check_owners(final: bool = True) -> str | None:
    """I8 (object membership), I9 (anon back-pointer), I10 (single owner).

    Buffer-cache objects are protected by the kernel lock, which the model does not have, so
    their tree is only compared with their pages when every CPU has finished (`final`).
    """
    from uvmsim.uvm.uvm import uvm

    up = _f()
    for pg in _pages():
        if peek(pg, "owner_state") != "allocated":
            continue
        flags = peek(pg, "pg_flags")
        uobj, anon = peek(pg, "uobject"), peek(pg, "uanon")
        if uobj is not None and anon is not None:
            return f"I10: {pg.name} has both an object ({uobj.name}) and an anon ({anon.name})"
        if flags & up.PG_TABLED and (
            uobj is None or peek(uobj, "memt").get(peek(pg, "offset")) is not pg
        ):
            if uobj is not None and (
                uobj.__dict__.get("dying") or (not final and up.UVM_OBJ_IS_BUFCACHE(uobj))
            ):
                continue
            return f"I8: {pg.name} is PG_TABLED but not in its object's tree"
        if flags & up.PQ_ANON and (anon is None or peek(anon, "an_page") is not pg):
            return f"I9: {pg.name} is PQ_ANON but its anon does not point back at it"
    for uobj in uvm.objects:
        if uobj.__dict__.get("dying") or (not final and up.UVM_OBJ_IS_BUFCACHE(uobj)):
            continue
        memt = peek(uobj, "memt")
        if peek(uobj, "uo_npages") != len(memt):
            return (
                f"I8: {uobj.name}.uo_npages is {peek(uobj, 'uo_npages')} but it holds {len(memt)}"
            )
        for off, pg in memt.items():
            if peek(pg, "uobject") is not uobj or peek(pg, "offset") != off:
                return f"I8: {uobj.name} holds {pg.name} at 0x{off:x} but the page says otherwise"
            if not peek(pg, "pg_flags") & up.PG_TABLED:
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
    from uvmsim.uvm.uvm import uvm
    from uvmsim.uvm.uvm_pmemrange import VALID_FLAGS
    from uvmsim.uvm.uvmexp import uvmexp

    up = _f()
    pool = peek(uvm.pmr, "free_pages")
    seen: dict[int, str] = {}
    for pg in pool:
        if id(pg) in seen:
            return f"I17: {pg.name} is twice in pmemrange"
        seen[id(pg)] = "pmemrange"
        flags = peek(pg, "pg_flags")
        if not flags & up.PQ_FREE or not VALID_FLAGS(flags):
            return f"I14: {pg.name} in pmemrange has flags {up.flag_names(flags)}"
        if peek(pg, "uobject") is not None or peek(pg, "uanon") is not None:
            return f"I14: {pg.name} in pmemrange still has an owner"
    if peek(uvmexp, "free") != len(pool):
        return f"I14: uvmexp.free is {peek(uvmexp, 'free')} but pmemrange holds {len(pool)}"
    cached = 0
    for upc in uvm.cpu_caches:
        for mag in upc.magz:
            if len(mag) > 8:
                return f"I15: cpu{upc.cpu} has a magazine of {len(mag)} pages"
            for pg in mag:
                if id(pg) in seen:
                    return (
                        f"I17: {pg.name} is free twice ({seen[id(pg)]} and cpu{upc.cpu}'s magazine)"
                    )
                seen[id(pg)] = f"cpu{upc.cpu}'s magazine"
                flags = peek(pg, "pg_flags")
                if flags & up.PQ_FREE or not VALID_FLAGS(flags) or peek(pg, "wire_count"):
                    return f"I15: {pg.name} in a magazine has flags {up.flag_names(flags)}"
                if peek(pg, "uobject") is not None or peek(pg, "uanon") is not None:
                    return f"I15: {pg.name} in a magazine still has an owner"
                cached += 1
    if final and peek(uvmexp, "percpucaches") != cached:
        return (
            f"I15: uvmexp.percpucaches is {peek(uvmexp, 'percpucaches')} but magazines "
            f"hold {cached}"
        )
    allocated = sum(1 for pg in _pages() if id(pg) not in seen)
    if final and peek(uvmexp, "free") + peek(uvmexp, "percpucaches") + allocated != peek(
        uvmexp, "npages"
    ):
        return "I16: free + percpucaches + allocated != npages"
    for pg in _pages():
        state = peek(pg, "owner_state")
        where = seen.get(id(pg))
        if (state == "pmr") != (where == "pmemrange") or (state == "magazine") != (
            where is not None and where != "pmemrange"
        ):
            return f"I16: {pg.name} is {state} but found in {where or 'no free list'}"
        if where is not None and (peek(pg, "pg_flags") & (up.PQ_ACTIVE | up.PQ_INACTIVE)):
            return f"I18: free page {pg.name} is still on an LRU queue"
    return None


def check_mappings() -> str | None:
    """I12 at rest: every mapping points at an allocated page of the generation it mapped."""
    from uvmsim.uvm.uvm import uvm

    for pm in uvm.pmaps:
        for va, (pg, _prot, gen) in sorted(peek(pm, "pm_map").items()):
            if peek(pg, "owner_state") != "allocated" or peek(pg, "gen") != gen:
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
    )


def arm(m: Any) -> None:
    """Register the invariants on machine `m`: at quiescent points and at the end."""
    m.add_check(lambda: check_all(final=False), "quiescent")
    m.add_check(check_all, "end")
