"""The kernel paths of issue 13, each with its lock traffic pinned before and after the diff.

Each test boots a world, brings it to a starting state on one CPU (not counted), then runs
the operation under test on a fresh machine and counts the acquisitions (`mtx_enter`) of the
pageq lock, the fpageq lock and the kernel lock it made.  The expected numbers are the
kernel's, from the issue-13 research notes (§9) and the sources they cite:
`openbsd-pre` is uvm_page.c 1.181 with its callers, `seed` 1.182.
"""

from collections import Counter
from types import SimpleNamespace

import pytest

from uvmsim.machine import (
    RW_WRITE,
    Machine,
    RoundRobinEngine,
    atomic_clearbits_int,
    peek,
    rw_enter,
    rw_exit,
)
from uvmsim.machine.core import MTX_ENTER, SLEEP
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import CheckSpec, run_check
from uvmsim.scenarios import setup as S  # noqa: N812
from uvmsim.scenarios.findings import classify
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_bind_machine
from uvmsim.uvm.uvm_aobj import uao_create, uao_get
from uvmsim.uvm.uvm_fault import (
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_SEQUENTIAL,
    fault_range,
    uvm_fault,
    uvmadvice,
)
from uvmsim.uvm.uvm_init import uvm_boot
from uvmsim.uvm.uvm_page import (
    uvm_lock_pageq_for_queue_op,
    uvm_pageactivate,
    uvm_pagealloc,
    uvm_unlock_pageq_for_queue_op,
)
from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, PG_CLEAN, PG_FAKE, PQ_INACTIVE
from uvmsim.uvm.uvm_pager import PGO_SYNCIO, uvm_aiodone_daemon
from uvmsim.uvm.uvm_pdaemon import uvm_pageout
from uvmsim.uvm.uvm_pmemrange import uvm_pmr_cache_drain
from uvmsim.uvm.uvm_swap import VM_PAGER_OK
from uvmsim.uvm.uvm_vnode import uvn_attach
from uvmsim.uvm.uvmexp import uvmexp
from uvmsim.uvm.vfs_biomem import (
    bufcache_alloc,
    bufcache_flip_dma,
    bufcache_flip_high,
    bufcache_free,
)

P = PAGE_SIZE
BOTH = ("openbsd-pre", "seed")
LOCKS = ("pageqlock", "fpageqlock", "kernel_lock")


def traffic(proto, setup, op, *, npages=40, dma_share=0.25, swap=None, cpus=1):
    """Boot, run `setup(w)` on cpu0, then run `op(w)` (one callable, or a list of one per
    CPU) on a recording machine; return (w, {lock: acquisitions}) for LOCKS."""
    w = SimpleNamespace()
    w.pages = uvm_boot(PROTOCOLS[proto], cpus, npages, swap=swap, dma_share=dma_share)
    m = Machine(RoundRobinEngine())
    uvm_bind_machine(m)
    r = m.run([lambda: setup(w)])
    assert r.failure is None, r.failure.render()
    program = [lambda: op(w)] if cpus == 1 else op(w)
    m2 = Machine(RoundRobinEngine(quantum=1_000_000), record=True)
    uvm_bind_machine(m2)
    r2 = m2.run(program)
    assert r2.failure is None, r2.failure.render()
    counts = Counter(n for _c, kind, n, *_rest in r2.trace if kind == MTX_ENTER and n in LOCKS)
    w.result = r2
    return w, {lock: counts[lock] for lock in LOCKS}


def vnode_page(uvn, off):
    """A resident, active, clean file page (as uvn_get leaves one after a read)."""
    rw_enter(uvn.vmobjlock, RW_WRITE)
    pg = uvm_pagealloc(uvn, off, None, 0)
    uvm_lock_pageq_for_queue_op()
    uvm_pageactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_FAKE)
    rw_exit(uvn.vmobjlock)


# ---- 1. fault-ahead --------------------------------------------------------------------------


def test_uvmadvice_is_the_kernels():
    assert uvmadvice[MADV_NORMAL] == (3, 4)
    assert uvmadvice[MADV_RANDOM] == (0, 0)
    assert uvmadvice[MADV_SEQUENTIAL] == (8, 7)


def _anon_mapping(npages, deactivate=True):
    def setup(w):
        w.pm = S.new_pmap("proc")
        w.amap = S.new_amap("amap")
        for i in range(npages):
            S.fault_anon(w.pm, 0x10000 + i * P, w.amap, i)
        if deactivate:  # unmapped neighbours, as after the pagedaemon deactivated them
            for i in range(npages):
                S.deactivate_anon(w.amap, i)

    return setup


