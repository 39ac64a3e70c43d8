"""Sweep specs: every bad input is one line naming the field; expansion is exact and stable."""

import pytest

from uvmsim.machine.failure import InputError
from uvmsim.sweep.spec import parse_spec

SIM = """
name = "t"
[[simulate]]
protocols = ["openbsd-pre", "seed"]
workloads = ["build"]
cpus = [2, 4]
seeds = "0..2"
ops = 100
"""

EXPLORE = """
[[explore]]
protocols = ["seed"]
scenarios = ["pageclean-race", "wired-counter"]
strategies = ["random", "pct"]
seeds = "10..34"
per_run = 10
"""


def test_simulation_grid_expands_to_the_cross_product():
    spec = parse_spec(SIM)
    assert spec.name == "t"
    assert len(spec.runs) == 2 * 2 * 3
    assert {(r.protocol, r.cpus, r.seed) for r in spec.runs} == {
        (p, n, s) for p in ("openbsd-pre", "seed") for n in (2, 4) for s in (0, 1, 2)
    }
    assert len({r.key for r in spec.runs}) == len(spec.runs)


def test_campaign_chunks_cover_the_seed_range_exactly_once():
    spec = parse_spec(EXPLORE)
    per_target = {}
    for r in spec.runs:
        per_target.setdefault((r.target, r.strategy), []).append((r.seed, r.seed_last))
    assert len(per_target) == 4
    for chunks in per_target.values():
        assert chunks == [(10, 19), (20, 29), (30, 34)]


def test_executions_budget_is_the_same_as_the_equivalent_seed_range():
    by_range = parse_spec(EXPLORE)
    by_budget = parse_spec(EXPLORE.replace('seeds = "10..34"', "seed = 10\nexecutions = 25"))
    assert [r.key for r in by_range.runs] == [r.key for r in by_budget.runs]


def test_keys_are_stable_and_depend_on_every_input():
    a = parse_spec(SIM).runs
    assert [r.key for r in a] == [r.key for r in parse_spec(SIM).runs]
    b = parse_spec(SIM.replace("ops = 100", "ops = 101")).runs
    assert not {r.key for r in a} & {r.key for r in b}


def test_duplicate_runs_from_two_tables_are_one_run():
    spec = parse_spec(SIM + SIM.replace('name = "t"', ""))
    assert len(spec.runs) == 12


def test_all_scenarios_and_exhaustive_strategies():
    spec = parse_spec(
        '[[explore]]\nprotocols = ["seed"]\nscenarios = ["all"]\nstrategies = ["dpor"]\n'
        "executions = 100\n"
    )
    from uvmsim.scenarios import SCENARIOS

    assert sorted(r.target for r in spec.runs) == sorted(SCENARIOS)
    assert all(r.seed_last is None and r.param["max_executions"] == 100 for r in spec.runs)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('"seed"]', '"nosuch"]'), "spec: simulate[1].protocols: protocol 'nosuch' is unknown"),
        (('"0..2"', '"5..2"'), "spec: simulate[1].seeds: expected a range 'A..B' with 0 <= A <= B"),
        (('"0..2"', '"zero"'), "spec: simulate[1].seeds: expected a range"),
        (("cpus = [2, 4]\n", ""), "spec: simulate[1].cpus: missing"),
        (("cpus = [2, 4]", "cpus = [0]"), "spec: simulate[1].cpus: expected CPU counts"),
        (("ops = 100", "ops = -1"), "spec: simulate[1].ops: must be >= 1, got -1"),
        (("ops = 100", "opz = 100"), "spec: simulate[1].opz: unknown field; accepted: protocols"),
        (('["build"]', '["bild"]'), "spec: simulate[1].workloads: workload 'bild' is unknown"),
        (("ops = 100", "ops = 100\noptions = { nope = 1 }"), "simulate[1].options: workload build"),
        (("ops = 100", 'ops = 100\ndiscipline = "lifo"'), "simulate[1].discipline: expected one"),
        (('name = "t"', 'nmae = "t"'), "spec: unknown top-level key 'nmae'"),
        (("[[simulate]]", "[[simulate]"), "spec: not valid TOML"),
    ],
)
def test_bad_simulation_specs(edit, message):
    with pytest.raises(InputError) as exc:
        parse_spec(SIM.replace(*edit))
    assert message in str(exc.value), str(exc.value)
    assert str(exc.value).startswith("spec: ")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('"wired-counter"]', '"nosuch"]'), "explore[1].scenarios: scenario 'nosuch' is unknown"),
        (('"pct"]', '"fuzz"]'), "explore[1].strategies: strategy 'fuzz' is unknown; accepted"),
        (('seeds = "10..34"\n', ""), "explore[1].seeds: missing: random, pct need seeds"),
        (("per_run = 10", "per_run = 0"), "explore[1].per_run: must be >= 1, got 0"),
        (("per_run = 10", "per_run = 10\npct_depth = 11"), "explore[1].pct_depth: must be between"),
        (("per_run = 10", "per_run = 10\nexecutions = 5"), "explore[1].seeds: random/pct take"),
        (("per_run = 10", "per_run = 10\nminimize = 1"), "explore[1].minimize: expected true"),
    ],
)
def test_bad_campaign_specs(edit, message):
    with pytest.raises(InputError) as exc:
        parse_spec(EXPLORE.replace(*edit))
    assert message in str(exc.value), str(exc.value)


def test_empty_spec_is_an_error():
    with pytest.raises(InputError, match="no runs"):
        parse_spec('name = "x"\n')
