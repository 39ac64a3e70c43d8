"""The knob `lru_shards` (issue 16): several LRU locks, FreeBSD's domains and Linux's lruvecs.

Pinned here: which protocols take it (the peers, with atomic queue counters) and the error
otherwise; that one shard is the model as before (names, digests); how memory and CPUs are
split into domains and that allocations prefer the CPU's own; the lock traffic it changes
(FreeBSD's batches per domain, Linux's relock when a batch crosses lruvecs); the
pagedaemon's round over every shard against the global targets; that the checker holds on
two shards; and that the timed engine's lockstat row `pageqlock` is every shard's.
"""

from collections import Counter

import pytest

from uvmsim.machine import InputError, peek
from uvmsim.machine.core import MTX_ENTER, MTX_TRY
from uvmsim.protocols import PROTOCOLS
from uvmsim.review import compare
from uvmsim.runs.check import CheckSpec, run_check
from uvmsim.runs.simulate import simulate
from uvmsim.uvm import uvm_page as up
from uvmsim.uvm.uvm import cpu_domain, uvm
from uvmsim.uvm.uvm_amap import amap_lock, amap_lookup, amap_unlock
from uvmsim.uvm.uvm_init import uvm_boot
from uvmsim.uvm.uvm_pdaemon import uvm_pageout
from uvmsim.uvm.uvm_pdpolicy_clock import uvmpdpol_idle

from .test_kernel_paths import _anon_mapping, traffic
from .test_netbsd_intent import _at_rest

PEERS = ("freebsd-batch", "linux-lruvec")


def _sharded(monkeypatch, base, n=2, **knobs):
    proto = PROTOCOLS[base].variant(f"{base}-{n}shards", lru_shards=n, **knobs)
    monkeypatch.setitem(PROTOCOLS, proto.name, proto)
    return proto.name


def _lru_locks(trace):
    """Acquisitions (try-locks that succeeded included) per pageq lock shard."""
    return Counter(
        name
        for _c, kind, name, *_ in trace
        if kind in (MTX_ENTER, MTX_TRY) and name.startswith("pageqlock")
    )


# ---- which protocols take it ------------------------------------------------------------


@pytest.mark.parametrize("base", ["seed", "openbsd-2026", "netbsd-intent"])
def test_a_protocol_with_one_global_pageq_lock_refuses_shards(base):
    with pytest.raises(InputError) as exc:
        PROTOCOLS[base].variant("mine", lru_shards=2)
    assert str(exc.value) == (
        "protocol knob 'lru_shards' is 2 on mine, which has one global pageq lock: shards "
        "are read only with pqbatch_atomic or lru_batch (accepted here: 1)"
    )


@pytest.mark.parametrize("kind", [1, 3])
def test_shards_need_atomic_queue_counters(kind):
    with pytest.raises(InputError) as exc:
        PROTOCOLS["linux-lruvec"].variant("mine", lru_shards=4, queue_counters=kind)
    assert str(exc.value) == (
        f"protocol knob 'lru_shards' is 4 with queue_counters {kind}: shards need atomic "
        "queue counters (accepted queue_counters: 0, 2)"
    )
    with pytest.raises(InputError, match="'lru_shards' must be a positive integer, got 0"):
        PROTOCOLS["linux-lruvec"].variant("mine", lru_shards=0)


def test_one_shard_is_the_model_as_it_was():
    for proto in PROTOCOLS.values():
        assert proto.lru_shards == 1 and "lru_shards" not in proto.digest_switches()
    uvm_boot(PROTOCOLS["freebsd-batch"], 2, 16)
    assert (uvm.pageqlock.name, uvm.page_active.name, uvm.page_inactive.name) == (
        "pageqlock",
        "page_active",
        "page_inactive",
    )
    assert uvm.pagequeues[0].lock is uvm.pageqlock


# ---- domains ------------------------------------------------------------------------------


