"""openbsd-2026: OpenBSD's next steps (uvm_page.c 1.184-1.188, uvm_pdaemon.c 1.136-1.154).

Lock traffic per operation, pinned against `seed` (the diff, uvm_page.c 1.182): where the
pageq lock moved inside uvm_pageactivate/deactivate/wire the counts stay, except that a
no-op (wiring a wired page, a last-but-one unwiring, activating a wired page) no longer
takes it, and a caller holding it for a loop (the pagedaemon, uvn_flush) gives it up and
takes it back around each (de)activation.  Then the PQ_ITER marker: the scan holds on
`pdaemon-marker`, and a scan that resumes from a successor saved before the lock was
dropped is caught.  Finding F1 is still there.
"""

import pytest

from uvmsim.machine import RW_WRITE, peek, rw_enter, rw_exit
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import CheckSpec, run_check
from uvmsim.scenarios import setup as S  # noqa: N812
from uvmsim.scenarios.findings import classify
from uvmsim.uvm import uvm_pdaemon as pd
from uvmsim.uvm.uvm import TAILQ_NEXT
from uvmsim.uvm.uvm_amap import amap_lock, amap_lookup, amap_unlock, amap_unref
from uvmsim.uvm.uvm_fault import fault_entry, uvm_fault_unwire, uvm_fault_upper
from uvmsim.uvm.uvm_page import (
    uvm_lock_pageq_for_queue_op,
    uvm_pageactivate,
    uvm_pagedeactivate,
    uvm_unlock_pageq_for_queue_op,
)
from uvmsim.uvm.uvm_pager import PGO_DEACTIVATE
from uvmsim.uvm.uvm_pdaemon import uvm_pageout
from uvmsim.uvm.uvm_vnode import uvn_attach, uvn_flush
from uvmsim.uvm.uvmexp import uvmexp

from .test_kernel_paths import P, _anon_mapping, _fault, traffic, vnode_page

BOTH = ("seed", "openbsd-2026")


def _pageq(proto, setup, op):
    return traffic(proto, setup, op)[1]["pageqlock"]


def test_the_protocol_is_seed_plus_the_later_steps():
    assert PROTOCOLS["openbsd-2026"].diff_from(PROTOCOLS["seed"]) == {
        "pageq_inside_queue_ops": (False, True),
        "pdaemon_iter_marker": (False, True),
    }


# ---- per operation ------------------------------------------------------------------------


@pytest.mark.parametrize("proto", BOTH)
def test_a_fault_costs_what_it_cost(proto):
    # a resident anon fault activating 7 unmapped neighbours: 1 + 7 pageq, as in the diff
    _w, n = traffic(proto, _anon_mapping(8), _fault(3, 8))
    assert n == {"pageqlock": 1 + 7, "fpageqlock": 0, "kernel_lock": 0}


def _one_anon(wired=0):
    def setup(w):
        w.pm = S.new_pmap("proc")
        w.amap = S.new_amap("amap")
        S.fault_anon(w.pm, 0x1000, w.amap, 0, wired=wired > 0)
        for _ in range(wired - 1):
            uvm_fault_upper(_entry(w), wired=True)

    return setup


def _entry(w):
    return fault_entry(pmap=w.pm, va=0x1000, amap=w.amap, slot=0)


@pytest.mark.parametrize(
    ("what", "wired", "op", "seed_n", "n2026"),
    [
        ("first wiring", 0, lambda w: uvm_fault_upper(_entry(w), wired=True), 1, 1),
        ("wiring a wired page", 1, lambda w: uvm_fault_upper(_entry(w), wired=True), 1, 0),
        ("last unwiring", 1, lambda w: uvm_fault_unwire(_entry(w)), 1, 1),
        ("unwiring, still wired", 2, lambda w: uvm_fault_unwire(_entry(w)), 1, 0),
    ],
)
def test_wiring_takes_the_pageq_lock_only_when_the_queues_change(what, wired, op, seed_n, n2026):
    assert _pageq("seed", _one_anon(wired), op) == seed_n, what
    assert _pageq("openbsd-2026", _one_anon(wired), op) == n2026, what


def _queue_op(fn):
    def op(w):
        amap_lock(w.amap)
        uvm_lock_pageq_for_queue_op()
        fn(amap_lookup(w.amap, 0).an_page)
        uvm_unlock_pageq_for_queue_op()
        amap_unlock(w.amap)

    return op


@pytest.mark.parametrize("proto", BOTH)
def test_activate_and_deactivate_cost_one_round_trip_each(proto):
    assert _pageq(proto, _one_anon(), _queue_op(uvm_pageactivate)) == 1
    assert _pageq(proto, _one_anon(), _queue_op(uvm_pagedeactivate)) == 1


