"""linux-lruvec: Linux's LRU on the 2026 kernel (issue 16).

Lock traffic per operation, pinned against `openbsd-2026`, `netbsd-intent` (the design whose
call sites it shares) and `freebsd-batch`: no interlock; an activation or deactivation of a
page on the LRU, and the addition of a new page, go to this CPU's batch for the operation
with a page reference and cost no lock until the batch (31 entries) is full or drained; a
free is the owner's reference going, and the last reference takes the page off its list
under the lruvec lock (one acquisition per page on the LRU: Linux's callers batch frees in
`release_pages`, the model's free one page at a time).  Then the batching factor, the
scenario of a page freed while another CPU's batch references it, and a control that the
checker catches (a batch that takes no reference).
"""

import pytest

from uvmsim.machine import peek
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import CheckSpec, run_check
from uvmsim.scenarios import SCENARIOS
from uvmsim.scenarios.findings import classify
from uvmsim.uvm import mm_swap as ms
from uvmsim.uvm import uvm_page as up
from uvmsim.uvm.uvm import uvm
from uvmsim.uvm.uvm_amap import amap_lock, amap_lookup, amap_unlock, amap_unref
from uvmsim.uvm.uvm_page_h import PG_LRU, PQ_ACTIVE, PQ_INACTIVE
from uvmsim.uvm.uvm_pdaemon import uvm_pageout
from uvmsim.uvm.uvmexp import uvmexp

from .test_freebsd_batch import _empty, _fresh_faults
from .test_kernel_paths import _anon_mapping, _fault
from .test_netbsd_intent import _flush_deactivate, _locks, _one_anon, _queue_op
from .test_openbsd_2026 import _file_pages
from .test_scenarios import allowed

FOUR = ("openbsd-2026", "netbsd-intent", "freebsd-batch", "linux-lruvec")


def _batches():
    """This CPU's (cpu0's) batch lengths per operation."""
    return {op: len(b) for op, b in uvm.lru_fbatch[0].items()}


def test_the_protocol_is_netbsd_intent_with_linux_lru():
    proto = PROTOCOLS["linux-lruvec"]
    assert proto.diff_from(PROTOCOLS["netbsd-intent"]) == {"lru_batch": (False, True)}
    assert proto.lru_batch_size == 31
    # the knob and the switch keep every other protocol's digest
    assert "lru_batch_size" not in PROTOCOLS["freebsd-batch"].digest_switches()
    assert "lru_batch" not in PROTOCOLS["seed"].digest_switches()


# ---- per operation: (pageqlock, interlock) acquisitions ------------------------------------


@pytest.mark.parametrize(
    ("proto", "want"), list(zip(FOUR, [(8, 0), (0, 8), (8, 0), (0, 0)], strict=True))
)
def test_a_fault_activating_inactive_pages_batches_each(proto, want):
    # a resident anon fault activating 7 unmapped inactive neighbours and the faulting page:
    # Linux's folio_activate puts each in this CPU's lru_activate batch (a reference each)
    _w, n = _locks(proto, _anon_mapping(8), _fault(3, 8))
    assert (n["pageqlock"], n["interlock"]) == want
    if proto == "linux-lruvec":
        assert _batches() == {"lru_add": 0, "lru_activate": 8, "lru_deactivate": 0}
        assert peek(uvmexp, "inactive") == 8  # not moved yet
        page = uvm.lru_fbatch[0]["lru_activate"][0]
        assert peek(page, "lru_ref") == 2 and peek(page, "pqflags") & PG_LRU


@pytest.mark.parametrize(
    ("proto", "activate", "deactivate"),
    list(
        zip(
            FOUR,
            [(1, 0), (0, 1), (0, 0), (0, 0)],
            [(1, 0), (0, 1), (1, 0), (0, 0)],
            strict=True,
        )
    ),
)
def test_activate_is_free_on_an_active_page_and_deactivate_is_batched(proto, activate, deactivate):
    for fn, want in ((up.uvm_pageactivate, activate), (up.uvm_pagedeactivate, deactivate)):
        _w, n = _locks(proto, _one_anon(), _queue_op(fn))
        assert (n["pageqlock"], n["interlock"]) == want, fn.__name__
    # the deactivation waits in the lru_deactivate batch
    if proto == "linux-lruvec":
        assert _batches()["lru_deactivate"] == 1


