"""The knob `queue_counters` (issue 16): the kind of the queue counters uvmexp.active/inactive.

0 resolves to the protocol's own kernel (plain under the pageq lock before uvm_page.c 1.184,
atomic from it); 1 locked, 2 atomic, 3 per-CPU shares summed by every reader.  Pinned here:
which operations each kind makes on a fault (the same number of counter changes, of a
different kind and on different lines), that each CPU changes only its own share, that the
pagedaemon's reader sums every CPU's share (2 reads per CPU per round) and so computes the
same target from shares that are negative alone, that every kind holds on the checker, and
that bad values are refused with the accepted ones named.
"""

import pytest

from uvmsim.machine import InputError, peek
from uvmsim.machine.core import ATOMIC, READ, WRITE
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import CheckSpec, run_check
from uvmsim.uvm import uvmexp as ux
from uvmsim.uvm.uvm import uvm
from uvmsim.uvm.uvm_pdaemon import uvm_pageout

from .test_kernel_paths import _anon_mapping, _fault, traffic


def _variant(monkeypatch, base, kind):
    proto = PROTOCOLS[base].variant(f"{base}-counters{kind}", queue_counters=kind)
    monkeypatch.setitem(PROTOCOLS, proto.name, proto)
    return proto.name


def _counter_ops(trace):
    """(kind, object, field) of every operation on a queue counter, in order."""
    return [
        (kind, name, field)
        for _c, kind, name, field, *_ in trace
        if field in ("active", "inactive") and (name == "uvmexp" or name.endswith(".queue_counts"))
    ]


def test_zero_is_the_kernels_own_kind_and_keeps_every_digest():
    assert ux.resolve_queue_counters(PROTOCOLS["openbsd-pre"]) == ux.COUNTERS_LOCKED
    assert ux.resolve_queue_counters(PROTOCOLS["seed"]) == ux.COUNTERS_LOCKED
    assert ux.resolve_queue_counters(PROTOCOLS["openbsd-2026"]) == ux.COUNTERS_ATOMIC
    assert ux.resolve_queue_counters(PROTOCOLS["freebsd-batch"]) == ux.COUNTERS_ATOMIC
    for proto in PROTOCOLS.values():
        assert "queue_counters" not in proto.digest_switches()
    mine = PROTOCOLS["seed"].variant("mine", queue_counters=ux.COUNTERS_PERCPU)
    assert mine.digest_switches()["queue_counters"] == ux.COUNTERS_PERCPU


@pytest.mark.parametrize(
    ("knob", "value", "accepted"),
    [
        ("queue_counters", 4, "0, 1, 2, 3"),
        ("queue_counters", True, "0, 1, 2, 3"),
        ("pqbatch_flush", 3, "1, 2"),
    ],
)
def test_a_value_outside_the_accepted_ones_is_refused_naming_them(knob, value, accepted):
    with pytest.raises(InputError) as exc:
        PROTOCOLS["freebsd-batch"].variant("bad", **{knob: value})
    assert str(exc.value) == (f"protocol knob {knob!r} must be one of {accepted}, got {value!r}")


# ---- what a fault does to the counters, per kind ----------------------------------------

# A resident anon fault activating 7 unmapped inactive neighbours and the faulting page
# (8 moves inactive -> active): 16 changes in every kind.
FAULT_OPS = {
    ux.COUNTERS_LOCKED: 8
    * [
        (READ, "uvmexp", "inactive"),
        (WRITE, "uvmexp", "inactive"),
        (READ, "uvmexp", "active"),
        (WRITE, "uvmexp", "active"),
    ],
    ux.COUNTERS_ATOMIC: 8 * [(ATOMIC, "uvmexp", "inactive"), (ATOMIC, "uvmexp", "active")],
    ux.COUNTERS_PERCPU: 8
    * [
        (READ, "cpu0.queue_counts", "inactive"),
        (WRITE, "cpu0.queue_counts", "inactive"),
        (READ, "cpu0.queue_counts", "active"),
        (WRITE, "cpu0.queue_counts", "active"),
    ],
}


