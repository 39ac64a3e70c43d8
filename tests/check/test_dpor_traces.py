"""Source-DPOR explores exactly the Mazurkiewicz traces of every schedule, each once.

Plain DFS runs every schedule, so the set of its executions' traces is every trace of the
program (tests/check/traces.py).  Random small programs mix what makes DPOR's race detection
subtle: mutexes, try-locks, rwlock write holds, sleep and wakeup.  Before the try-lock fix
(issue 14) source-DPOR missed traces on about one program in twelve of these (the smallest,
`trylocks`: 10 traces, 9 explored).
"""

from __future__ import annotations

import pytest

from uvmsim.check.strategies import Dfs, Dpor

from .literature import filesystem, indexer, lastzero
from .programs import PROGRAMS
from .traces import explore_traces, random_program, trylocks


def assert_same_traces_as_dfs(build) -> None:
    res, traces = explore_traces(Dpor(), build)
    assert res.coverage.complete
    assert len(traces) == len(set(traces)) == res.coverage.traces  # each trace once
    _, every = explore_traces(Dfs(), build)
    assert set(traces) == set(every)


def test_trylocks_has_ten_traces_and_dpor_explores_them_all():
    _, every = explore_traces(Dfs(), trylocks())
    assert len(set(every)) == 10
    assert_same_traces_as_dfs(trylocks())


@pytest.mark.parametrize("seed", range(120))
def test_random_programs_of_three_cpus(seed):
    assert_same_traces_as_dfs(random_program(seed))


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_with_a_longer_first_cpu(seed):
    assert_same_traces_as_dfs(random_program(seed, cpus=3, first_ops=3))


@pytest.mark.parametrize("seed", range(20))
def test_random_programs_of_two_cpus_with_four_operations_each(seed):
    assert_same_traces_as_dfs(random_program(1000 + seed, cpus=2, first_ops=4))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_known_programs(name):
    assert_same_traces_as_dfs(PROGRAMS[name])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_lastzero_trace_count_and_blocked_executions(n):
    """lastzero(n) has (n+3)·2^(n-2) traces; source-DPOR needs blocked executions from n = 4
    (Abdulla et al. 2014's point, which optimal DPOR answers)."""
    res, traces = explore_traces(Dpor(), lastzero(n))
    assert res.coverage.traces == len(set(traces)) == (n + 3) * 2**n // 4
    assert (res.coverage.redundant > 0) == (n >= 4)


@pytest.mark.parametrize(("build", "expected"), [(indexer(12), 8), (filesystem(14), 2)])
def test_indexer_and_filesystem_are_one_execution_per_trace(build, expected):
    res, _ = explore_traces(Dpor(), build)
    cov = res.coverage
    assert (cov.executions, cov.traces, cov.redundant) == (expected, expected, 0)
