"""Flipping any one switch of `seed` changes what the model does.

For each switch, a scenario that exercises the functions it changes runs under `seed` and
under `seed` with that switch flipped, on the same engines; the outcome, the sequence of lock
acquisitions or the operations on uvmexp.wired must differ on at least one of them.
"""

import pytest

from uvmsim.machine import RandomEngine, RoundRobinEngine
from uvmsim.protocols import ALL_SWITCHES, PROTOCOLS, Protocol

from .helpers import RELEASED_WINDOW, PhaseEngine, behaviour


def engines():
    yield RoundRobinEngine()
    yield RoundRobinEngine(quantum=1_000_000)
    # cpu1 runs entirely in the window of the pagedaemon's released path.
    yield PhaseEngine(RELEASED_WINDOW)
    for seed in range(30):
        yield RandomEngine(seed)


def test_every_switch_has_a_row_and_an_exercise():
    assert set(ALL_SWITCHES) == set(Protocol.switch_names())
    assert all(s.exercises for s in ALL_SWITCHES.values())


@pytest.mark.parametrize("switch", sorted(ALL_SWITCHES))
def test_flipping_the_switch_changes_behaviour(switch):
    seed = PROTOCOLS["seed"]
    mutant = seed.variant(f"seed~{switch}", **{switch: not getattr(seed, switch)})
    scenario = ALL_SWITCHES[switch].exercises[0]
    for engine in engines():
        a = behaviour(scenario, seed, engine)
        b = behaviour(scenario, mutant, engine)
        if a != b:
            return
    pytest.fail(f"flipping {switch} changed nothing in {scenario}")
