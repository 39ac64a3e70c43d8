"""Every scenario runs to completion under round-robin and 300 random seeds on openbsd-pre,
seed and openbsd-2026 with every invariant armed; what fails is only what the scenario
expects.

300, not the 1,000 of issue 3: DPOR now explores every scenario completely on every protocol
(tests/check/test_odpor.py, the goldens), so these random runs check the harnesses across
schedules rather than search for failures, and CI's 15 minutes are short."""

import pytest

from uvmsim.machine import Analyses, RandomEngine, RoundRobinEngine
from uvmsim.protocols import PROTOCOLS
from uvmsim.scenarios import SCENARIOS, run_scenario
from uvmsim.scenarios.findings import classify

SEEDS = 300


def allowed(scenario, proto, failure):
    """A failure is acceptable only as the scenario's recorded expectation on `proto`."""
    expect = scenario.expectation(proto)
    if failure is None or expect == "fails":
        return True
    if expect == "finding":
        return classify(failure) is not None
    return failure.kind == expect


@pytest.mark.parametrize("proto_name", ["openbsd-pre", "seed", "openbsd-2026", "linux-lruvec"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_runs_to_completion(name, proto_name):
    scenario, proto = SCENARIOS[name], PROTOCOLS[proto_name]
    engines = [RoundRobinEngine(), RoundRobinEngine(quantum=1_000_000)]
    engines += [RandomEngine(seed) for seed in range(SEEDS)]
    completed = 0
    for engine in engines:
        r = run_scenario(scenario, proto, engine, analyses=Analyses())
        assert allowed(scenario, proto, r.failure), (
            f"{name} on {proto_name} under {type(engine).__name__}"
            f"({getattr(engine, 'seed', '')}):\n{r.failure.render()}"
        )
        completed += r.completed
    if scenario.expectation(proto) == "holds":
        assert completed == len(engines)
    elif scenario.expectation(proto) != "fails":  # a control may fail on every schedule
        assert completed > 0  # the expected failure needs a particular interleaving


def test_expected_failures_are_reachable_under_random_schedules():
    cases = [
        ("flush-vs-fault", "seed-no-dequeue-first", "recursion"),
        ("wired-counter", "seed-plain-wired", "data-race"),
        ("pageclean-race", "seed", "F1"),
        ("pdaemon-vs-free", "seed", "F1"),
    ]
    for name, proto_name, want in cases:
        kinds = set()
        for seed in range(50):
            f = run_scenario(SCENARIOS[name], PROTOCOLS[proto_name], RandomEngine(seed)).failure
            if f is not None:
                kinds.add(classify(f) or f.kind)
        assert want in kinds, (name, proto_name, kinds)