def _fault(index, npages, advice=MADV_NORMAL):
    return lambda w: uvm_fault(
        fault_range(w.pm, 0x10000, npages, index, amap=w.amap, advice=advice)
    )


@pytest.mark.parametrize("proto", BOTH)
def test_upper_fault_activates_each_unmapped_neighbour_under_its_own_pageq_round_trip(proto):
    # MADV_NORMAL: 3 back, 4 forward, all resident and unmapped: 1 + 7 pageq, before and after.
    w, n = traffic(proto, _anon_mapping(8), _fault(3, 8))
    assert n == {"pageqlock": 1 + 7, "fpageqlock": 0, "kernel_lock": 0}
    assert sorted(peek(w.pm, "pm_map")) == [0x10000 + i * P for i in range(8)]
    assert peek(uvmexp, "active") == 8 and peek(uvmexp, "inactive") == 0


@pytest.mark.parametrize("proto", BOTH)
def test_mapped_neighbours_and_madv_random_cost_one_round_trip(proto):
    _w, n = traffic(proto, _anon_mapping(8, deactivate=False), _fault(3, 8))
    assert n["pageqlock"] == 1  # every neighbour's va is mapped already (pmap_extract)
    _w, n = traffic(proto, _anon_mapping(8), _fault(3, 8, MADV_RANDOM))
    assert n["pageqlock"] == 1


@pytest.mark.parametrize("proto", BOTH)
def test_madv_sequential_deactivates_eight_back_and_maps_seven_forward(proto):
    _w, n = traffic(proto, _anon_mapping(16), _fault(8, 16, MADV_SEQUENTIAL))
    # uvmfault_anonflush: 8 round trips; the forward neighbours: 7; the centre: 1.
    assert n == {"pageqlock": 8 + 7 + 1, "fpageqlock": 0, "kernel_lock": 0}
    assert peek(uvmexp, "inactive") == 8 and peek(uvmexp, "active") == 8


def _file(npages, resident):
    def setup(w):
        w.pm = S.new_pmap("proc")
        w.uvn = uvn_attach("file", npages)
        for i in resident:
            vnode_page(w.uvn, i * P)

    return setup


def _file_fault(index, npages):
    return lambda w: uvm_fault(
        fault_range(w.pm, 0x40000, npages, index, uobj=w.uvn, prot=_pmap.PROT_READ)
    )


@pytest.mark.parametrize("proto", BOTH)
def test_resident_object_fault_costs_two_round_trips_plus_one_per_neighbour(proto):
    _w, n = traffic(proto, _file(8, range(8)), _file_fault(3, 8))
    assert n == {"pageqlock": 2 + 7, "fpageqlock": 0, "kernel_lock": 0}


def _object_lock_modes(monkeypatch, proto, setup, op):
    """The modes the fault took the file's object lock in, in order."""
    from uvmsim.machine import RW_READ
    from uvmsim.uvm import uvm_fault as fault_module

    modes = []
    real = fault_module.rw_enter

    def recording(lock, op_):
        if lock.name.endswith(".vmobjlock"):
            modes.append({RW_READ: "read", RW_WRITE: "write"}[op_])
        return real(lock, op_)

    monkeypatch.setattr(fault_module, "rw_enter", recording)
    traffic(proto, setup, op)
    return modes


def test_a_read_fault_on_a_resident_page_shares_the_object_lock(monkeypatch):
    # uvm_fault.c 1.171: lower_lock_type is RW_READ unless the fault writes or wires
    assert _object_lock_modes(monkeypatch, "seed", _file(8, range(8)), _file_fault(3, 8)) == [
        "read"
    ]


def test_a_read_fault_that_must_read_the_page_in_restarts_write_locked(monkeypatch):
    # the model always takes uvm_fault_lower_upgrade's fallback: unlock, restart, RW_WRITE
    modes = _object_lock_modes(
        monkeypatch, "seed", _file(8, [0, 1, 2, 4, 5, 6, 7]), _file_fault(3, 8)
    )
    assert modes[:2] == ["read", "write"]


