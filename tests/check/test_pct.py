"""PCT finds depth-1 and depth-2 bugs at least as often as it promises."""

import math

from uvmsim.check.strategies.pct import Pct, PctEngine, pct_bound
from uvmsim.check.strategy import explore
from uvmsim.check.target import ProgramTarget
from uvmsim.machine import KASSERT, Analyses

from .programs import cells

NO_RACES = Analyses(races=False)


def depth1():
    """Bug iff the reader runs before the writer's last step (one ordering constraint)."""

    def build():
        cs = cells(3)

        def writer():
            for i in range(8):
                cs[1].v = i
            cs[0].v = 1

        def reader():
            KASSERT(cs[0].v == 1, "flag == 1")

        return cs, [writer, reader]

    return build


def depth2():
    """Bug iff the reader runs between the writer's two stores (two ordering constraints)."""

    def build():
        cs = cells(3)

        def writer():
            cs[0].v = 1
            for i in range(8):
                cs[1].v = i
            cs[0].v = 0

        def reader():
            for i in range(4):
                cs[2].v = i
            KASSERT(cs[0].v == 0, "x == 0")

        return cs, [writer, reader]

    return build


def hit_rate(build, depth, runs=400):
    target = ProgramTarget(build, analyses=NO_RACES)
    hits, k = 0, 0
    for seed in range(runs):
        r = target.execute(PctEngine(seed, target.cpus, depth, 14))
        k = max(k, len(r.schedule))
        hits += r.failure is not None
    return hits / runs, pct_bound(target.cpus, k, depth)


def at_or_above(rate, bound, runs):
    """The measured rate is a sample: allow three standard errors below a bound it meets."""
    return rate >= bound - 3 * math.sqrt(bound * (1 - bound) / runs)


def test_depth_one_bug_hit_rate_meets_the_bound():
    # With two CPUs and no change point the bug needs the reader to get the higher
    # priority: probability exactly 1/2, the bound itself.
    rate, bound = hit_rate(depth1(), 1, runs=1000)
    assert bound == 0.5
    assert at_or_above(rate, bound, 1000), (rate, bound)


def test_depth_two_bug_hit_rate_meets_the_bound():
    rate, bound = hit_rate(depth2(), 2)
    assert 0 < bound <= rate, (rate, bound)


def test_pct_reports_its_guarantee_and_stops_at_the_bug():
    res = explore(ProgramTarget(depth2(), analyses=NO_RACES), Pct(depth=2, stop=500))
    assert res.failure is not None and res.failure.kind == "kassert"
    assert any("probability >= 1/(n*k^(d-1))" in note for note in res.notes)


def all_before():
    """Bug iff the reader's one read comes after all 20 of the writer's stores: depth 1 for
    PCT (the writer needs the higher priority: probability 1/2), but a random walk must pick
    the writer 20 times in a row first (probability 2^-20)."""

    def build():
        cs = cells(2)

        def writer():
            for i in range(1, 21):
                cs[0].v = i

        def reader():
            KASSERT(cs[0].v != 20, "the reader saw every store")

        return cs, [writer, reader]

    return build


def test_pct_meets_its_bound_where_a_random_walk_almost_never_hits():
    from uvmsim.check.strategies.random_walk import RandomWalk

    runs = 400
    target = ProgramTarget(all_before(), analyses=NO_RACES)
    pct_res = explore(target, Pct(depth=1, stop=runs), keep_going=True)
    walk_res = explore(target, RandomWalk(stop=runs), keep_going=True)
    pct_hits = sum(t["count"] for t in pct_res.tally.counts.values())
    walk_hits = sum(t["count"] for t in walk_res.tally.counts.values())
    bound = pct_bound(target.cpus, 21, 1)
    assert bound == 0.5
    assert at_or_above(pct_hits / runs, bound, runs), pct_hits
    assert walk_hits <= 2  # expected 400 * 2^-20: none
