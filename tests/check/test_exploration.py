"""DPOR and DFS on programs whose answers are known."""

import math

import pytest

from uvmsim.check.strategies import Bounded, Dfs, Dpor
from uvmsim.check.strategy import explore
from uvmsim.check.target import ProgramTarget
from uvmsim.machine import Analyses

from .programs import PROGRAMS, final, independent, writers_and_reader

NO_RACES = Analyses(races=False)


def finals(strategy, build, **kw):
    """Run `strategy` to completion on `build`, returning the set of final states."""
    seen = set()
    target = ProgramTarget(build, analyses=NO_RACES)
    run = target.execute

    def execute(engine, **k):
        r = run(engine, **k)
        if r.completed:
            seen.add(final(target.world))
        elif r.failure is not None:
            seen.add(("failure", r.failure.kind))
        return r

    target.execute = execute
    result = explore(target, strategy(**kw), keep_going=True)
    assert result.coverage.complete
    return seen, result.coverage


@pytest.mark.parametrize(("n", "k"), [(2, 1), (2, 2), (3, 2), (2, 3)])
def test_independent_steps_are_one_trace_under_dpor_and_all_interleavings_under_dfs(n, k):
    _, dpor = finals(Dpor, independent(n, k))
    assert (dpor.executions, dpor.traces, dpor.redundant) == (1, 1, 0)
    _, dfs = finals(Dfs, independent(n, k))
    assert dfs.executions == math.factorial(n * k) // math.factorial(k) ** n


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_writers_and_reader_match_the_closed_form(n):
    _, cov = finals(Dpor, writers_and_reader(n))
    assert cov.traces == 2**n
    assert cov.redundant == 0


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_dpor_and_dfs_reach_the_same_final_states(name):
    build = PROGRAMS[name]
    a, dpor = finals(Dpor, build)
    b, dfs = finals(Dfs, build)
    assert a == b
    assert dpor.executions <= dfs.executions


def test_racy_increments_reach_every_lost_update():
    states, _ = finals(Dpor, PROGRAMS["racy-increments-3"])
    assert {s[0] for s in states} == {1, 2, 3}


def test_preemption_bound_limits_schedules():
    build = independent(2, 3)
    _, b0 = finals(Bounded, build, preemptions=0)
    _, b1 = finals(Bounded, build, preemptions=1)
    _, full = finals(Dfs, build)
    assert b0.executions == 2  # one CPU to completion, then the other
    assert b0.executions < b1.executions < full.executions


def test_visited_state_hashing_prunes_without_losing_states():
    build = independent(2, 2)

    def digest(machine):
        world = machine_world["w"]
        return (
            final(world),
            tuple(len([s for s in machine.schedule if s == c.index]) for c in machine.cpus),
        )

    machine_world = {}
    target = ProgramTarget(build, analyses=NO_RACES)
    run = target.execute
    seen = set()

    def execute(engine, **k):
        r = run(engine, **k)
        if r.completed:
            seen.add(final(target.world))
        return r

    def wrapped_build():
        w, prog = build()
        machine_world["w"] = w
        return w, prog

    target.build = wrapped_build
    target.execute = execute
    res = explore(target, Dfs(state_digest=digest))
    assert res.coverage.complete
    plain, cov = finals(Dfs, build)
    assert seen == plain
    assert res.coverage.traces < cov.executions