def test_activating_a_wired_page_takes_no_lock_from_1_184():
    assert _pageq("seed", _one_anon(wired=1), _queue_op(uvm_pageactivate)) == 1
    assert _pageq("openbsd-2026", _one_anon(wired=1), _queue_op(uvm_pageactivate)) == 0


@pytest.mark.parametrize("proto", BOTH)
def test_freeing_queued_pages_takes_the_pageq_lock_once_each(proto):
    # an exit: amap_unref frees 4 queued anon pages, each dequeued inside uvm_pageclean
    _w, n = traffic(proto, _anon_mapping(4, deactivate=False), lambda w: amap_unref(w.amap))
    assert n == {"pageqlock": 4, "fpageqlock": 0, "kernel_lock": 0}
    assert peek(uvmexp, "active") == 0


def _active_pages(n):
    return _anon_mapping(n, deactivate=False)


@pytest.mark.parametrize(("proto", "pageq"), [("seed", 2), ("openbsd-2026", 2 + 2 * 3)])
def test_the_pagedaemon_gives_the_lock_up_around_each_deactivation(proto, pageq):
    # 9 active pages, no free shortage: the active scan deactivates inactarg - 0 = 3 pages.
    # A round takes the lock twice (the inactive target, then the scans) and, from 1.184,
    # twice more per deactivation (uvm_pagedeactivate's own, and taking it back after)
    _w, n = traffic(proto, _active_pages(9), lambda w: uvm_pageout(shortage=0))
    assert peek(uvmexp, "inactive") == 3
    assert n["pageqlock"] == pageq


def _file_pages(n):
    def setup(w):
        w.uvn = uvn_attach("file", n)
        for i in range(n):
            vnode_page(w.uvn, i * P)

    return setup


def _flush_deactivate(w):
    rw_enter(w.uvn.vmobjlock, RW_WRITE)
    uvn_flush(w.uvn, 0, 4 * P, PGO_DEACTIVATE)
    rw_exit(w.uvn.vmobjlock)


@pytest.mark.parametrize(("proto", "pageq"), [("seed", 1), ("openbsd-2026", 1 + 2 * 4)])
def test_uvn_flush_deactivating_gives_the_lock_up_around_each_page(proto, pageq):
    assert _pageq(proto, _file_pages(4), _flush_deactivate) == pageq


# ---- the PQ_ITER marker ---------------------------------------------------------------------


def test_the_marker_scan_holds_on_every_interleaving():
    res = run_check(CheckSpec(protocol="openbsd-2026", scenario="pdaemon-marker"))
    assert res.failure is None and res.coverage.complete


def _stale_successor(monkeypatch):
    """Break the iterator: resume from the page that followed `p` when `p` was picked (a
    `nextpg` saved before the pageq lock was dropped), not from the marker."""
    real = pd.uvmpd_iterator
    state = {"it": None, "saved": {}}

    def stale(pglst, p, it):
        if state["it"] is not it:  # a new scan: nothing saved yet
            state["it"], state["saved"] = it, {}
        if p is None:
            return None
        saved = state["saved"]
        nextpg = saved.pop(p.name) if p.name in saved else real(pglst, p, it)
        if nextpg is not None:
            saved[nextpg.name] = TAILQ_NEXT(pglst, nextpg)
        return nextpg

    monkeypatch.setattr(pd, "uvmpd_iterator", stale)


@pytest.mark.parametrize("races", [True, False])
def test_a_scan_resuming_from_a_stale_successor_is_caught(monkeypatch, races):
    _stale_successor(monkeypatch)
    res = run_check(
        CheckSpec(protocol="openbsd-2026", scenario="pdaemon-marker", analyses=(("races", races),))
    )
    # Resuming from the successor saved before the pageq lock was dropped lands on the scan's
    # own marker, which the kernel would hand to uvmpd_trylockowner (KASSERT anon != NULL).
    assert res.failure is not None
    assert res.failure.message == (
        "invariant violated: uvmpd_trylockowner is handed a PQ_ITER marker (iter.cpu0) as a "
        "page: KASSERT(anon != NULL) panics"
    )
    assert res.coverage.executions == 5


