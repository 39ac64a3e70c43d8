"""Scenarios that grow (issue 14): defaults are the original shapes, bounds are checked with one
line naming the size, grown runs have pinned trace counts, and tokens replay at their size."""

import json

import pytest
from click.testing import CliRunner

from tests.golden.record import _decoded_token
from uvmsim.check import token as tok
from uvmsim.cli import main
from uvmsim.machine.failure import InputError
from uvmsim.runs.check import CheckSpec, counterexample, replay, run_check
from uvmsim.runs.names import get_scenario
from uvmsim.scenarios import SCENARIOS
from uvmsim.sweep.spec import parse_spec


def test_every_scenario_unsized_is_its_original_shape():
    for name, sc in SCENARIOS.items():
        assert get_scenario(name) is sc
        assert (
            get_scenario(name, {"cpus": sc.cpus} if any(s.name == "cpus" for s in sc.sizes) else {})
            is sc
        )
        assert sc.given() == {}
        assert sc.shape()["cpus"] == sc.cpus and sc.shape()["pages"] == sc.pages


def test_every_kernel_scenario_grows_in_some_direction_besides_pages_or_runs_alone():
    for name, sc in SCENARIOS.items():
        if sc.apparatus:
            continue
        assert sc.sizes or sc.cpus == 1, name  # hibernate-drop: hibernate runs alone


def test_a_grown_scenario_has_its_sizes_and_more_pages():
    sc = get_scenario("pageclean-race", {"cpus": 5, "passes": 2})
    assert (sc.cpus, sc.pages) == (5, 12 + 2 * 4)
    assert sc.given() == {"cpus": 5, "passes": 2, "pages": 20}
    assert sc.label() == "pageclean-race (cpus=5, passes=2, pages=20)"
    assert get_scenario("wired-counter", {"ops": 2}).pages == 12 + 3 * 4


@pytest.mark.parametrize(
    "args, words",
    [
        (["--cpus", "9"], "scenario pageclean-race: --cpus must be between 3 and 8, got 9"),
        (["--cpus", "2"], "scenario pageclean-race: --cpus must be between 3 and 8, got 2"),
        (["--passes", "0"], "--passes must be between 1 and 4, got 0"),
        (
            ["--ops", "2"],
            "scenario pageclean-race: --ops is not one of its sizes; accepted: --cpus 3..8, "
            "--passes 1..4, --pages 12..256",
        ),
        (["--cpus", "4", "--pages", "12"], "--pages must be between 16 and 256 for this shape"),
    ],
)
def test_bad_sizes_are_one_line_naming_the_size_exit_2_nothing_written(tmp_path, args, words):
    ckpt = tmp_path / "ck.json"
    r = CliRunner().invoke(
        main,
        ["check", "-p", "seed", "-s", "pageclean-race", *args, "--checkpoint", str(ckpt)],
    )
    assert r.exit_code == 2
    assert words in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_hibernate_runs_alone_and_says_so():
    with pytest.raises(InputError, match="--cpus is not one of its sizes; accepted: --pages"):
        get_scenario("hibernate-drop", {"cpus": 2})


# Pinned figures of grown scenarios (dpor, every analysis on): a change in what a size adds,
# or in the exploration, shows here.
@pytest.mark.parametrize(
    "scenario, protocol, sizes, executions, traces",
    [
        ("pdaemon-released", "seed-fixed", {"cpus": 3}, 80, 79),
        ("again-cluster", "seed-fixed", {"cpus": 3}, 111, 111),
        ("fault-ahead", "seed-fixed", {"passes": 2}, 357, 357),
        ("aobj-swapin", "openbsd-pre", {"cpus": 3}, 102, 102),
    ],
)
def test_grown_trace_counts(scenario, protocol, sizes, executions, traces):
    res = run_check(CheckSpec(protocol=protocol, scenario=scenario, sizes=tuple(sizes.items())))
    assert res.failure is None and res.coverage.complete
    assert (res.coverage.executions, res.coverage.traces) == (executions, traces)
    assert {k: res.target[k] for k in sizes} == sizes


def test_a_size_asks_for_its_own_pages_per_step():
    """bufcache-flip's extra CPUs are faulting threads, each of which refills a magazine of
    UVM_PMR_CACHEMAGSZ pages on its first fault: 8 pages per CPU, not 4.  At 4 CPUs the
    4-page growth (20 pages) ran the free lists dry and a fault failed with ENOMEM, a model
    error growth.json had recorded; at 28 pages the check completes and holds."""
    sc = get_scenario("bufcache-flip", {"cpus": 4})
    assert sc.pages == 12 + 2 * 8
    assert get_scenario("bufcache-flip", {"ops": 2}).pages == 12 + 1 * 2 * 4  # ops: 4 each
    res = run_check(CheckSpec(protocol="seed", scenario="bufcache-flip", sizes=(("cpus", 4),)))
    assert res.failure is None and res.coverage.complete
    assert (res.coverage.executions, res.coverage.traces) == (264, 264)


