"""No verdict is hard-coded: flip a switch of the reviewed protocol and its verdict follows."""

import pytest

from uvmsim.protocols import PROTOCOLS
from uvmsim.review import questions as Q  # noqa: N812
from uvmsim.review.questions import Bounds, Context

SMALL = Bounds(
    max_executions=1500,
    campaign_executions=60,
    sim_ops=600,
    sim_cpus=(8, 16),
    mutant_executions=200,
)


def ask(question, protocol):
    proto = PROTOCOLS[protocol]
    ctx = Context(proto, protocol, PROTOCOLS["openbsd-pre"], SMALL)
    return question(ctx), ctx


@pytest.mark.parametrize(
    ("question", "good", "bad"),
    [
        (Q.r3, "seed", "seed-plain-wired"),
        (Q.r6, "seed", "seed-no-dequeue-first"),
        (Q.r2, "seed-fixed", "seed"),
    ],
)
def test_verdict_follows_the_switches(question, good, bad):
    ok, _ = ask(question, good)
    ko, _ = ask(question, bad)
    assert ok.verdict == "holds", ok.evidence
    assert ko.verdict == "fails"
    assert ko.failure is not None and ko.counterexample is not None


def test_r1_holds_and_reports_F1_as_another_failure_on_seed():
    v, ctx = ask(Q.r1, "seed")
    assert v.verdict == "holds"
    assert any("F1" in line for line in v.evidence)
    assert ctx.findings  # F1 recorded, to be printed first


def test_r3_control_shows_the_check_can_fail():
    v, _ = ask(Q.r3, "seed")
    assert any(line.startswith("control:") and "the check finds it" in line for line in v.evidence)


def test_r9_finds_F1_on_seed_and_nothing_on_seed_fixed():
    seed, _ = ask(Q.r9, "seed")
    fixed, _ = ask(Q.r9, "seed-fixed")
    assert seed.verdict == "fails" and "F1" in seed.summary
    assert fixed.verdict == "holds"


def test_r4_measures_the_three_free_paths():
    v, _ = ask(Q.r4, "seed")
    per_flush = {k: row["fpageq_per_flush"] for k, row in v.figures.items()}
    assert per_flush["seed~nocache"] > per_flush["openbsd-pre"] > per_flush["seed"]


def test_r8_figures_are_means_over_seeds_with_the_spread_of_the_gain():
    bounds = Bounds(sim_ops=300, sim_cpus=(8,), sim_seeds=(1, 2))
    ctx = Context(PROTOCOLS["seed"], "seed", PROTOCOLS["openbsd-pre"], bounds)
    v = Q.r8(ctx)
    row = v.figures["fault-heavy build"]["8"]
    gains = row["seed"]["gains"]
    assert len(gains) == 2 and gains[0] != gains[1]  # two seeds, two different runs
    from uvmsim.review.checks import measure

    tps = [
        measure("build", PROTOCOLS["openbsd-pre"], 8, 300, seed=s, options=o).throughput
        for s in (1, 2)
        for o in [{"think": 40000, "kernel_other": 8000}]
    ]
    assert row["openbsd-pre"]["throughput"] == pytest.approx(sum(tps) / 2)
    assert f"(seeds: {min(gains):+.1%}..{max(gains):+.1%})" in v.summary
