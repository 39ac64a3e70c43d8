"""The checker on the UVM scenarios: the thread's questions, answered exhaustively."""

from uvmsim.runs.check import CheckSpec, counterexample, run_check
from uvmsim.scenarios.findings import classify


def check(protocol, scenario, **kw):
    spec = CheckSpec(protocol=protocol, scenario=scenario, **kw)
    return spec, run_check(spec)


def test_plain_wired_lost_update_minimized_to_two_preemptions_at_most():
    spec, res = check("seed-plain-wired", "wired-counter", analyses=(("races", False),))
    assert res.failure is not None
    assert res.failure.message.startswith("invariant violated: I6: uvmexp.wired is ")
    cx = counterexample(spec, res)
    assert cx.minimized.preemptions <= 2
    assert cx.explanation.failure.message.startswith("invariant violated: I6:")


def test_no_dequeue_first_recursion_in_the_pagedaemon():
    _, res = check("seed-no-dequeue-first", "pdaemon-vs-free")
    assert res.failure is not None
    assert res.failure.message == "panic: mtx pageqlock: locking against myself"


def test_fault_vs_free_is_explored_exhaustively_and_holds():
    for protocol in ("openbsd-pre", "seed"):
        _, res = check(protocol, "fault-vs-free")
        assert res.failure is None
        assert res.coverage.complete and res.coverage.executions > 100


def test_pageclean_race_holds_before_the_diff_and_finds_F1_after_it():
    _, pre = check("openbsd-pre", "pageclean-race")
    assert pre.failure is None and pre.coverage.complete
    _, seed = check("seed", "pageclean-race")
    assert classify(seed.failure) == "F1"
    _, kassert = check("seed", "pageclean-race", analyses=(("races", False),))
    assert kassert.failure.kind == "kassert" and classify(kassert.failure) == "F1"
    _, fixed = check("seed-fixed", "pageclean-race")
    assert fixed.failure is None and fixed.coverage.complete


def test_reduction_of_covered_accesses_keeps_the_answers():
    for protocol, scenario in (("seed", "fault-vs-free"), ("openbsd-pre", "pageclean-race")):
        _, full = check(protocol, scenario)
        _, reduced = check(protocol, scenario, reduce=True)
        assert reduced.failure is None and reduced.coverage.complete
        assert reduced.coverage.deepest < full.coverage.deepest
    _, found = check("seed-no-dequeue-first", "flush-vs-fault", reduce=True)
    assert found.failure.kind == "recursion"
