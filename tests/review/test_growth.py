"""How far a "holds" reaches (issue 14): the review prints the largest exhaustively verified
size of the scenarios behind it, from the recorded growth results, and says so honestly when
there are none; the recorded results are what the checker explores today."""

import pytest

from uvmsim.check.strategies import Dpor
from uvmsim.check.strategy import explore
from uvmsim.protocols import PROTOCOLS
from uvmsim.review import growth
from uvmsim.review.questions import QUESTIONS, Bounds, Context
from uvmsim.runs.names import get_protocol, get_scenario
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios import SCENARIOS

SMALL = Bounds(max_executions=1500, sample_executions=10)


def _run(axis, sizes, status="complete", failures=None, scenario="wired-counter"):
    return {
        "scenario": scenario,
        "protocol": "seed",
        "axis": axis,
        "sizes": {"pages": 12, **sizes},
        "status": status,
        "failures": failures or {},
    }


DOC = {
    "protocols": ["seed"],
    "runs": [
        _run(None, {"cpus": 3, "ops": 1}),
        _run("cpus", {"cpus": 4, "ops": 1}),
        _run("cpus", {"cpus": 5, "ops": 1}),
        _run("cpus", {"cpus": 6, "ops": 1}, status="stopped"),
        _run("ops", {"cpus": 3, "ops": 2}),
        _run("ops", {"cpus": 3, "ops": 3}, failures={"invariant": 4}),
        _run(None, {"cpus": 2}, status="stopped", scenario="flush-vs-fault"),
    ],
}


def test_the_largest_complete_shapes_per_direction_and_the_failures_met(monkeypatch):
    monkeypatch.setattr(growth, "load", lambda: DOC)
    assert growth.reach("seed", ("wired-counter", "flush-vs-fault", "fault-ahead")) == (
        "largest verified size: wired-counter: complete for 5 CPUs x 1 operation and "
        "3 CPUs x 3 operations; not explored beyond (failures met in those runs: invariant); "
        "flush-vs-fault: not complete at any recorded size; fault-ahead: no growth results "
        "recorded"
    )


def test_a_protocol_without_growth_results_says_so(monkeypatch):
    monkeypatch.setattr(growth, "load", lambda: DOC)
    assert growth.reach("seed-fixed", ("wired-counter",)) == (
        "largest verified size: no growth results recorded for seed-fixed (recorded: seed; "
        "benchmarks/checker.py --growth), so only the original shapes are known to hold"
    )
    monkeypatch.setattr(growth, "load", lambda: None)
    assert "no growth results recorded for seed (recorded: none;" in growth.reach(
        "seed", ("wired-counter",)
    )


def _ask(qid, protocol):
    ctx = Context(PROTOCOLS[protocol], protocol, PROTOCOLS["openbsd-pre"], SMALL)
    return QUESTIONS[qid](ctx)


def test_review_prints_the_reach_beside_a_holds_verdict():
    v = _ask("R3", "seed")
    assert v.verdict == "holds", v.summary
    assert v.summary.endswith("; " + growth.reach("seed", ("wired-counter",)))
    assert "largest verified size: wired-counter: complete for " in v.summary
    v = _ask("R3", "seed-no-dequeue-first")
    assert v.verdict == "holds", v.summary
    assert v.summary.endswith(
        "largest verified size: no growth results recorded for seed-no-dequeue-first (recorded: "
        "seed, seed-fixed, openbsd-pre; benchmarks/checker.py --growth), so only the original "
        "shapes are known to hold"
    )


def test_every_kernel_scenario_has_recorded_growth_on_the_three_protocols():
    doc = growth.load()
    assert doc is not None and doc["protocols"] == ["seed", "seed-fixed", "openbsd-pre"]
    originals = {(r["scenario"], r["protocol"]) for r in doc["runs"] if r["axis"] is None}
    kernel = {n for n, sc in SCENARIOS.items() if not sc.apparatus}
    assert originals == {(n, p) for n in kernel for p in doc["protocols"]}
    for r in doc["runs"]:
        assert r["status"] in ("complete", "stopped", "not run"), r
        if r["status"] == "stopped":  # a run that did not finish is never shown as complete
            assert r["cpu_seconds"] >= doc["per_run_seconds"], r


def _cheap_complete_runs():
    doc = growth.load() or {"runs": []}
    return [
        r for r in doc["runs"] if r["status"] == "complete" and r["cpu_seconds"] < 0.3 and r["axis"]
    ]


@pytest.mark.parametrize(
    "run", _cheap_complete_runs(), ids=lambda r: f"{r['scenario']}-{r['protocol']}-{r['axis']}"
)
def test_recorded_growth_runs_are_what_the_checker_explores_now(run):
    takes = SCENARIOS[run["scenario"]].accepted()
    sizes = {k: v for k, v in run["sizes"].items() if k in takes}
    target = ScenarioTarget(get_scenario(run["scenario"], sizes), get_protocol(run["protocol"]))
    res = explore(target, Dpor(), keep_going=True)
    assert res.coverage.complete
    assert (res.coverage.traces, res.coverage.executions) == (run["traces"], run["executions"])