def test_memory_and_cpus_split_into_domains(monkeypatch):
    pages = uvm_boot(PROTOCOLS[_sharded(monkeypatch, "freebsd-batch", 4)], 8, 16)
    assert [lock.name for lock in (pq.lock for pq in uvm.pagequeues)] == [
        f"pageqlock.{i}" for i in range(4)
    ]
    assert {pq.lock.lock_class for pq in uvm.pagequeues} == {"pageqlock"}  # one WITNESS class
    assert uvm.pageqlock is None and uvm.page_active is None  # no global LRU lock
    assert [pg.shard for pg in pages] == [i // 4 for i in range(16)]
    assert [cpu_domain(c) for c in range(8)] == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("base", PEERS)
def test_allocation_prefers_the_cpus_domain(monkeypatch, base):
    # 64 pages, 2 domains (pages 0-31, 32-63; 0-15 in the DMA range, taken last): each
    # CPU's faults get pages of its own domain while the domain has free ones
    name = _sharded(monkeypatch, base)
    w, _n = traffic(name, lambda w: None, _anon_mapping(6, deactivate=False), npages=64)
    assert [amap_lookup(w.amap, s).an_page.shard for s in range(6)] == [0] * 6
    w, _n = traffic(
        name,
        lambda w: None,
        lambda w: [lambda: None, lambda: _anon_mapping(6, deactivate=False)(w)],
        npages=64,
        cpus=2,
    )
    assert [amap_lookup(w.amap, s).an_page.shard for s in range(6)] == [1] * 6


def test_a_domain_out_of_free_pages_falls_back_to_the_others(monkeypatch):
    # 16 pages: domain 0 has only 4 outside the DMA range; cpu0's magazine is refilled with
    # those and then domain 1's, and hands the last in out first
    name = _sharded(monkeypatch, "linux-lruvec")
    w, _n = traffic(name, lambda w: None, _anon_mapping(8, deactivate=False), npages=16)
    assert [amap_lookup(w.amap, s).an_page.shard for s in range(8)] == [1] * 4 + [0] * 4


# ---- lock traffic ------------------------------------------------------------------------


def _deactivate(order):
    def op(w):
        amap_lock(w.amap)
        for slot in order:
            up.uvm_pagedeactivate(amap_lookup(w.amap, slot).an_page)
        amap_unlock(w.amap)
        uvmpdpol_idle()  # this CPU's batches drained (Linux's lru_add_drain, FreeBSD's drain)

    return op


ALTERNATING = (0, 4, 1, 5, 2, 6, 3, 7)  # slots 0-3 in domain 1, 4-7 in domain 0 (below)


@pytest.mark.parametrize(
    ("base", "order", "want"),
    [
        # Linux: one lruvec lock per run of a batch's entries in one lruvec
        ("linux-lruvec", range(8), {"pageqlock.0": 1, "pageqlock.1": 1}),
        ("linux-lruvec", ALTERNATING, {"pageqlock.0": 4, "pageqlock.1": 4}),
        # FreeBSD: a move between queues dequeues at once under the page's domain lock, and
        # the insertion waits in that domain's inactive batch, drained under its lock
        ("freebsd-batch", range(8), {"pageqlock.0": 5, "pageqlock.1": 5}),
        ("freebsd-batch", ALTERNATING, {"pageqlock.0": 5, "pageqlock.1": 5}),
    ],
)
def test_each_page_is_moved_under_its_own_domains_lock(monkeypatch, base, order, want):
    name = _sharded(monkeypatch, base)
    w, _n = traffic(
        name, _at_rest(_anon_mapping(8, deactivate=False)), _deactivate(order), npages=16
    )
    # as in the fallback test: slots 0-3 are domain 1's pages, 4-7 domain 0's
    assert [amap_lookup(w.amap, s).an_page.shard for s in range(8)] == [1] * 4 + [0] * 4
    assert _lru_locks(w.result.trace) == want
    assert [len(peek(pq.inactive, "tqh")) for pq in uvm.pagequeues] == [4, 4]


def test_freebsd_batches_are_per_domain(monkeypatch):
    # 40 fresh faults on cpu0 with 8-entry batches flushed from half full: each domain's
    # active batch fills and is processed under its own lock
    name = _sharded(monkeypatch, "freebsd-batch", pqbatch_size=8)
    w, _n = traffic(name, lambda w: None, _anon_mapping(40, deactivate=False), npages=96)
    shards = Counter(amap_lookup(w.amap, s).an_page.shard for s in range(40))
    locks = _lru_locks(w.result.trace)
    batches = uvm.pqbatch[0]
    assert len(batches) == 4  # (active, inactive) per domain
    for d in (0, 1):
        assert locks[f"pageqlock.{d}"] == shards[d] // 4
        assert len(batches[2 * d]) == shards[d] % 4
    assert sum(shards.values()) == 40 and shards[0] > 0 and shards[1] > 0


@pytest.mark.parametrize("base", PEERS)
def test_the_pagedaemon_scans_every_shard_against_the_global_target(monkeypatch, base):
    # 9 active pages over two domains: the inactive target is the round's (3), met by
    # domain 0's scan; domain 1's lock is still taken for its (empty-handed) scan
    name = _sharded(monkeypatch, base)
    w, _n = traffic(
        name,
        _at_rest(_anon_mapping(9, deactivate=False)),
        lambda w: uvm_pageout(shortage=0),
        npages=16,
    )
    assert _lru_locks(w.result.trace) == {"pageqlock.0": 1, "pageqlock.1": 1}
    assert sum(len(peek(pq.inactive, "tqh")) for pq in uvm.pagequeues) == 3
    assert sum(len(peek(pq.active, "tqh")) for pq in uvm.pagequeues) == 6


# ---- the checker and the timed engine ----------------------------------------------------


@pytest.mark.parametrize(
    ("base", "scenario"),
    [
        ("freebsd-batch", "batch-entry-reused-page"),
        ("freebsd-batch", "pdaemon-marker"),
        ("linux-lruvec", "lru-batch-ref-free"),
        ("linux-lruvec", "pdaemon-marker"),
        ("linux-lruvec", "second-scanner"),
    ],
)
def test_two_shards_hold_on_the_checker(monkeypatch, base, scenario):
    name = _sharded(monkeypatch, base)
    res = run_check(CheckSpec(protocol=name, scenario=scenario, max_executions=300))
    assert res.failure is None, res.failure.render()
    assert res.coverage.executions > 1


def test_the_timed_engines_lockstat_row_is_every_shards(monkeypatch):
    # the shards are one lock class: the simulator's (and compare's) `pageqlock` row counts
    # the acquisitions of all of them, and no per-shard row appears
    name = _sharded(monkeypatch, "freebsd-batch", 4, pqbatch_size=2)  # batches that flush
    r = simulate("make", PROTOCOLS[name], 4, ops=40)
    assert r.locks["pageqlock"]["acquisitions"] > 0
    assert not [k for k in r.locks if k.startswith("pageqlock.")]
    assert (
        compare._lock_total(r, "pageqlock", "acquisitions")
        == (r.locks["pageqlock"]["acquisitions"])
    )
