"""Flipping any one switch of `seed` changes what the model does.

For each switch, a scenario that exercises the functions it changes runs under `seed` and
under `seed` with that switch flipped, on the same engines; the outcome, the sequence of lock
acquisitions or the operations on uvmexp.wired must differ on at least one of them.
"""

import pytest

from uvmsim.machine import RandomEngine, RoundRobinEngine
from uvmsim.protocols import PROTOCOLS, Protocol

from .helpers import PhaseEngine, at_work, behaviour, never

EXERCISES = {
    "anfree_list_unlocked": "pageclean-race",
    "anon_release_unlocked": "aiodone-vs-flush",
    "uao_detach_unlocked": "pageclean-race",
    "uao_flush_unlocked": "fault-vs-free",
    "uao_get_unlocked": "swapin-error",
    "anonget_unlocked": "swapin-error",
    "km_pgremove_unlocked": "wired-counter",
    "obj_free_unlocked": "bufcache-flip",
    "pagerealloc_multi_unlocked": "bufcache-flip",
    "pageclean_no_assert": "fault-vs-free",
    "pageclean_locks_dequeue": "fault-vs-free",
    "wired_atomic": "wired-counter",
    "aiodone_unlocked": "aiodone-vs-flush",
    "pdaemon_clean_dequeue_first": "pdaemon-vs-free",
    "pdaemon_released_dequeue_first": "pdaemon-released",
    "pdaemon_drop_unlocked": "hibernate-drop",
    "swap_freepages_unlocked": "pageout-encrypted",
    "uvn_flush_free_per_page": "flush-vs-fault",
    "uvn_flush_dequeue_first": "flush-vs-fault",
    "uvn_flush_cluster_dequeue_first": "flush-vs-fault",
    "percpu_magazines": "fault-vs-free",
    "pageclean_dequeue_before_remove": "pageclean-race",
}


def engines():
    yield RoundRobinEngine()
    yield RoundRobinEngine(quantum=1_000_000)
    # cpu1 runs entirely while cpu0 waits for its swap write (the pagedaemon's released path).
    yield PhaseEngine([(0, at_work("swap_io")), (1, never), (0, never)])
    for seed in range(30):
        yield RandomEngine(seed)


def test_every_switch_has_an_exercise():
    assert set(EXERCISES) == set(Protocol.switch_names())


@pytest.mark.parametrize("switch", sorted(EXERCISES))
def test_flipping_the_switch_changes_behaviour(switch):
    seed = PROTOCOLS["seed"]
    mutant = seed.variant(f"seed~{switch}", **{switch: not getattr(seed, switch)})
    scenario = EXERCISES[switch]
    for engine in engines():
        a = behaviour(scenario, seed, engine)
        b = behaviour(scenario, mutant, engine)
        if a != b:
            return
    pytest.fail(f"flipping {switch} changed nothing in {scenario}")