def test_a_fault_on_a_writable_entry_writes_the_object_lock(monkeypatch):
    def write_fault(w):
        uvm_fault(
            fault_range(w.pm, 0x40000, 8, 3, uobj=w.uvn, prot=_pmap.PROT_READ | _pmap.PROT_WRITE)
        )

    assert _object_lock_modes(monkeypatch, "seed", _file(8, range(8)), write_fault) == ["write"]


# ---- 2. object faults that do I/O ----------------------------------------------------------


@pytest.mark.parametrize("proto", BOTH)
def test_file_page_read_in_by_the_fault(proto):
    # Page 3 is not resident: uvn_get reads it in (object unlocked, kernel lock around the
    # VOP, given up while the disk works and taken back: 2 acquisitions).  The allocation
    # is a magazine hit (the set-up's refill left one page).  pageq: 7 neighbours, then
    # uvm_fault_lower_io's activate and the final one.
    w, n = traffic(proto, _file(8, [0, 1, 2, 4, 5, 6, 7]), _file_fault(3, 8))
    assert n == {"pageqlock": 7 + 2, "fpageqlock": 0, "kernel_lock": 2}
    pg = peek(w.uvn, "memt")[3 * P]
    assert not peek(pg, "pg_flags") & (PG_BUSY | PG_FAKE)
    assert w.uvn.vmobjlock.writer is None


def _swapped_anon(w):
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.clean_anon(w.amap, 0)
    S.evict_anon(w.amap, 0)


@pytest.mark.parametrize(
    ("proto", "dma_share", "pageq", "fpageq"),
    [
        # All memory DMA-reachable: the read goes straight into the page.
        ("openbsd-pre", 1.0, 2, 0),
        ("seed", 1.0, 2, 0),
        # The new page is above 4 GiB: the read bounces through a DMA page, allocated
        # (1 fpageq) and freed by uvm_swap_freepages (pageq before the diff; 1 fpageq).
        ("openbsd-pre", 0.25, 3, 2),
        ("seed", 0.25, 2, 2),
    ],
)
def test_anon_swap_in_decrements_swpgonly_under_the_kernel_lock(proto, dma_share, pageq, fpageq):
    def op(w):
        assert peek(uvmexp, "swpgonly") == 1
        assert uvm_fault(fault_range(w.pm, 0x1000, 1, 0, amap=w.amap)) == 0

    _w, n = traffic(proto, _swapped_anon, op, dma_share=dma_share)
    assert n == {"pageqlock": pageq, "fpageqlock": fpageq, "kernel_lock": 2}
    assert peek(uvmexp, "swpgonly") == 0  # uvm_swap_get: no longer only in swap
    assert peek(uvmexp, "nswget") == 1


@pytest.mark.parametrize("proto", BOTH)
def test_uao_get_returns_unlocked_with_the_page_busy_and_clean(proto):
    seen = {}

    def setup(w):
        w.pm = S.new_pmap("proc")
        w.aobj = uao_create("aobj", npages=1)
        S.fault_object(w.pm, 0x1000, w.aobj, 0)
        S.clean_object_page(w.aobj, 0)
        S.evict_object_page(w.aobj, 0)

    def op(w):
        rw_enter(w.aobj.vmobjlock, RW_WRITE)
        pps = [None]
        seen["rv"] = uao_get(w.aobj, 0, pps, 0, PGO_SYNCIO)
        seen["locked"] = w.aobj.vmobjlock.writer is not None
        seen["flags"] = peek(pps[0], "pg_flags")

    _w, n = traffic(proto, setup, op, dma_share=1.0)
    assert seen["rv"] == (VM_PAGER_OK, 1)
    assert not seen["locked"]
    assert seen["flags"] & PG_BUSY and not seen["flags"] & PG_FAKE
    assert n == {"pageqlock": 0, "fpageqlock": 0, "kernel_lock": 2}
    assert peek(uvmexp, "swpgonly") == 0


