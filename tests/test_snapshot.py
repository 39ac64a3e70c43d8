"""A world restored in place (`scenarios.base._InPlace`) is the world unpickling gives.

After executions have changed it, the world `build` restores in place pickles to the same
bytes as a fresh copy unpickled from the snapshot: the same objects, the same sharing, the
same contents.
"""

from __future__ import annotations

import pytest

from uvmsim.machine import RandomEngine
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios import SCENARIOS, base


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("protocol", ["seed", "openbsd-pre"])
def test_a_world_restored_in_place_is_the_unpickled_one(scenario: str, protocol: str) -> None:
    sc, proto = SCENARIOS[scenario], PROTOCOLS[protocol]
    target = ScenarioTarget(sc, proto)
    for seed in range(3):
        target.execute(RandomEngine(seed))
    key = base.snapshot_key(sc, proto)
    assert base._inplace[key] is not None, "this world is unpickled on every build"
    in_place, _program = base.build(sc, proto)
    restored = base._snapshot(in_place)
    unpickled = base._snapshot(base._restore(base._snapshots[key]))
    assert restored == unpickled
