"""Sampled runs that go on past the first failure: the first failure is the one a stopping
run reports, and every failing execution is counted under its signature."""

import pytest

from uvmsim.check.strategies import Pct, RandomWalk
from uvmsim.check.strategy import explore
from uvmsim.machine import ReplayEngine
from uvmsim.runs.check import CheckSpec, make_target


@pytest.mark.parametrize("sampler", [RandomWalk, Pct])
def test_keep_going_counts_every_failing_execution(sampler):
    target = make_target(CheckSpec("seed", "pageclean-race"))
    stop = explore(target, sampler(seed=5, stop=40))
    go = explore(target, sampler(seed=5, stop=40), keep_going=True)
    assert stop.failure is not None and go.failure is not None
    assert stop.schedule == go.schedule
    assert stop.coverage.executions < go.coverage.executions == 40
    total = sum(t["count"] for t in go.tally.counts.values())
    assert 2 <= total <= 40
    first = min(t["first_seed"] for t in go.tally.counts.values())
    assert first == 5 + stop.coverage.executions - 1
    for sig, (failure, schedule) in go.tally.examples.items():
        assert go.tally.counts[sig]["message"] == failure.message
        assert target.execute(ReplayEngine(schedule)).failure.message == failure.message


def test_a_clean_scenario_has_an_empty_tally():
    target = make_target(CheckSpec("seed", "wired-counter"))
    res = explore(target, RandomWalk(stop=30), keep_going=True)
    assert res.failure is None and not res.tally.counts