def test_uao_get_waits_for_memory_instead_of_failing():
    # Every page is taken; cpu0 faults a zero-fill aobj page: uao_get finds no page,
    # unlocks, uvm_waits and retries once cpu1 has freed one (a DMA page: its free goes
    # straight to pmemrange and wakes the sleepers on &uvmexp.free).
    def setup(w):
        w.pm = S.new_pmap("proc")
        w.aobj = uao_create("aobj", npages=1)
        w.hog = S.new_amap("hog")
        slot = 0
        while uvm_fault(fault_range(w.pm, 0x100000 + slot * P, 1, 0, amap=w.hog, slot=slot)) == 0:
            slot += 1
        assert slot >= 8

    def op(w):
        from uvmsim.uvm.uvm_amap import amap_unref

        def faulter():
            w.rc = uvm_fault(fault_range(w.pm, 0x1000, 1, 0, uobj=w.aobj))

        def freer():
            _pmap.pmap_remove(w.pm, 0x100000, 0x200000)
            amap_unref(w.hog)

        return [faulter, freer]

    w, _n = traffic("seed", setup, op, npages=12, dma_share=1.0, cpus=2)
    assert w.rc == 0
    assert 0 in peek(w.aobj, "memt")
    slept = [site[0].co_name for c, kind, name, _f, site, _h in w.result.trace if kind == SLEEP]
    assert slept == ["uvm_wait"]  # uao_get -> uvm_wait("uao_getpage"), then the retry


# ---- 3/4/7. the buffer cache -------------------------------------------------------------------


def _buffer(npages, high=False):
    def setup(w):
        w.bp = bufcache_alloc("buf", npages)
        if high:
            bufcache_flip_high(w.bp)

    return setup


@pytest.mark.parametrize("proto", BOTH)
def test_buffer_allocation_takes_fpageq_once_and_no_pageq(proto):
    w, n = traffic(proto, lambda w: None, lambda w: setattr(w, "bp", bufcache_alloc("buf", 3)))
    assert n == {"pageqlock": 0, "fpageqlock": 1, "kernel_lock": 1}
    pages = list(peek(peek(w.bp, "b_uobj"), "memt").values())
    assert all(peek(pg, "pmr_use") == 1 for pg in pages)  # from dma_constraint


@pytest.mark.parametrize(("proto", "pageq"), [("openbsd-pre", 3), ("seed", 0)])
def test_buffer_free_is_one_pageq_round_trip_per_page_before_the_diff(proto, pageq):
    _w, n = traffic(proto, _buffer(3), lambda w: bufcache_free(w.bp))
    assert n == {"pageqlock": pageq, "fpageqlock": 1, "kernel_lock": 1}
    assert peek(uvmexp, "free") == 40


@pytest.mark.parametrize(("proto", "pageq"), [("openbsd-pre", 3), ("seed", 0)])
def test_flip_high_frees_each_dma_page_around_the_magazines(proto, pageq):
    w, n = traffic(proto, _buffer(3), lambda w: bufcache_flip_high(w.bp))
    # alloc 1 + one uvm_pmr_freepages per old (DMA, use > 0) page.
    assert n == {"pageqlock": pageq, "fpageqlock": 1 + 3, "kernel_lock": 1}
    assert not peek(w.bp, "b_dma")
    assert all(peek(pg, "pmr_use") == 0 for pg in peek(peek(w.bp, "b_uobj"), "memt").values())


@pytest.mark.parametrize(("proto", "pageq"), [("openbsd-pre", 3), ("seed", 0)])
def test_flip_dma_frees_the_high_pages_into_the_magazine(proto, pageq):
    _w, n = traffic(proto, _buffer(3, high=True), lambda w: bufcache_flip_dma(w.bp))
    assert n == {"pageqlock": pageq, "fpageqlock": 1, "kernel_lock": 1}
    assert peek(uvmexp, "percpucaches") == 3


# ---- 5/6. the pagedaemon's swap writes, bounce frees in the aiodone daemon ------------------


def _dirty_inactive_anons(count):
    def setup(w):
        w.pm = S.new_pmap("proc")
        w.amap = S.new_amap("amap")
        for i in range(count):
            S.fault_anon(w.pm, 0x1000 + i * P, w.amap, i)
            S.deactivate_anon(w.amap, i)

    return setup


@pytest.mark.parametrize("proto", BOTH)
def test_encrypted_pageout_is_pending_with_the_originals_already_clean(proto):
    w, n = traffic(proto, _dirty_inactive_anons(2), lambda w: uvm_pageout(shortage=2))
    # One cluster of 2 (written at the end of the scan): pageq for inactarg, the scan, and
    # again after uvm_pager_put; fpageq at the start, the bounce allocation, the end.
    assert n == {"pageqlock": 3, "fpageqlock": 3, "kernel_lock": 1}
    assert peek(uvmexp, "paging") == 2 and peek(uvmexp, "pdpending") == 1
    anons = peek(w.amap, "am_anon")
    for i in range(2):
        flags = peek(peek(anons[i], "an_page"), "pg_flags")
        assert flags & PG_CLEAN and not flags & PG_BUSY and flags & PQ_INACTIVE
        assert peek(anons[i], "an_swslot") == 1 + i  # contiguous slots of one cluster
    assert len(peek(uvm.aio_done, "bufs")) == 1


