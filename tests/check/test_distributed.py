"""Exhaustive DPOR split into subtrees (runs/distributed.py, strategies/split.py): the union
explored is the sequential exploration's, trace for trace, failure for failure.

In-process runs with slices of a few executions split small programs into many subtrees
(every state of an interrupted subtree becomes shared, every alternative a branch of its
own), so the shared-state rules are exercised far more than a real run does; then a Dask
`LocalCluster` runs UVM scenarios through `run_check` and the CLI.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from uvmsim.check.strategies import Dpor, Odpor
from uvmsim.check.strategy import Options, explore
from uvmsim.check.target import ProgramTarget
from uvmsim.cli import main
from uvmsim.machine import Analyses
from uvmsim.machine.failure import InputError
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import CheckSpec, check_protocol, make_target, run_check
from uvmsim.runs.distributed import TargetMaker, explore_split
from uvmsim.runs.executors import DaskCluster, InProcess

from .literature import filesystem, indexer, lastzero
from .programs import PROGRAMS
from .traces import NO_RACES, Recording, random_program, trace_of, trylocks

STRATEGIES = {"dpor": Dpor, "odpor": Odpor}
SEEN: dict[tuple, list] = {}


def build_of(kind: str, arg: int):
    if kind == "random":
        return random_program(arg)
    if kind == "random4":
        return random_program(arg, cpus=4, first_ops=2)
    if kind == "lastzero":
        return lastzero(arg)
    if kind == "filesystem":
        return filesystem(arg)
    if kind == "indexer":
        return indexer(arg)
    if kind == "trylocks":
        return trylocks()
    return PROGRAMS[kind]


def recording_target(kind: str, arg: int, tag: tuple) -> ProgramTarget:
    """A program target that adds the trace of each complete execution to SEEN[tag]."""
    target = ProgramTarget(build_of(kind, arg), analyses=NO_RACES)
    run = target.execute
    seen = SEEN.setdefault(tag, [])

    def execute(engine, **kw):
        log: list = []
        r = run(Recording(engine, log), **kw)
        if not r.stopped:
            seen.append(trace_of(log))
        return r

    target.execute = execute
    return target


CASES = [
    *[("random", s) for s in range(30)],
    *[("random4", s) for s in range(12)],
    ("lastzero", 5),
    ("filesystem", 16),
    ("indexer", 13),
    ("trylocks", 0),
    *[(name, 0) for name in sorted(PROGRAMS)],
]


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize(("kind", "arg"), CASES)
def test_split_explores_the_sequential_traces(strategy, kind, arg):
    seq_tag = ("seq", strategy, kind, arg)
    seq = explore(recording_target(kind, arg, seq_tag), STRATEGIES[strategy](), keep_going=True)
    for executions, workers in ((1, 2), (3, 5)):
        tag = ("split", strategy, kind, arg, executions, workers)
        res = explore_split(
            TargetMaker(recording_target, (kind, arg, tag)),
            strategy,
            Options(),
            InProcess(),
            workers=workers,
            keep_going=True,
            slice_executions=executions,
        )
        got, want = SEEN.pop(tag), SEEN[seq_tag]
        assert res.coverage.complete
        assert len(got) == len(set(got)) == res.coverage.traces  # each trace once
        assert set(got) == set(want)
        assert sorted(res.tally.counts) == sorted(seq.tally.counts)
    SEEN.pop(seq_tag)


def test_split_runs_really_split():
    res = explore_split(
        TargetMaker(recording_target, ("lastzero", 4, ("count",))),
        "odpor",
        Options(),
        InProcess(),
        workers=2,
        slice_executions=2,
    )
    SEEN.pop(("count",))
    assert res.coverage.traces == 28
    assert "explored in" in res.notes[-1] and "over 2 workers" in res.notes[-1]
    assert int(res.notes[-1].split()[2]) > 10  # slices


def scenario_spec(scenario: str, protocol: str, strategy: str, races: bool) -> CheckSpec:
    analyses = () if races else (("races", False),)
    return CheckSpec(protocol=protocol, scenario=scenario, strategy=strategy, analyses=analyses)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_uvm_scenarios_split_in_process(strategy):
    for scenario, protocol, races in (
        ("pageclean-race", "seed", False),
        ("pdaemon-vs-free", "seed-fixed", True),
        ("wired-counter", "seed", False),
    ):
        spec = scenario_spec(scenario, protocol, strategy, races)
        seq = check_protocol(
            PROTOCOLS[protocol],
            scenario,
            strategy=strategy,
            analyses=Analyses(races=races),
            keep_going=True,
        )
        res = explore_split(
            TargetMaker(make_target, (spec,)),
            strategy,
            Options(),
            InProcess(),
            workers=3,
            keep_going=True,
            slice_executions=7,
        )
        assert res.coverage.complete
        assert sorted(res.tally.counts) == sorted(seq.tally.counts)
        if not seq.tally.counts:  # past a failure the executions cut short depend on order
            assert res.coverage.traces == seq.coverage.traces


def test_strategies_that_do_not_split_are_refused():
    with pytest.raises(InputError, match="runs in one process"):
        CheckSpec(protocol="seed", scenario="fault-vs-free", strategy="bounded", jobs=2).validate()
    with pytest.raises(InputError, match="not both"):
        CheckSpec(protocol="seed", scenario="fault-vs-free", jobs=2, cluster="tcp://x").validate()


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as c:
        yield c.scheduler_address


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_local_cluster_explores_the_sequential_traces_and_failures(cluster, strategy):
    """Through a real Dask cluster: the same traces (flush-vs-fault, where nothing fails) and
    the same failures going on past them (pageclean-race with the race detector on; there the
    executions cut short by a failure, hence the trace count, depend on the order)."""
    res = run_check(
        CheckSpec(
            protocol="seed-fixed", scenario="flush-vs-fault", strategy=strategy, cluster=cluster
        )
    )
    seq = run_check(CheckSpec(protocol="seed-fixed", scenario="flush-vs-fault", strategy=strategy))
    assert res.coverage.complete and seq.coverage.complete
    assert res.coverage.traces == seq.coverage.traces == 709
    assert res.failure is None and "over 2 workers" in res.notes[-1]
    spec = scenario_spec("pageclean-race", "seed", strategy, True)
    executor = DaskCluster(cluster)
    try:
        split = explore_split(
            TargetMaker(make_target, (spec,)),
            strategy,
            Options(),
            executor,
            keep_going=True,
            slice_executions=5,
        )
    finally:
        executor.close()
    alone = check_protocol(PROTOCOLS["seed"], "pageclean-race", strategy=strategy, keep_going=True)
    assert split.coverage.complete
    assert sorted(split.tally.counts) == sorted(alone.tally.counts)
    assert len(split.tally.counts) == 2  # the two orders of the pg6.uobject race


def test_check_cli_on_a_cluster(cluster):
    r = CliRunner().invoke(
        main,
        [
            "check",
            "-p",
            "seed-fixed",
            "-s",
            "pageclean-race",
            "--strategy",
            "odpor",
            "--cluster",
            cluster,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert (doc["coverage"]["traces"], doc["coverage"]["complete"]) == (260, True)
    r = CliRunner().invoke(main, ["check", "-p", "seed", "-s", "pageclean-race", "-j", "2"])
    assert r.exit_code == 1
    assert "explored in" in r.output


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_slice_asked_to_stop_hands_back_the_rest(strategy):
    """Work stealing: once `stop_when` says so, the slice stops after its execution and
    hands back its unfinished subtree; the coordinator finishes it with the same traces."""
    from uvmsim.check.strategies.split import Branch, Frontier

    from .literature import program_target

    s = STRATEGIES[strategy](branches=[Branch(())])
    asked = iter(range(100))
    s.stop_when = lambda: next(asked) >= 2
    res = explore(program_target("lastzero", 4), s)
    assert res.coverage.executions == 3 and not res.coverage.complete
    back = s.handback()
    assert back.nodes and not back.branches
    frontier = Frontier(STRATEGIES[strategy]())
    frontier.ready.clear()
    frontier.add(back)
    traces = res.coverage.traces
    while frontier:
        rest = STRATEGIES[strategy](branches=frontier.take(1))
        traces += explore(program_target("lastzero", 4), rest).coverage.traces
        frontier.add(rest.handback())
    assert traces == 28


def test_local_processes_steal_work_and_explore_the_sequential_traces():
    from uvmsim.runs.executors import LocalPool

    from .literature import program_target

    pool = LocalPool(2)
    try:
        res = explore_split(TargetMaker(program_target, ("lastzero", 7)), "dpor", Options(), pool)
    finally:
        pool.close()
    alone = explore(program_target("lastzero", 7), Dpor())
    assert res.coverage.complete
    assert res.coverage.traces == alone.coverage.traces == 320


# -- checkpoints ------------------------------------------------------------------------------


def checkpointed(tmp_path, **kw) -> CheckSpec:
    return CheckSpec(
        protocol="seed-fixed",
        scenario="flush-vs-fault",
        checkpoint=str(tmp_path / "run.json"),
        **kw,
    )


def test_a_run_stopped_by_its_budget_resumes_from_its_checkpoint(tmp_path):
    first = run_check(checkpointed(tmp_path, max_executions=150))
    assert first.coverage.executions == 150 and not first.coverage.complete
    assert (tmp_path / "run.json").exists()
    assert any("run the same command again" in n for n in first.notes)
    again = run_check(checkpointed(tmp_path, max_executions=400, jobs=2))
    assert again.coverage.executions == 400 and not again.coverage.complete
    rest = run_check(checkpointed(tmp_path))
    assert rest.coverage.complete
    assert (rest.coverage.executions, rest.coverage.traces) == (709, 709)  # as in one go
    assert not (tmp_path / "run.json").exists()


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    spec = checkpointed(tmp_path, strategy="odpor")
    seen = []

    def interrupt(cov):
        seen.append(cov.executions)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        explore_split(
            TargetMaker(make_target, (spec,)),
            "odpor",
            Options(),
            InProcess(),
            slice_executions=40,
            progress=interrupt,
            checkpoint=spec.checkpoint,
            identity={"check": "flush-vs-fault odpor"},
        )
    assert (tmp_path / "run.json").exists()
    rest = explore_split(
        TargetMaker(make_target, (spec,)),
        "odpor",
        Options(),
        InProcess(),
        checkpoint=spec.checkpoint,
        identity={"check": "flush-vs-fault odpor"},
    )
    assert rest.coverage.complete and rest.coverage.traces == 709
    assert rest.coverage.executions == 709  # nothing lost, nothing explored twice
    assert not (tmp_path / "run.json").exists()


def test_a_checkpoint_of_another_check_or_no_checkpoint_is_refused(tmp_path):
    run_check(checkpointed(tmp_path, max_executions=20))
    with pytest.raises(InputError, match="checkpoint of another check"):
        run_check(checkpointed(tmp_path, strategy="odpor"))
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot read it"):
        run_check(checkpointed(tmp_path))
    with pytest.raises(InputError, match="does not keep one"):
        run_check(checkpointed(tmp_path, strategy="bounded"))