@pytest.mark.parametrize(
    ("proto", "want"), list(zip(FOUR, [(4, 0), (0, 4), (0, 0), (4, 0)], strict=True))
)
def test_freeing_pages_on_the_lru_takes_the_lock_once_each(proto, want):
    # an exit frees 4 active anon pages: each owner reference is the last one, and the last
    # reference takes the page off its list under the lruvec lock (__page_cache_release)
    _w, n = _locks(proto, _anon_mapping(4, deactivate=False), lambda w: amap_unref(w.amap))
    assert (n["pageqlock"], n["interlock"]) == want
    if proto == "linux-lruvec":
        assert peek(uvmexp, "active") == 0
        assert all(peek(pg, "lru_ref") == 0 for pg in uvm.pages)


def _deactivate_then_exit(w):
    amap_lock(w.amap)
    w.page = amap_lookup(w.amap, 0).an_page
    up.uvm_pagedeactivate(w.page)
    amap_unlock(w.amap)
    amap_unref(w.amap)


def _deactivate_exit_drain(w):
    _deactivate_then_exit(w)
    ms.lru_add_drain()


def test_a_page_freed_in_a_batch_is_freed_by_the_batch():
    # the page's deactivation waits in cpu0's batch with a reference when its owner frees
    # it: the free takes no lock and the page stays on its list, referenced, until the
    # batch is drained; the drain finds the flag, moves it, and its reference, the last,
    # takes it off the list again and frees it
    w, n = _locks("linux-lruvec", _one_anon(), _deactivate_then_exit)
    assert n["pageqlock"] == 0
    pg = w.page
    assert peek(pg, "lru_ref") == 1 and peek(pg, "uanon") is None
    assert peek(pg, "owner_state") == "allocated" and peek(uvmexp, "active") == 1
    w, n = _locks("linux-lruvec", _one_anon(), _deactivate_exit_drain)
    assert n["pageqlock"] == 2  # the batch's move, then the last reference's release
    assert peek(uvmexp, "active") + peek(uvmexp, "inactive") == 0
    assert peek(w.page, "owner_state") == "magazine" and peek(w.page, "lru_ref") == 0


@pytest.mark.parametrize(
    ("proto", "want"), list(zip(FOUR, [(8, 0), (2, 6), (2, 0), (2, 0)], strict=True))
)
def test_the_pagedaemon_isolates_by_the_flag_under_its_lock(proto, want):
    # 9 active pages, the active scan deactivates 3 under the pageq lock it holds; Linux
    # isolates each page it considers (reference, flag cleared) and puts them back at the end
    _w, n = _locks(proto, _anon_mapping(9, deactivate=False), lambda w: uvm_pageout(shortage=0))
    assert peek(uvmexp, "inactive") == 3
    assert (n["pageqlock"], n["interlock"]) == want
    if proto == "linux-lruvec":
        queued = [pg for pg in uvm.pages if peek(pg, "pg_flags") & (PQ_ACTIVE | PQ_INACTIVE)]
        assert len(queued) == 9 and all(peek(pg, "pqflags") & PG_LRU for pg in queued)
        assert all(peek(pg, "lru_ref") <= 1 for pg in uvm.pages)


@pytest.mark.parametrize(
    ("proto", "want"), list(zip(FOUR, [(9, 0), (1, 4), (1, 0), (1, 0)], strict=True))
)
def test_uvn_flush_deactivates_under_its_pageq_lock(proto, want):
    _w, n = _locks(proto, _file_pages(4), _flush_deactivate)
    assert (n["pageqlock"], n["interlock"]) == want


# ---- batching: N new pages cost N // 31 acquisitions -----------------------------------------


def _variant(monkeypatch, **knobs):
    name = "linux-lruvec-" + "-".join(f"{k}{v}" for k, v in sorted(knobs.items()))
    proto = PROTOCOLS["linux-lruvec"].variant(name, **knobs)
    monkeypatch.setitem(PROTOCOLS, proto.name, proto)
    return proto.name


