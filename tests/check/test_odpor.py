"""Optimal DPOR (strategies/odpor.py): one execution per Mazurkiewicz trace, none blocked.

The trace counts are checked three ways: against closed forms on the literature programs
(lastzero(n) has (n+3)·2^(n-2) traces; indexer and filesystem double with each thread past
the first collision); against source-DPOR, whose complete executions are distinct traces;
and against plain DFS on small and random programs, by comparing the *set* of traces
(tests/check/traces.py).  On the UVM scenarios, dpor and odpor find the same failures.
"""

from __future__ import annotations

import pytest

from uvmsim.check.ops import op_key
from uvmsim.check.strategies import STRATEGIES, Dfs, Dpor, Odpor
from uvmsim.check.strategies.odpor import WakeupNode
from uvmsim.machine import (
    RW_READ,
    RW_WRITE,
    Analyses,
    Mutex,
    RWLock,
    mtx_enter,
    mtx_leave,
    peek,
    rw_enter,
    rw_exit,
)
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import CheckSpec, check_protocol, run_check
from uvmsim.scenarios import SCENARIOS

from .literature import filesystem, indexer, lastzero
from .programs import PROGRAMS, Cell, cells, racy_increments
from .traces import NO_RACES, explore_traces, random_program, trylocks


def assert_optimal(strategy, result, traces, expected=None):
    """Every execution complete, a different trace, none blocked, no branch abandoned."""
    cov = result.coverage
    assert result.strategy == "odpor"
    assert cov.complete and strategy.divergences() == 0 and not result.notes
    assert cov.redundant == 0
    assert cov.executions == cov.traces == len(traces) == len(set(traces))
    if expected is not None:
        assert cov.traces == expected


def run_odpor(build, analyses=NO_RACES, **kw):
    s = Odpor(**{k: kw.pop(k) for k in ("preemptions", "depth") if k in kw})
    res, traces = explore_traces(s, build, analyses, **kw)
    return s, res, traces


def test_registered():
    assert STRATEGIES["odpor"] is Odpor


# -- the literature programs: closed forms, and source-DPOR's count -------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7])
def test_lastzero_explores_each_trace_once_where_source_dpor_is_blocked(n):
    expected = (n + 3) * 2**n // 4  # 2, 5, 12, 28, 64, 144, 320
    assert_optimal(*run_odpor(lastzero(n)), expected)
    dpor, _ = explore_traces(Dpor(), lastzero(n))
    assert dpor.coverage.traces == expected
    assert (dpor.coverage.redundant > 0) == (n >= 4)


@pytest.mark.parametrize(("n", "expected"), [(11, 1), (12, 8), (13, 64)])
def test_indexer_trace_counts(n, expected):
    assert_optimal(*run_odpor(indexer(n)), expected)
    dpor, _ = explore_traces(Dpor(), indexer(n))
    assert dpor.coverage.traces == expected


@pytest.mark.parametrize(("n", "expected"), [(13, 1), (14, 2), (16, 8), (17, 16)])
def test_filesystem_trace_counts(n, expected):
    assert_optimal(*run_odpor(filesystem(n)), expected)
    dpor, _ = explore_traces(Dpor(), filesystem(n))
    assert dpor.coverage.traces == expected


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_known_programs_have_source_dpors_trace_count(name):
    dpor, _ = explore_traces(Dpor(), PROGRAMS[name])
    assert_optimal(*run_odpor(PROGRAMS[name]), dpor.coverage.traces)


# -- the set of traces, against every schedule ------------------------------------------------

