"""A world restored in place (`scenarios.base._InPlace`) is the world unpickling gives.

After executions have changed it, the world `build` restores in place pickles to the same
bytes as a fresh copy unpickled from the snapshot: the same objects, the same sharing, the
same contents.
"""

from __future__ import annotations

from types import SimpleNamespace

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


def test_every_kind_of_container_is_put_back_with_its_sharing() -> None:
    """Lists, dicts, sets (also inside tuples and frozensets) and a namespace's fields."""
    inner = [1, 2]
    state = SimpleNamespace(
        lst=[inner, 3], dct={"a": inner, "b": {4}}, st={5, 6}, tup=(inner, frozenset({7}))
    )
    snap = base._InPlace(state)
    state.lst.append(9)
    inner.clear()
    state.dct["c"] = 1
    state.dct["b"].add(8)
    state.st.discard(5)
    state.st.add(10)
    state.extra = "added by an execution"
    assert snap.restore() is state
    assert state.lst == [[1, 2], 3] and state.lst[0] is inner and state.tup[0] is inner
    assert state.dct == {"a": [1, 2], "b": {4}} and state.dct["a"] is inner
    assert state.st == {5, 6}
    assert not hasattr(state, "extra")