def test_batching_cuts_lruvec_acquisitions_by_the_batch_size():
    # 100 faults of fresh anon pages: openbsd-2026 takes the pageq lock 100 times; Linux's
    # lru_add batch is moved under one acquisition each time it fills (31 entries)
    counts = {p: _locks(p, _empty, _fresh_faults(100), npages=160)[1] for p in FOUR}
    assert counts["openbsd-2026"]["pageqlock"] == 100
    assert counts["freebsd-batch"]["pageqlock"] == 100 // 32
    assert counts["linux-lruvec"]["pageqlock"] == 100 // 31
    assert counts["linux-lruvec"]["interlock"] == 0
    assert _batches()["lru_add"] == 100 % 31
    assert peek(uvmexp, "active") == 100 - 100 % 31


@pytest.mark.parametrize(("size", "n", "pageq", "left"), [(15, 100, 6, 10), (1, 10, 10, 0)])
def test_the_batch_size_knob(monkeypatch, size, n, pageq, left):
    # 15: PAGEVEC_SIZE before the folio batches grew; 1: every addition moves at once
    name = _variant(monkeypatch, lru_batch_size=size)
    _w, c = _locks(name, _empty, _fresh_faults(n), npages=n + 40)
    assert c["pageqlock"] == pageq
    assert _batches()["lru_add"] == left


# ---- the scenario: a page freed while another CPU's batch references it ----------------------


def test_lru_batch_ref_free_holds_on_every_interleaving():
    res = run_check(CheckSpec(protocol="linux-lruvec", scenario="lru-batch-ref-free"))
    assert res.failure is None and res.coverage.complete
    assert res.coverage.executions > 1000


def test_with_one_entry_batches_it_holds_too(monkeypatch):
    # every operation moves its batch at once: the batch and the pagedaemon meet on the
    # flag under the lock, with no page waiting in a batch
    name = _variant(monkeypatch, lru_batch_size=1)
    res = run_check(CheckSpec(protocol=name, scenario="lru-batch-ref-free"))
    assert res.failure is None and res.coverage.complete


def _batches_without_references(monkeypatch):
    """Break the batches: an activation or deactivation goes into this CPU's batch without
    taking a page reference (and the move drops none), so nothing keeps a page in a batch
    from its free."""
    add, move = ms.folio_batch_add_and_move, ms.folio_batch_move_lru

    def add_and_move(pg, op, active=False):
        if op == ms.LRU_ADD:
            return add(pg, op, active)
        batch = uvm.lru_fbatch[ms.curcpu().index][op]
        batch.append(pg)
        if len(batch) >= uvm.proto.lru_batch_size:
            move_lru(batch, op)
        return None

    def move_lru(batch, op):
        if op == ms.LRU_ADD:
            return move(batch, op)
        put = ms.folio_put
        ms.folio_put = lambda pg: None
        try:
            return move(batch, op)
        finally:
            ms.folio_put = put

    monkeypatch.setattr(ms, "folio_batch_add_and_move", add_and_move)
    monkeypatch.setattr(ms, "folio_batch_move_lru", move_lru)


def test_a_batch_that_takes_no_reference_is_caught(monkeypatch):
    _batches_without_references(monkeypatch)
    res = run_check(CheckSpec(protocol="linux-lruvec", scenario="lru-batch-ref-free"))
    # the page is freed and handed out again while cpu0's batch still names it; moving the
    # stale entry puts the page on a list it is already on (Linux's VM_BUG_ON in lru_add)
    assert res.failure is not None
    assert res.failure.kind == "kassert"
    assert "folio_test_lru" in res.failure.message


# ---- every catalog scenario on linux-lruvec ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_on_linux_lruvec_under_pct(name):
    # PCT (depth 2, 100 schedules): a failure must be the scenario's recorded expectation
    # on linux-lruvec, or, where the catalog records none for the peer designs, a recorded
    # finding (F3 in swapin-waiter, as on netbsd-intent).  Complete DPOR on every scenario
    # is tests/check/test_odpor.py's, on every protocol.
    scenario, proto = SCENARIOS[name], PROTOCOLS["linux-lruvec"]
    res = run_check(
        CheckSpec(protocol=proto.name, scenario=name, strategy="pct", max_executions=100, seed=1)
    )
    expect = scenario.expectation(proto)
    if res.failure is None:
        assert expect in (None, "holds", "finding"), (name, expect)
    elif expect is None:
        assert classify(res.failure) is not None, res.failure.render()
    else:
        assert allowed(scenario, proto, res.failure), res.failure.render()
