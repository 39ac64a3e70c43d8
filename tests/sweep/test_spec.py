"""Sweep specs: every bad input is one line naming the field; expansion is exact and stable."""

import time

import pytest

from uvmsim.machine.failure import InputError
from uvmsim.scenarios import SCENARIOS
from uvmsim.sweep.spec import MAX_RUNS, MAX_SEED_RANGE, parse_spec

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


SITUATIONS = sorted(name for name, sc in SCENARIOS.items() if not sc.apparatus)


def test_all_scenarios_and_exhaustive_strategies():
    spec = parse_spec(
        '[[explore]]\nprotocols = ["seed"]\nscenarios = ["all"]\nstrategies = ["dpor"]\n'
        "executions = 100\n"
    )
    assert sorted(r.target for r in spec.runs) == SITUATIONS
    assert "control-double-free" in SCENARIOS  # the review's controls are left out
    assert all(r.seed_last is None and r.param["max_executions"] == 100 for r in spec.runs)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('"seed"]', '"nosuch"]'), "spec: simulate[1].protocols: protocol 'nosuch' is unknown"),
        (('"0..2"', '"5..2"'), "spec: simulate[1].seeds: expected a range 'A..B' with 0 <= A <= B"),
        (('"0..2"', '"zero"'), "spec: simulate[1].seeds: expected a range"),
        (("cpus = [2, 4]\n", ""), "spec: simulate[1].cpus: missing"),
        (("cpus = [2, 4]", "cpus = [0]"), "simulate[1].cpus: CPU counts must be integers 1..1024"),
        (("ops = 100", "ops = -1"), "simulate[1].ops: must be between 1 and 1,000,000,000, got -1"),
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
        (("per_run = 10", "per_run = 0"), "explore[1].per_run: must be between 1 and 100,000,000"),
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


# -- bounds: every number has a documented limit, named in the message ----------------------

BASE = '[[simulate]]\nprotocols = ["seed"]\nworkloads = ["build"]\ncpus = [2]\n'
CAMPAIGN = '[[explore]]\nprotocols = ["seed"]\nscenarios = ["all"]\nstrategies = ["random"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + "cycles = nan", "simulate[1].cycles: must be a finite number > 0 and <= 1e+15"),
        (BASE + "cycles = inf", "simulate[1].cycles: must be a finite number > 0 and <= 1e+15"),
        (BASE + "cycles = -inf", "got -inf"),
        (BASE + "cycles = 1e999", "simulate[1].cycles: must be a finite number"),
        (BASE + "options = { think = nan }", "simulate[1].options.think: must be a finite number"),
        (
            BASE + 'options = { think = "inf" }',
            "simulate[1].options: workload build: option think must be a finite",
        ),
        (BASE + "options = { kernel_other = inf }", "options.kernel_other: must be a finite"),
        (BASE.replace("[2]", "[2, 1025]"), "simulate[1].cpus: CPU counts must be integers 1..1024"),
        (BASE + "ops = 1000000001", "simulate[1].ops: must be between 1 and 1,000,000,000"),
        (
            BASE + 'seeds = "0..999999999999"',
            "has 1,000,000,000,000 seeds; accepted: at most 100,0",
        ),
        (
            BASE + 'seeds = "0..' + "9" * 5000 + '"',
            "a seed must be at most 9,223,372,036,854,775,807",
        ),
        (
            BASE + "seeds = [9223372036854775808]",
            "expected a list of integers 0..9,223,372,036,854",
        ),
        (
            BASE.replace("[2]", "[1, 2, 3, 4, 5, 6, 7, 8]") + 'seeds = "0..19999"',
            "simulate[1]: 160,000 runs (1 protocols x 1 workloads x 8 CPU counts x 20,000 seeds) "
            "make the spec 160,000 runs; accepted: at most 100,000 runs per spec",
        ),
        (CAMPAIGN + 'seeds = "0..999999999999"', "accepted: at most 100,000,000 executions"),
        (CAMPAIGN + "executions = 100000001", "explore[1].executions: must be between 1 and 100,0"),
        (
            CAMPAIGN + 'seeds = "0..9999999"\nper_run = 1',
            f"explore[1]: {10_000_000 * len(SITUATIONS):,} runs",
        ),
        (CAMPAIGN + "executions = 10\nseed = 9223372036854775807", "explore[1].seed: must be betw"),
        (CAMPAIGN + 'seeds = "0..9"\nmax_steps = 100000000', "max_steps: must be between 1 and"),
        (
            CAMPAIGN + 'seeds = "0..9"\npreemptions = 1001',
            "preemptions: must be between 0 and 1,000",
        ),
        ('name = "a\\nb"\n' + BASE, "name: expected a one-line string of 1..200 printable"),
        ('name = "' + "x" * 201 + '"\n' + BASE, "name: expected a one-line string of 1..200"),
        (
            "x = " + "[" * 5000 + "]" * 5000,
            "spec: not valid TOML: arrays or tables nested too deeply",
        ),
        ("x = " + "9" * 5000, "spec: not valid TOML: Exceeds the limit"),
        (
            BASE.replace('["build"]', "[[1]]"),
            "simulate[1].workloads: expected list of workload names",
        ),
        (
            CAMPAIGN.replace('["all"]', "[{ a = 1 }]") + "executions = 5",
            "explore[1].scenarios: expe",
        ),
    ],
)
def test_out_of_bounds_values_are_refused_at_once(text, message):
    t0 = time.monotonic()
    with pytest.raises(InputError) as exc:
        parse_spec(text)
    assert time.monotonic() - t0 < 1.0  # never expanded, never a hang
    assert message in str(exc.value), str(exc.value)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 400


def test_limits_themselves_are_accepted():
    spec = parse_spec(BASE.replace("[2]", "[1024]") + 'seeds = "0..99999"\ncycles = 1e15')
    assert len(spec.runs) == MAX_RUNS
    text = CAMPAIGN.replace('["all"]', '["wired-counter"]')
    spec = parse_spec(text + f'seeds = "0..{MAX_SEED_RANGE - 1}"\nper_run = {MAX_SEED_RANGE}')
    assert [(r.seed, r.seed_last) for r in spec.runs] == [(0, MAX_SEED_RANGE - 1)]


def test_square_brackets_in_a_name_are_just_text():
    assert parse_spec('name = "[/x] [bold]"\n' + BASE).name == "[/x] [bold]"