def test_a_second_scanners_marker_would_hang_the_iterator():
    # uvmpd_iterator re-reads the page after its own marker: a marker there never moves
    from uvmsim.machine import Machine, RoundRobinEngine
    from uvmsim.uvm.uvm import (
        TAILQ_FIRST,
        TAILQ_INSERT_AFTER,
        uvm,
        uvm_bind_machine,
        uvm_lock_pageq,
    )

    w = traffic("openbsd-2026", _anon_mapping(2), lambda w: None)[0]

    def two_scanners():
        uvm_lock_pageq()
        first = TAILQ_FIRST(uvm.page_inactive)
        mine, theirs = pd._iter_marker(), pd._iter_marker()
        TAILQ_INSERT_AFTER(uvm.page_inactive, first, mine)
        TAILQ_INSERT_AFTER(uvm.page_inactive, mine, theirs)
        pd.uvmpd_iterator(uvm.page_inactive, first, mine)

    assert w is not None
    m = Machine(RoundRobinEngine())
    uvm_bind_machine(m)
    r = m.run([two_scanners])
    assert r.failure is not None and "spins for ever" in r.failure.message


def test_a_second_scanner_meets_the_markers_of_the_first_on_openbsd_2026():
    # Complete DPOR: the scan that starts while the other one reactivates its first page
    # (pageq dropped, its marker at the head) takes the marker for a page; one that starts
    # before it is moved ends up right behind the other marker and spins.  Each scan can be
    # either one.
    from uvmsim.runs.check import check_protocol

    res = check_protocol(PROTOCOLS["openbsd-2026"], "second-scanner", keep_going=True)
    assert res.coverage.complete and res.coverage.executions == 6
    messages = sorted(k.split("|", 1)[1] for k in res.tally.counts)
    assert messages == [
        "invariant violated: uvmpd_iterator spins for ever: the page after iter.cpu0 is "
        "another scan's marker (iter.cpu1) and the pageq lock is held",
        "invariant violated: uvmpd_iterator spins for ever: the page after iter.cpu1 is "
        "another scan's marker (iter.cpu0) and the pageq lock is held",
        "invariant violated: uvmpd_trylockowner is handed a PQ_ITER marker "
        "(iter.cpu0) as a page: KASSERT(anon != NULL) panics",
        "invariant violated: uvmpd_trylockowner is handed a PQ_ITER marker "
        "(iter.cpu1) as a page: KASSERT(anon != NULL) panics",
    ]
    # Not finding F1: the page handed over is no page.
    assert all(classify(ex[0]) is None for ex in res.tally.examples.values())


@pytest.mark.parametrize("proto", ["seed", "netbsd-intent", "freebsd-batch", "linux-lruvec"])
def test_two_scanners_never_interleave_where_the_scan_keeps_the_pageq_lock(proto):
    # 1.134's scans reactivate under the pageq lock, as the peers' scans do: the second
    # scan waits for the whole first one (two traces: which starts first).
    res = run_check(CheckSpec(protocol=proto, scenario="second-scanner"))
    assert res.failure is None and res.coverage.complete
    assert res.coverage.executions == 2


# ---- finding F1 ------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["pageclean-race", "pdaemon-vs-free"])
def test_F1_is_still_there(scenario):
    res = run_check(
        CheckSpec(protocol="openbsd-2026", scenario=scenario, analyses=(("races", False),))
    )
    assert classify(res.failure) == "F1"
    assert any(st[-1] == "uvmpd_trylockowner" for _cpu, st in res.failure.stacks)
    assert res.failure.schedule  # a replay token: docs/findings.md quotes one


def test_F2_is_gone():
    res = run_check(CheckSpec(protocol="openbsd-2026", scenario="swpgonly-released"))
    assert res.failure is None and res.coverage.complete


def test_the_proposed_fix_still_closes_F1_on_the_2026_kernel(monkeypatch):
    # docs/findings.md's fix (dequeue before uvm_pageremove) applied to openbsd-2026
    fixed = PROTOCOLS["openbsd-2026"].variant(
        "openbsd-2026-fixed", pageclean_dequeue_before_remove=True
    )
    monkeypatch.setitem(PROTOCOLS, fixed.name, fixed)
    for scenario in ("pageclean-race", "pdaemon-vs-free"):
        res = run_check(CheckSpec(protocol=fixed.name, scenario=scenario))
        assert res.failure is None and res.coverage.complete, scenario


def test_tokens_printed_before_the_new_switches_still_replay():
    # the digests the recorded tokens carry (tests/golden/checks.json), from before issue 16
    from uvmsim.check.token import switches_digest

    assert {
        name: switches_digest(PROTOCOLS[name])
        for name in ("openbsd-pre", "seed", "seed-plain-wired", "seed-no-dequeue-first")
    } == {
        "openbsd-pre": "4314eea13b02",
        "seed": "7e33c58ccac5",
        "seed-plain-wired": "50e087366673",
        "seed-no-dequeue-first": "8a643a088c26",
    }
    assert switches_digest(PROTOCOLS["openbsd-2026"]) == "a4b6a8bb2e3d"
