"""The model issue's acceptance: recursion without dequeue-first; the lost wired update."""

from uvmsim.machine import Analyses, RandomEngine, ReplayEngine, RoundRobinEngine
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.names import get_scenario
from uvmsim.scenarios import run_scenario

from .helpers import RELEASED_WINDOW, PhaseEngine


def pagedaemon_first():
    """The pagedaemon (cpu0) runs alone until it finishes or blocks: fully deterministic."""
    return RoundRobinEngine(quantum=1_000_000)


def test_inactive_scan_freeing_a_queued_page_recurses_without_dequeue_first():
    f = run_scenario(
        get_scenario("pdaemon-vs-free"), PROTOCOLS["seed-no-dequeue-first"], pagedaemon_first()
    ).failure
    assert f is not None and f.kind == "recursion"
    assert f.message == "panic: mtx pageqlock: locking against myself"
    assert f.sites[0].startswith("first acquired at uvm_pageout (uvm_pdaemon.py:")
    assert f.sites[1].startswith("again at uvm_pageclean (uvm_page.py:")
    assert f.stacks[0][1][-4:] == (
        "uvmpd_scan",
        "uvmpd_scan_inactive",
        "uvm_pagefree",
        "uvm_pageclean",
    )


def test_same_schedule_under_seed_does_not_recurse():
    r = run_scenario(get_scenario("pdaemon-vs-free"), PROTOCOLS["seed"], pagedaemon_first())
    assert r.failure is None and r.completed


def test_released_page_path_recurses_without_its_dequeue():
    phases = RELEASED_WINDOW
    mutant = PROTOCOLS["seed"].variant("m", pdaemon_released_dequeue_first=False)
    f = run_scenario(get_scenario("pdaemon-released"), mutant, PhaseEngine(phases)).failure
    assert f is not None and f.kind == "recursion"
    assert "uvmpd_scan_inactive" in f.sites[0]
    ok = run_scenario(get_scenario("pdaemon-released"), PROTOCOLS["seed"], PhaseEngine(phases))
    assert ok.failure is None


def test_plain_wired_loses_an_update_and_the_counter_invariant_fails():
    no_races = Analyses(races=False)
    scenario = get_scenario("wired-counter")
    lost = None
    for seed in range(300):
        r = run_scenario(
            scenario, PROTOCOLS["seed-plain-wired"], RandomEngine(seed), analyses=no_races
        )
        if r.failure is not None:
            assert r.failure.kind == "invariant"
            assert r.failure.message.startswith("invariant violated: I6: uvmexp.wired is ")
            lost = lost or r
        seeded = run_scenario(scenario, PROTOCOLS["seed"], RandomEngine(seed), analyses=no_races)
        assert seeded.failure is None
    assert lost is not None
    # The failing schedule replays to the same failure.
    again = run_scenario(
        scenario, PROTOCOLS["seed-plain-wired"], ReplayEngine(lost.schedule), analyses=no_races
    )
    assert again.failure == lost.failure