def test_odpor_agrees_on_a_grown_scenario():
    spec = CheckSpec(protocol="seed-fixed", scenario="pdaemon-released", sizes=(("cpus", 3),))
    res = run_check(CheckSpec(**{**spec.__dict__, "strategy": "odpor"}))
    assert res.coverage.complete
    assert res.coverage.traces == res.coverage.executions == 79


def test_a_counterexample_at_a_grown_size_replays_from_its_token():
    # F2 (swpgonly-released) with a third CPU: another process exiting meanwhile
    spec = CheckSpec(protocol="seed-fixed", scenario="swpgonly-released", sizes=(("cpus", 3),))
    res = run_check(spec)
    assert res.failure is not None
    cx = counterexample(spec, res)
    doc = tok.decode(cx.token)
    assert doc["sizes"] == {"cpus": 3, "pages": 16}
    again, rerun, _ex, same = replay(cx.token)
    assert same and rerun.failure is not None
    assert dict(again.sizes) == {"cpus": 3, "pages": 16}
    assert rerun.target["cpus"] == 3
    # a token of the original shape carries no sizes: tokens made before sizes still replay
    orig = CheckSpec(protocol="seed-fixed", scenario="swpgonly-released")
    token = counterexample(orig, run_check(orig)).token
    assert "sizes" not in _decoded_token(token) and tok.decode(token)["sizes"] == {}


def test_a_token_with_bad_sizes_is_refused_naming_the_field():
    spec = CheckSpec(protocol="seed-fixed", scenario="swpgonly-released", sizes=(("cpus", 3),))
    cx = counterexample(spec, run_check(spec))
    doc = tok.decode(cx.token)
    from uvmsim.protocols import PROTOCOLS

    bad = tok.encode(
        protocol=PROTOCOLS["seed-fixed"],
        protocol_spec="seed-fixed",
        scenario="swpgonly-released",
        sizes={"cpus": 99},
        analyses={},
        max_steps=doc["max_steps"],
        schedule_covered=True,
        schedule=doc["schedule"],
        failure=None,
    )
    with pytest.raises(InputError, match=r"replay token: scenario swpgonly-released: --cpus"):
        replay(bad)


SWEEP = """
[[explore]]
protocols = ["seed-fixed"]
scenarios = ["pdaemon-released", "again-cluster"]
strategies = ["dpor"]
{extra}
"""


def test_sweep_specs_take_the_same_size_names():
    plain = parse_spec(SWEEP.format(extra=""))
    grown = parse_spec(SWEEP.format(extra="cpus = [2, 3]\npasses = 2"))
    assert len(plain.runs) == 2 and len(grown.runs) == 4
    assert [r.sizes for r in grown.runs] == [
        {"cpus": 2, "passes": 2},
        {"cpus": 3, "passes": 2},
    ] * 2
    # the original shape's run keeps its key: stores written before sizes existed still match
    assert "sizes" not in plain.runs[0].param
    assert {r.key for r in plain.runs}.isdisjoint(r.key for r in grown.runs)
    assert "cpus=3 passes=2" in grown.runs[1].label()


@pytest.mark.parametrize(
    "extra, words",
    [
        ("cpus = 9", "explore[1].cpus: scenario pdaemon-released: --cpus must be between 2 and 8"),
        ("ops = 2", "explore[1].ops: scenario pdaemon-released: --ops is not one of its sizes"),
        ("passes = [1, 1]", "explore[1].passes: lists a value twice"),
        ('cpus = "3"', "explore[1].cpus: expected an integer 1..256 or a list of them"),
    ],
)
def test_sweep_size_errors_name_the_table_and_field(extra, words):
    with pytest.raises(InputError) as e:
        parse_spec(SWEEP.format(extra=extra), "s.toml")
    assert words in str(e.value)
    assert "\n" not in str(e.value)


def test_a_sweep_run_of_a_grown_scenario_stores_its_figures():
    from uvmsim.sweep.runs import execute_run

    run = parse_spec(SWEEP.format(extra="cpus = 3")).runs[0]
    row = execute_run(run)
    assert json.loads(json.dumps(row["metrics"]))["traces"] == 79
