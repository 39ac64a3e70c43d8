"""freebsd-batch: FreeBSD's page-queue batches on the 2026 kernel (issue 16).

Lock traffic per operation, pinned against `openbsd-2026` and `netbsd-intent` (the design
it shares call sites with): no interlock at all (the queue-state word is CASed); a request
for a page on no queue, or for a requeue within a queue, goes to this CPU's batch for that
queue; a move between queues takes the pageq lock at once (FreeBSD's
`vm_page_pqstate_commit_dequeue`); an activation of an active page records nothing.  Then the
batching factor and the flush rule (try-lock from half full, D37305; lock when full), the
scenario of a batch entry for a page being reused, and a control that breaks the design.
"""

import pytest

from uvmsim.machine import peek
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import CheckSpec, run_check
from uvmsim.scenarios import setup as S  # noqa: N812
from uvmsim.uvm import uvm_page as up
from uvmsim.uvm import vm_pqbatch as vb
from uvmsim.uvm.uvm import uvm
from uvmsim.uvm.uvm_amap import amap_unref
from uvmsim.uvm.uvm_page_h import PQ_INTENT_D, PQ_INTENT_MASK, PQ_INTENT_SET
from uvmsim.uvm.uvm_pdaemon import uvm_pageout
from uvmsim.uvm.uvmexp import uvmexp

from .test_kernel_paths import P, _anon_mapping, _fault
from .test_netbsd_intent import _flush_deactivate, _locks, _one_anon, _queue_op
from .test_openbsd_2026 import _file_pages

THREE = ("openbsd-2026", "netbsd-intent", "freebsd-batch")


def test_the_protocol_is_netbsd_intent_with_the_atomic_word_and_batches():
    proto = PROTOCOLS["freebsd-batch"]
    assert proto.diff_from(PROTOCOLS["netbsd-intent"]) == {"pqbatch_atomic": (False, True)}
    assert (proto.pqbatch_size, proto.pqbatch_flush) == (63, vb.FLUSH_TRY_FROM_HALF)
    # the knobs keep every other protocol's digest
    assert "pqbatch_size" not in PROTOCOLS["netbsd-intent"].digest_switches()
    assert "pqbatch_atomic" not in PROTOCOLS["seed"].digest_switches()


# ---- per operation: (pageqlock, interlock) acquisitions ------------------------------------


@pytest.mark.parametrize(("proto", "want"), list(zip(THREE, [(8, 0), (0, 8), (8, 0)], strict=True)))
def test_a_fault_activating_inactive_pages_moves_each_at_once(proto, want):
    # a resident anon fault activating 7 unmapped inactive neighbours and the faulting page:
    # FreeBSD moves a page between queues under the old queue's lock at once, so each
    # costs a pageq acquisition, as on openbsd-2026; only the insertion is batched
    _w, n = _locks(proto, _anon_mapping(8), _fault(3, 8))
    assert (n["pageqlock"], n["interlock"]) == want
    assert peek(uvmexp, "active") + peek(uvmexp, "inactive") <= 8


@pytest.mark.parametrize(
    ("proto", "activate", "deactivate"),
    list(zip(THREE, [(1, 0), (0, 1), (0, 0)], [(1, 0), (0, 1), (1, 0)], strict=True)),
)
def test_activate_is_free_on_an_active_page_and_deactivate_moves_at_once(
    proto, activate, deactivate
):
    for fn, want in ((up.uvm_pageactivate, activate), (up.uvm_pagedeactivate, deactivate)):
        _w, n = _locks(proto, _one_anon(), _queue_op(fn))
        assert (n["pageqlock"], n["interlock"]) == want, fn.__name__


@pytest.mark.parametrize(("proto", "want"), list(zip(THREE, [(4, 0), (0, 4), (0, 0)], strict=True)))
def test_freeing_queued_pages_only_requests_their_dequeue(proto, want):
    # an exit frees 4 active anon pages: FreeBSD marks each for a deferred dequeue (a CAS)
    # and submits it to this CPU's active batch; the pages stay queued
    _w, n = _locks(proto, _anon_mapping(4, deactivate=False), lambda w: amap_unref(w.amap))
    assert (n["pageqlock"], n["interlock"]) == want
    if proto == "freebsd-batch":
        assert peek(uvmexp, "active") == 4
        active, inactive = uvm.pqbatch[0]
        assert (len(active), inactive) == (4, [])
        for pg in active:
            word = peek(pg, "pqflags")
            assert word & PQ_INTENT_SET and word & PQ_INTENT_MASK == PQ_INTENT_D


def _free_then_reuse(w):
    amap_unref(w.amap)
    w.amap2 = S.new_amap("amap2")
    S.fault_anon(w.pm, 0x40000, w.amap2, 0)


def test_reusing_a_page_still_queued_dequeues_it_first():
    # the page freed last is the one handed out next (this CPU's magazine): FreeBSD's
    # allocator dequeues it under the pageq lock before giving it its new identity
    _w, n = _locks("freebsd-batch", _anon_mapping(1, deactivate=False), _free_then_reuse)
    assert n["pageqlock"] == 1
    # the reused page is on no queue: its activation waits in the batch
    assert peek(uvmexp, "active") == 0 and len(uvm.pqbatch[0][0]) == 2


@pytest.mark.parametrize(("proto", "want"), list(zip(THREE, [(8, 0), (2, 6), (2, 0)], strict=True)))
def test_the_pagedaemon_takes_no_interlock(proto, want):
    # 9 active pages, the active scan deactivates 3 under the pageq lock it holds
    _w, n = _locks(proto, _anon_mapping(9, deactivate=False), lambda w: uvm_pageout(shortage=0))
    assert peek(uvmexp, "inactive") == 3
    assert (n["pageqlock"], n["interlock"]) == want