@pytest.mark.parametrize(("proto", "pageq"), [("openbsd-pre", 1), ("seed", 0)])
def test_aiodone_frees_only_the_bounce_pages(proto, pageq):
    def setup(w):
        _dirty_inactive_anons(2)(w)
        uvm_pageout(shortage=2)

    _w, n = traffic(proto, setup, lambda w: uvm_aiodone_daemon(1))
    # uvm_swap_freepages: one pageq round trip before the diff; each DMA bounce page is
    # freed around the magazines (2), then the daemon's paging update under fpageq (1).
    assert n == {"pageqlock": pageq, "fpageqlock": 2 + 1, "kernel_lock": 1}
    assert peek(uvmexp, "paging") == 0


@pytest.mark.parametrize(("proto", "pageq"), [("openbsd-pre", 2), ("seed", 0)])
def test_unencrypted_aiodone_completes_the_originals(proto, pageq):
    def setup(w):
        _dirty_inactive_anons(2)(w)
        uvm_pageout(shortage=2)
        for anon in peek(w.amap, "am_anon").values():
            assert peek(peek(anon, "an_page"), "pg_flags") & PG_BUSY  # not bounced

    w, n = traffic(
        proto, setup, lambda w: uvm_aiodone_daemon(1), dma_share=1.0, swap={"encrypt": False}
    )
    assert n == {"pageqlock": pageq, "fpageqlock": 1, "kernel_lock": 1}
    for anon in peek(w.amap, "am_anon").values():
        flags = peek(peek(anon, "an_page"), "pg_flags")
        assert flags & PG_CLEAN and not flags & PG_BUSY


@pytest.mark.parametrize("proto", BOTH)
def test_again_on_a_one_page_cluster_keeps_the_page_dirty_with_its_slot(proto):
    w, n = traffic(
        proto,
        _dirty_inactive_anons(1),
        lambda w: uvm_pageout(shortage=1),
        swap={"fragmented": True, "bufpool_fail": 1},
    )
    assert n == {"pageqlock": 3, "fpageqlock": 2, "kernel_lock": 1}
    anon = peek(w.amap, "am_anon")[0]
    flags = peek(peek(anon, "an_page"), "pg_flags")
    assert flags & PQ_INACTIVE and not flags & (PG_BUSY | PG_CLEAN)
    assert peek(anon, "an_swslot") != 0  # uvm_pager_put left it: npages == 1, pg != NULL
    assert peek(uvmexp, "paging") == 0 and peek(uvmexp, "pdpageouts") == 1


@pytest.mark.parametrize("proto", BOTH)
def test_again_on_the_final_cluster_drops_it_and_frees_the_slots(proto):
    w, _n = traffic(
        proto, _dirty_inactive_anons(1), lambda w: uvm_pageout(shortage=1), swap={"bufpool_fail": 1}
    )
    anon = peek(w.amap, "am_anon")[0]
    assert peek(anon, "an_swslot") == 0  # PGO_REALLOCSWAP
    assert peek(uvmexp, "swpginuse") == 0  # the 16 slots of the cluster went back


def test_cache_drain_takes_fpageq_twice_even_when_empty():
    _w, n = traffic("seed", lambda w: None, lambda w: uvm_pmr_cache_drain())
    assert n == {"pageqlock": 0, "fpageqlock": 2, "kernel_lock": 0}


# ---- 8. findings ------------------------------------------------------------------------


def test_F2_is_reached_through_again_on_a_one_page_cluster():
    for proto in ("openbsd-pre", "seed"):
        res = run_check(CheckSpec(protocol=proto, scenario="swpgonly-released"))
        assert classify(res.failure) == "F2"
        assert any("uvmpd_scan_inactive" in s for _c, st in res.failure.stacks for s in st)
        held = run_check(CheckSpec(protocol=proto, scenario="again-cluster"))
        assert held.failure is None and held.coverage.complete


def test_F1_still_reproduces_after_the_diff():
    res = run_check(CheckSpec(protocol="seed", scenario="pageclean-race"))
    assert classify(res.failure) == "F1"
    fixed = run_check(CheckSpec(protocol="seed-fixed", scenario="pageclean-race"))
    assert fixed.failure is None and fixed.coverage.complete