@pytest.mark.parametrize("kind", sorted(FAULT_OPS))
def test_a_fault_changes_the_counters_of_its_kind(monkeypatch, kind):
    name = _variant(monkeypatch, "openbsd-2026", kind)
    w, n = traffic(name, _anon_mapping(8), _fault(3, 8))
    assert n["pageqlock"] == 8  # the kind changes no lock traffic
    assert _counter_ops(w.result.trace) == FAULT_OPS[kind]
    assert ux.queue_counts_at_rest() == (8, 0)
    if kind == ux.COUNTERS_PERCPU:
        # the shared counters are left alone: only the shares count
        assert (peek(ux.uvmexp, "active"), peek(ux.uvmexp, "inactive")) == (0, 0)


def test_each_cpu_changes_only_its_own_share_and_the_sum_is_right(monkeypatch):
    # cpu0 set up 8 inactive pages; cpu1's fault moves them: cpu1's share is +8 active and
    # -8 inactive, cpu0's +8 inactive; the sum is the queues
    name = _variant(monkeypatch, "openbsd-2026", ux.COUNTERS_PERCPU)
    w, _n = traffic(
        name, _anon_mapping(8), lambda w: [lambda: None, lambda: _fault(3, 8)(w)], cpus=2
    )
    writers = {
        (c, name)
        for c, kind, name, field, *_ in w.result.trace
        if kind == WRITE and name.endswith(".queue_counts")
    }
    assert writers == {(1, "cpu1.queue_counts")}
    shares = [(peek(s, "active"), peek(s, "inactive")) for s in uvm.cpu_queue_counts]
    assert shares == [(0, 8), (8, -8)]
    assert ux.queue_counts_at_rest() == (8, 0)


def _pageout_on_cpu0(cpus):
    if cpus == 1:
        return lambda w: uvm_pageout(shortage=0)
    return lambda w: [lambda: uvm_pageout(shortage=0)] + [lambda: None] * (cpus - 1)


@pytest.mark.parametrize(
    ("kind", "cpus", "reads"),
    [
        (ux.COUNTERS_LOCKED, 4, 2),
        (ux.COUNTERS_ATOMIC, 4, 2),
        (ux.COUNTERS_PERCPU, 1, 2),
        (ux.COUNTERS_PERCPU, 4, 8),
    ],
)
def test_the_pagedaemon_sums_every_share(monkeypatch, kind, cpus, reads):
    # 9 active pages; the round's reader reads the counters under the pageq lock (2 reads,
    # or 2 per CPU) and computes the same inactive target in every kind: 3 deactivated
    name = _variant(monkeypatch, "openbsd-2026", kind)
    w, _n = traffic(
        name,
        _anon_mapping(9, deactivate=False),
        _pageout_on_cpu0(cpus),
        cpus=cpus,
    )
    got = [op for op in _counter_ops(w.result.trace) if op[0] == READ]
    assert len(got) >= reads
    first_round = got[:reads]
    want_objects = (
        {f"cpu{i}.queue_counts" for i in range(cpus)} if kind == ux.COUNTERS_PERCPU else {"uvmexp"}
    )
    assert {name for _k, name, _f in first_round} == want_objects
    assert ux.queue_counts_at_rest() == (6, 3)


@pytest.mark.parametrize("kind", [ux.COUNTERS_LOCKED, ux.COUNTERS_PERCPU])
@pytest.mark.parametrize(
    ("base", "scenario"),
    [
        ("openbsd-2026", "pdaemon-marker"),
        ("freebsd-batch", "batch-entry-reused-page"),
        ("linux-lruvec", "lru-batch-ref-free"),
    ],
)
def test_every_kind_holds_on_every_interleaving(monkeypatch, kind, base, scenario):
    name = _variant(monkeypatch, base, kind)
    res = run_check(CheckSpec(protocol=name, scenario=scenario, max_executions=400))
    assert res.failure is None, res.failure.render()