@pytest.mark.parametrize(("proto", "want"), list(zip(THREE, [(9, 0), (1, 4), (1, 0)], strict=True)))
def test_uvn_flush_deactivates_under_its_pageq_lock(proto, want):
    _w, n = _locks(proto, _file_pages(4), _flush_deactivate)
    assert (n["pageqlock"], n["interlock"]) == want


# ---- batching: N fresh activations cost about N / (batch / 2) acquisitions -----------------


def _empty(w):
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")


def _fresh_faults(n):
    def op(w):
        for i in range(n):
            S.fault_anon(w.pm, 0x10000 + i * P, w.amap, i)

    return op


def _variant(monkeypatch, **knobs):
    name = "freebsd-batch-" + "-".join(f"{k}{v}" for k, v in sorted(knobs.items()))
    proto = PROTOCOLS["freebsd-batch"].variant(name, **knobs)
    monkeypatch.setitem(PROTOCOLS, proto.name, proto)
    return proto.name


def test_batching_cuts_pageq_acquisitions_by_half_the_batch():
    # 100 faults of fresh anon pages: openbsd-2026 takes the pageq lock 100 times; FreeBSD's
    # 63-entry batch is processed by try-lock once 32 entries wait (D37305): 100 // 32
    counts = {p: _locks(p, _empty, _fresh_faults(100), npages=160)[1] for p in THREE}
    assert counts["openbsd-2026"]["pageqlock"] == 100
    assert counts["netbsd-intent"]["pageqlock"] == 0  # 128 entries: never full here
    assert counts["freebsd-batch"]["pageqlock"] == 100 // 32
    assert counts["freebsd-batch"]["interlock"] == 0
    assert len(uvm.pqbatch[0][0]) == 100 % 32


@pytest.mark.parametrize(
    ("size", "flush", "n", "pageq", "left"),
    [
        (8, vb.FLUSH_TRY_FROM_HALF, 20, 5, 0),  # try-lock at 4 waiting: every 4th
        (8, vb.FLUSH_TRY_FROM_HALF, 21, 5, 1),
        (8, vb.FLUSH_WHEN_FULL, 20, 2, 2),  # r332974: the 9th finds the batch full
        (8, vb.FLUSH_WHEN_FULL, 18, 2, 0),
        (63, vb.FLUSH_WHEN_FULL, 100, 1, 36),
    ],
)
def test_the_flush_rule(monkeypatch, size, flush, n, pageq, left):
    name = _variant(monkeypatch, pqbatch_size=size, pqbatch_flush=flush)
    _w, c = _locks(name, _empty, _fresh_faults(n), npages=n + 40)
    assert c["pageqlock"] == pageq
    assert len(uvm.pqbatch[0][0]) == left


def test_a_contended_try_lock_lets_the_batch_grow_until_full(monkeypatch):
    # the pageq lock is always busy when tried: the half-full rule never processes, the
    # batch fills and the next submission waits for the lock (20 faults, 8 entries: 2)
    name = _variant(monkeypatch, pqbatch_size=8, pqbatch_flush=vb.FLUSH_TRY_FROM_HALF)
    tried = []

    def busy(mtx):
        tried.append(mtx.name)
        return 0

    monkeypatch.setattr(vb, "mtx_enter_try", busy)
    _w, c = _locks(name, _empty, _fresh_faults(20), npages=60)
    assert c["pageqlock"] == 2
    assert tried and set(tried) == {"pageqlock"}
    assert len(uvm.pqbatch[0][0]) == 2


# ---- the scenario: a batch entry for a page being reused ------------------------------------


def test_batch_entry_reused_page_holds_on_every_interleaving():
    res = run_check(CheckSpec(protocol="freebsd-batch", scenario="batch-entry-reused-page"))
    assert res.failure is None and res.coverage.complete
    assert res.coverage.executions > 100


@pytest.mark.parametrize("flush", [vb.FLUSH_WHEN_FULL, vb.FLUSH_TRY_FROM_HALF])
def test_with_one_entry_batches_it_holds_too(monkeypatch, flush):
    # every submission processes the batch: processing under the pageq lock on both CPUs,
    # against the free, the reuse and the move
    name = _variant(monkeypatch, pqbatch_size=1, pqbatch_flush=flush)
    res = run_check(CheckSpec(protocol=name, scenario="batch-entry-reused-page"))
    assert res.failure is None and res.coverage.complete


def _processing_with_a_plain_store(monkeypatch):
    """Break the word: processing clears the request with a plain store of what it read
    instead of a compare-and-swap, so a request that raced in meanwhile is lost."""

    def process_page(pg):
        old = vb.atomic_load(pg, "pqflags")
        if not old & PQ_INTENT_SET:
            return False
        intent = old & PQ_INTENT_MASK
        if intent == PQ_INTENT_D:
            vb.uvmpdpol_pagedequeue_locked(pg)
        elif intent == vb.PQ_INTENT_I:
            vb.uvmpdpol_pagedeactivate_locked(pg)
        else:
            vb.uvmpdpol_pageactivate_locked(pg)
        pg.pqflags = old & ~PQ_INTENT_SET
        return True

    monkeypatch.setattr(vb, "vm_pqbatch_process_page", process_page)


def test_processing_that_loses_a_racing_request_is_caught(monkeypatch):
    _processing_with_a_plain_store(monkeypatch)
    name = _variant(monkeypatch, pqbatch_size=1, pqbatch_flush=vb.FLUSH_WHEN_FULL)
    res = run_check(CheckSpec(protocol=name, scenario="batch-entry-reused-page"))
    # the plain store races with a requester's CAS on the same word, which no lock orders
    assert res.failure is not None
    assert res.failure.kind == "data-race" and "pqflags" in res.failure.message
