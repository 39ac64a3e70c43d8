"""Kernel semantics of single model functions, each on one CPU in a fresh world."""

from uvmsim.machine import RW_WRITE, Machine, RoundRobinEngine, peek, rw_enter, rw_exit
from uvmsim.machine.core import MTX_ENTER
from uvmsim.protocols import PROTOCOLS
from uvmsim.scenarios import setup as S  # noqa: N812
from uvmsim.uvm import uvm_pmemrange as pmr
from uvmsim.uvm.uvm import uvm, uvm_bind_machine, uvm_lock_pageq, uvm_unlock_pageq, uvm_world_init
from uvmsim.uvm.uvm_aobj import uao_create
from uvmsim.uvm.uvm_page import uvm_pagealloc, uvm_pagefree, uvm_pagelookup, uvm_pagewire
from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, PG_FAKE, PQ_ACTIVE, vm_page
from uvmsim.uvm.uvmexp import uvmexp


def run(proto_name, body, npages=40, constrained=0):
    uvm_world_init(PROTOCOLS[proto_name], 1)
    pages = [
        vm_page(f"pg{i}", i * PAGE_SIZE, pmr_use=1 if i < constrained else 0) for i in range(npages)
    ]
    pmr.uvm_page_physload(pages)
    m = Machine(RoundRobinEngine(), record=True)
    uvm_bind_machine(m)
    return m.run([body]), pages


def fpageq_acquisitions(result):
    return sum(
        1 for _c, kind, name, *_rest in result.trace if kind == MTX_ENTER and name == "fpageqlock"
    )


def alloc_object_pages(n, free_after=False):
    def body():
        obj = uao_create("aobj", npages=n)
        rw_enter(obj.vmobjlock, RW_WRITE)
        pages = [uvm_pagealloc(obj, i * PAGE_SIZE, None, 0) for i in range(n)]
        if free_after:
            for pg in pages:
                uvm_pagefree(pg)
        rw_exit(obj.vmobjlock)

    return body


def test_allocation_refills_a_magazine_of_eight_per_miss():
    r, _ = run("openbsd-pre", alloc_object_pages(9))
    assert r.failure is None, r.failure.render()
    assert peek(uvmexp, "pcpmiss") == 2  # 8 pages per refill: the 9th misses again
    assert peek(uvmexp, "pcphit") == 7
    assert fpageq_acquisitions(r) == 2
    assert peek(uvmexp, "percpucaches") == 7
    assert peek(uvmexp, "free") == 40 - 16


def test_without_magazines_every_allocation_takes_the_fpageq_lock():
    r, _ = run("openbsd-2024-nocache", alloc_object_pages(9))
    assert r.failure is None
    assert fpageq_acquisitions(r) == 9
    assert peek(uvmexp, "free") == 40 - 9


def test_a_fresh_page_is_busy_fake_owned_and_unqueued():
    seen = {}

    def body():
        obj = uao_create("aobj", npages=1)
        rw_enter(obj.vmobjlock, RW_WRITE)
        pg = uvm_pagealloc(obj, 0, None, 0)
        seen["flags"] = peek(pg, "pg_flags")
        seen["lookup"] = uvm_pagelookup(obj, 0) is pg
        rw_exit(obj.vmobjlock)

    r, _ = run("seed", body)
    assert r.failure is None
    assert seen["flags"] & PG_BUSY and seen["flags"] & PG_FAKE
    assert not seen["flags"] & PQ_ACTIVE
    assert seen["lookup"]


def test_freeing_fills_magazines_then_flushes_one_to_pmemrange():
    r, _ = run("seed", alloc_object_pages(20, free_after=True))
    assert r.failure is None, r.failure.render()
    # 20 frees into 2 x 8 slots: the third magazine's worth flushes the full other one.
    assert peek(uvmexp, "percpucaches") + peek(uvmexp, "free") == 40


def test_constrained_pages_bypass_the_magazines():
    r, pages = run("seed", alloc_object_pages(3, free_after=True), npages=12, constrained=12)
    assert r.failure is None
    # The refill took 8 pages into the magazine; the 3 freed ones went straight back.
    assert peek(uvmexp, "percpucaches") == 5
    assert peek(uvmexp, "free") == 12 - 5
    assert sum(peek(pg, "owner_state") == "pmr" for pg in pages) == 7


def test_pre_pageclean_of_a_queued_page_needs_the_pageq_lock():
    def body():
        pm, amap = S.new_pmap("p"), S.new_amap("a")
        anon = S.fault_anon(pm, 0x1000, amap, 0)
        from uvmsim.uvm.pmap import PROT_NONE, pmap_page_protect
        from uvmsim.uvm.uvm_amap import amap_lock

        amap_lock(amap)
        pmap_page_protect(anon.an_page, PROT_NONE)
        uvm_pagefree(anon.an_page)

    r, _ = run("openbsd-pre", body)
    assert r.failure.message == "panic: mutex pageqlock not held in uvm_pageclean"
    r, _ = run("seed", body)  # after the diff the free takes the lock itself
    assert r.failure is None or r.failure.kind == "lock-leak"


def test_freeing_a_mapped_page_is_caught():
    def body():
        pm, amap = S.new_pmap("p"), S.new_amap("a")
        anon = S.fault_anon(pm, 0x1000, amap, 0)
        from uvmsim.uvm.uvm_amap import amap_lock

        amap_lock(amap)
        uvm_pagefree(anon.an_page)

    r, _ = run("seed", body)
    assert r.failure.kind == "invariant"
    assert "while the page is still mapped (p va 0x1000)" in r.failure.message


def test_wiring_dequeues_and_counts():
    def body():
        obj = uao_create("aobj", npages=1)
        pm = S.new_pmap("p")
        pg = S.fault_object(pm, 0x1000, obj, 0)
        rw_enter(obj.vmobjlock, RW_WRITE)
        uvm_lock_pageq()
        uvm_pagewire(pg)
        uvm_unlock_pageq()
        rw_exit(obj.vmobjlock)

    r, _ = run("seed", body)
    assert r.failure is None
    assert peek(uvmexp, "wired") == 1 and peek(uvmexp, "active") == 0
    assert peek(uvm.page_active, "tqh") == []