SMALL = {
    "lastzero-3": lastzero(3),
    "trylocks": trylocks(),
    **{name: PROGRAMS[name] for name in sorted(PROGRAMS) if name != "independent-3x2"},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_odpor_explores_exactly_the_traces_of_all_schedules(name):
    strategy, result, traces = run_odpor(SMALL[name])
    assert_optimal(strategy, result, traces)
    dfs, every = explore_traces(Dfs(), SMALL[name])
    assert dfs.coverage.complete
    assert set(traces) == set(every)


@pytest.mark.parametrize("seed", range(80))
def test_random_programs_have_exactly_the_traces_of_all_schedules(seed):
    strategy, result, traces = run_odpor(random_program(seed))
    assert_optimal(strategy, result, traces)
    _, every = explore_traces(Dfs(), random_program(seed))
    assert set(traces) == set(every)


def test_exploration_is_deterministic():
    runs = [run_odpor(lastzero(4))[2] for _ in range(2)]
    assert runs[0] == runs[1]


# -- failures -----------------------------------------------------------------------------------


def counted_increments(n):
    """N unlocked increments, and an invariant naming the final count when one was lost."""
    build_counter = racy_increments(n)

    def build():
        cs, program = build_counter()

        def all_counted():
            v = peek(cs[0], "v")
            return None if v == n else f"lost update: counter is {v}"

        return cs, program, {}, [all_counted]

    return build


def abba():
    """Two CPUs taking two mutexes in opposite orders: some schedules deadlock."""

    def build():
        a, b = Mutex("a"), Mutex("b")
        (c,) = cells(1)

        def one():
            mtx_enter(a)
            mtx_enter(b)
            c.v = 1
            mtx_leave(b)
            mtx_leave(a)

        def two():
            mtx_enter(b)
            mtx_enter(a)
            c.v = 2
            mtx_leave(a)
            mtx_leave(b)

        return [c], [one, two]

    return build


FAILING = {
    "counted-increments-3": (counted_increments(3), NO_RACES),
    "abba": (abba(), NO_RACES),
    "data-races": (racy_increments(3), Analyses()),
}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_odpor_finds_the_failures_source_dpor_finds(name):
    build, analyses = FAILING[name]
    dpor, _ = explore_traces(Dpor(), build, analyses)
    strategy, result, traces = run_odpor(build, analyses)
    assert_optimal(strategy, result, traces)
    assert dpor.tally.counts
    assert sorted(result.tally.counts) == sorted(dpor.tally.counts)
    # The first failure and its schedule are the first the tally recorded.
    first_failure, first_schedule = next(iter(result.tally.examples.values()))
    assert (result.failure, result.schedule) == (first_failure, first_schedule)


def test_stopping_at_the_first_failure():
    build, analyses = FAILING["counted-increments-3"]
    _, result, _ = run_odpor(build, analyses, keep_going=False)
    assert result.found and not result.coverage.complete
    assert result.failure.message.startswith("invariant violated: lost update")


# Executions per strategy, scenario and protocol in the every-protocol test: every OpenBSD
# protocol completes every scenario well inside it; the peer designs' batches multiply the
# interleavings of a few scenarios (freebsd-batch's pageclean-race has 4,780 traces), which
# CI's 15 minutes cannot afford on every push.  Their complete explorations are run by their
# own tests and by `uvmsim compare`.
EVERY_PROTOCOL_BUDGET = 1500
PEERS = {"netbsd-intent", "freebsd-batch", "linux-lruvec"}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_dpor_and_odpor_find_the_same_failures_on_every_protocol(scenario):
    """Through the runs/ door, going on past failures: the same failure signatures on each
    of the scenario's protocols; odpor never blocked, and never more executions.  Where the
    budget stops source-DPOR first, odpor must still never block."""
    budget = EVERY_PROTOCOL_BUDGET
    for name, protocol in PROTOCOLS.items():
        dpor = check_protocol(
            protocol, scenario, strategy="dpor", keep_going=True, max_executions=budget
        )
        odpor = check_protocol(
            protocol, scenario, strategy="odpor", keep_going=True, max_executions=budget
        )
        assert odpor.coverage.redundant == 0, name
        assert odpor.coverage.executions == odpor.coverage.traces, name
        if not dpor.coverage.complete:
            assert name in PEERS, f"{name} needs more than {budget} executions on {scenario}"
            continue
        assert odpor.coverage.complete, name
        assert sorted(odpor.tally.counts) == sorted(dpor.tally.counts), name
        if not dpor.tally.counts:  # no failure: both explore every trace, each once
            assert odpor.coverage.traces == dpor.coverage.traces, name


def test_run_check_reports_odpor_coverage():
    res = run_check(CheckSpec(protocol="openbsd-pre", scenario="pageclean-race", strategy="odpor"))
    cov = res.coverage
    assert res.strategy == "odpor" and not res.found
    assert (cov.executions, cov.traces, cov.redundant, cov.complete) == (121, 121, 0, True)


# -- bounds -------------------------------------------------------------------------------------


def test_max_executions_stops_the_search():
    _, result, _ = run_odpor(lastzero(5), max_executions=10)
    cov = result.coverage
    assert (cov.executions, cov.stopped_by, cov.complete) == (10, "max-executions", False)


def test_preemption_and_depth_bounds_explore_a_subset():
    _, _, every = run_odpor(lastzero(4))
    _, bounded, some = run_odpor(lastzero(4), preemptions=1)
    assert bounded.coverage.pruned > 0
    assert set(some) < set(every)
    assert bounded.bound == {"preemptions": 1, "depth": None}
    _, shallow, few = run_odpor(lastzero(4), depth=3)
    assert shallow.coverage.pruned > 0
    assert set(few) < set(every)


# -- a model that does not replay as recorded -------------------------------------------------


def test_a_branch_the_model_does_not_replay_is_abandoned_and_reported():
    builds = [0]

    def build():
        builds[0] += 1
        later = "x" if builds[0] <= 2 else "y"  # differs from the third execution on
        c = {name: Cell(name) for name in ("x", "y", "z")}

        def one():
            c["x"].v = 1

        def two():
            c["z"].v = 1
            c[later].v = 2

        return list(c.values()), [one, two]

    strategy, result, _ = run_odpor(build)
    assert strategy.divergences() == 1
    assert not result.coverage.complete
    assert result.notes and "abandoned" in result.notes[0]


def test_a_prefix_the_model_does_not_replay_is_an_error():
    builds = [0]

    def build():
        builds[0] += 1
        a, x, y = cells(3)
        first = x if builds[0] <= 2 else y  # cpu1's write moves to y on the replay

        def one():
            a.v = 1
            x.v = 1

        def two():
            first.v = 2

        return [a, x, y], [one, two]

    # The second execution replays cpu0's first write, then cpu1's write at step 1.
    with pytest.raises(RuntimeError, match=r"odpor replay diverged at step 1: cpu1 posts"):
        run_odpor(build)


def two_readers_and_a_writer():
    """Readers wait while a writer waits (RWLOCK_WRWANT): enabledness no event records."""

    def build():
        (x,) = cells(1)
        lk = RWLock("l")

        def reader():
            rw_enter(lk, RW_READ)
            _ = x.v
            rw_exit(lk)

        def writer():
            rw_enter(lk, RW_WRITE)
            x.v = 1
            rw_exit(lk)

        return [x], [reader, reader, writer]

    return build


def test_a_reader_blocked_by_a_waiting_writer_is_reported_not_followed():
    strategy, result, traces = run_odpor(two_readers_and_a_writer())
    assert strategy.divergences() > 0
    assert not result.coverage.complete and result.notes
    assert len(set(traces)) == len(traces)  # what it did explore is still one of each


# -- wakeup trees ---------------------------------------------------------------------------


W_X = ("write", "x", "v")
R_X = ("read", "x", "v")
W_Y = ("write", "y", "v")


def branches(nodes: list[WakeupNode], prefix=()) -> list[tuple]:
    """The leaves of a wakeup tree, as (cpu, key) sequences, in order."""
    out = []
    for n in nodes:
        seq = (*prefix, (n.cpu, n.key))
        out.extend(branches(n.children, seq) if n.children else [seq])
    return out


def test_insertion_adds_a_sequence_once_up_to_equivalence():
    x = Odpor()
    wut: list[WakeupNode] = []
    assert x.insert(wut, [(1, W_Y), (2, W_X)])
    # The same trace with the independent events swapped: already scheduled.
    assert not x.insert(wut, [(2, W_X), (1, W_Y)])
    assert branches(wut) == [((1, W_Y), (2, W_X))]
    # 3's read before 2's write is another trace: it branches after the common event.
    assert x.insert(wut, [(1, W_Y), (3, R_X), (2, W_X)])
    assert branches(wut) == [((1, W_Y), (2, W_X)), ((1, W_Y), (3, R_X), (2, W_X))]


def test_insertion_follows_weak_initials_into_a_branch():
    x = Odpor()
    wut: list[WakeupNode] = []
    x.insert(wut, [(1, W_Y), (2, R_X)])
    # 1's write commutes with all of it: exploring 1 first loses nothing, so the sequence
    # goes under 1's branch, after 2's read, with which 3's write conflicts.
    assert x.insert(wut, [(3, W_X), (2, R_X)])
    assert branches(wut) == [((1, W_Y), (2, R_X)), ((1, W_Y), (3, W_X), (2, R_X))]
    # A prefix of a scheduled branch: nothing to add.
    assert not x.insert(wut, [(1, W_Y), (3, W_X)])
    assert len(branches(wut)) == 2


def test_weak_initials():
    x = Odpor()
    w = [(1, W_Y), (2, R_X), (3, W_X)]
    assert x.weak_initial(1, W_Y, w)  # first event of w
    assert x.weak_initial(2, R_X, w)  # no earlier event of w it depends on
    assert not x.weak_initial(3, W_X, w)  # after the read of x it conflicts with
    assert x.weak_initial(4, ("read", "z", "v"), w)  # independent of all of w
    assert not x.weak_initial(4, R_X, w)  # not in w, conflicts with 3's write
    assert not x.weak_initial(2, W_Y, w)  # 2's next operation is not the one w records


def test_op_keys_are_what_wakeup_sequences_record():
    assert op_key(("write", Cell("x"), "v", None)) == W_X
