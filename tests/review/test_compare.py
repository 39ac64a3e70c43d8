"""`uvmsim compare`: checker outcomes against the catalog, the build's figures, bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.review.compare import ScenarioOutcome, run_compare
from uvmsim.review.compare_render import render_text, to_json
from uvmsim.review.verdict import Bounds
from uvmsim.runs.check import replay

SMALL = Bounds(
    max_executions=300,
    campaign_executions=40,
    sim_seeds=(1,),
    band_cpus=(8,),
    build_waves=1,
    build_pages=8,
)


@pytest.fixture(scope="module")
def small():
    return run_compare(["seed", "seed-fixed"], (4, 8), bounds=SMALL)


def test_checker_outcomes_follow_the_catalog_and_f1_replays(small):
    seed, fixed = small.protocols
    out = {s.scenario: s for s in seed.scenarios}
    assert out["pageclean-race"].failures[0] == "F1"
    assert out["swpgonly-released"].failures == ["F2"]
    assert all(s.agrees is not False for s in seed.scenarios + fixed.scenarios)
    # seed-fixed removes F1 only: F2 and F3 are older than the diff
    failing = {s.scenario for s in fixed.scenarios if s.failures}
    assert failing == {"swpgonly-released", "swapin-waiter"}
    findings = sorted(cx.finding or "" for cx in seed.counterexamples)
    assert findings == ["F1", "F2", "F3"]
    f1 = next(cx for cx in seed.counterexamples if cx.finding == "F1")
    _spec, _res, _ex, same = replay(f1.token)
    assert same


def test_build_figures(small):
    seed, fixed = small.protocols
    # pageq lock acquisitions per 1,000 faults of the kernel build, and the band at 8 CPUs
    assert [round(p.lru_acquisitions) for p in seed.build] == [1556, 1778]
    assert [round(p.lru_acquisitions) for p in fixed.build] == [1556, 1778]
    # the whole kernel build's real time at the measured rate; no contention at 4 and 8 CPUs,
    # so the diff gains nothing there
    assert [round(p.real_s, 1) for p in seed.build] == [333.2, 153.8]
    assert [p.gain for p in seed.build] == [0.0, 0.0]
    assert seed.build[0].band is None and seed.build[1].band is not None
    lo, hi = seed.build[1].band
    assert lo <= seed.build[1].gain <= hi
    assert small.control["flipped"]


def test_text_and_json_are_deterministic(small):
    again = run_compare(["seed", "seed-fixed"], (4, 8), bounds=SMALL, checks=False)
    a = to_json(small)
    b = to_json(again)
    assert [p["build"] for p in a["protocols"]] == [p["build"] for p in b["protocols"]]
    text = render_text(small)
    assert "pageclean-race" in text and "FAILS F1" in text and "uvm1." in text
    assert "control: openbsd-pre~nocache" in text and "flips" in text


@pytest.mark.parametrize(
    ("expected", "failures", "agrees"),
    [
        ("holds", [], True),
        ("holds", ["F1"], False),
        ("finding", ["F1"], True),
        ("finding", [], False),
        ("recursion", ["recursion|panic: mtx pageqlock: locking against myself"], True),
        ("recursion", ["F1"], False),
        (None, ["F1"], None),
    ],
)
def test_agreement_with_the_catalog(expected, failures, agrees):
    assert ScenarioOutcome("x", expected, 1, True, 1, failures).agrees is agrees


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--cpus", "0,4"], "--cpus"),
        (["--cpus", "4,x"], "--cpus"),
        (["--cpus", "4,4"], "--cpus"),
        (["--protocol", "seed,nope"], "nope"),
        (["--protocol", "seed,seed"], "twice"),
        (["--protocol", ","], "--protocol"),
        (["--plot", "out.txt"], "--plot"),
        (["--baseline", "nope"], "nope"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path):
    r = CliRunner().invoke(main, ["compare", "--no-check", *args])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0]


def test_cli_json_and_plot(tmp_path):
    png = tmp_path / "c.png"
    r = CliRunner().invoke(
        main,
        [
            "compare",
            "--protocol",
            "seed",
            "--cpus",
            "2",
            "--no-check",
            "--json",
            "--plot",
            str(png),
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["cpus"] == [2] and doc["protocols"][0]["protocol"] == "seed"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_intent_queues_defer_rather_than_remove_lru_work():
    cmp = run_compare(["seed", "netbsd-intent"], (4,), bounds=SMALL, checks=False)
    seed, intents = (pr.build[0] for pr in cmp.protocols)
    assert seed.deferred == 0 and round(seed.lru_acquisitions) == 1556
    # NetBSD's 128-entry queues never fill in this world: no pdpolicy lock taken, the
    # queue operations wait in the queues
    assert round(intents.lru_acquisitions) == 0
    assert round(intents.deferred) == 1278


def test_exhaustive_bounds_are_said_as_such():
    from dataclasses import replace

    from uvmsim.review.compare import BuildPoint, Comparison, ProtocolResult

    point = BuildPoint(4, 0.0, 0.0, 0.0, 100.0, 1000.0, 1500.0, 0.0)
    outcome = ScenarioOutcome("s", "holds", 5, True, 3, [])
    pr = ProtocolResult("x", "d", [outcome], [], [point])
    bounds = replace(Bounds(), max_executions=None)
    text = render_text(Comparison("openbsd-pre", (4,), bounds, [pr]))
    assert "DPOR (exhaustive) and PCT (300 executions, depth 2)" in text


def test_an_outcome_names_each_failure_kind_once_with_how_many():
    from uvmsim.review.compare_render import _outcome_cell

    def outcome(failures, expected="fails"):
        return ScenarioOutcome("second-scanner", expected, 6, True, 1, failures)

    four = [f"invariant|marker {i}" for i in range(4)]
    assert _outcome_cell(outcome(four)) == "FAILS invariant (4 distinct)"
    assert _outcome_cell(outcome(["F1", "invariant|x"])) == "FAILS F1, invariant"
    assert _outcome_cell(outcome([], "holds")) == "holds"
    assert _outcome_cell(outcome(["F3"], "holds")) == ("FAILS F3 (UNEXPECTED: catalog says holds)")
