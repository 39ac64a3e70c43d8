"""`uvmsim review`: run every question, the mutation analysis, and gather counterexamples."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.minimize import minimize
from uvmsim.check.report import Explanation, explain
from uvmsim.machine import Failure
from uvmsim.review.mutation import Mutant
from uvmsim.review.questions import QUESTIONS, Bounds, Context, Verdict
from uvmsim.runs.check import CheckSpec, make_target, make_token
from uvmsim.runs.names import get_protocol
from uvmsim.scenarios.findings import classify


@dataclass
class Counterexample:
    title: str
    scenario: str
    failure: Failure
    finding: str | None
    explanation: Explanation
    token: str
    steps: int
    preemptions: int
    also_seen: list[str] = field(default_factory=list)


@dataclass
class Review:
    protocol: str
    description: str
    baseline: str
    bounds: Bounds
    thorough: bool
    verdicts: list[Verdict]
    mutants: list[Mutant]
    counterexamples: list[Counterexample]
    question_examples: dict[str, Counterexample]
    seconds: float

    @property
    def score(self) -> tuple[int, int]:
        killed = sum(1 for m in self.mutants if m.status.startswith("killed"))
        return killed, len(self.mutants)


def minimized_counterexample(
    spec_str: str, scenario: str, races: bool, failure: Failure, schedule: tuple[int, ...]
) -> Counterexample:
    spec = CheckSpec(
        protocol=spec_str, scenario=scenario, analyses=(() if races else (("races", False),))
    )
    target = make_target(spec)
    mini = minimize(target, failure, schedule, budget=600)
    ex = explain(target, mini.schedule)
    token = make_token(spec, mini.schedule, ex.failure)
    f = ex.failure or failure
    return Counterexample(
        f.message, scenario, f, classify(f), ex, token, len(mini.schedule), mini.preemptions
    )


def _key(f: Failure) -> str:
    return classify(f) or f"{f.kind}|{f.message}"


def run_review(
    protocol: str = "seed",
    baseline: str = "openbsd-pre",
    thorough: bool = False,
    progress: Any = None,
    bounds: Bounds | None = None,
) -> Review:
    t0 = time.monotonic()
    proto = get_protocol(protocol)
    base = get_protocol(baseline)
    if bounds is None:
        bounds = Bounds.thorough() if thorough else Bounds()
    ctx = Context(proto, protocol, base, bounds, progress=progress)
    verdicts = [question(ctx) for question in QUESTIONS.values()]
    mutants = ctx.mutants
    # Failures of the reviewed protocol itself: one counterexample per finding, first.
    groups: dict[str, list] = {}
    for scenario, f, schedule, races in ctx.findings:
        groups.setdefault(_key(f), []).append((scenario, f, schedule, races))
    counterexamples = []
    for items in groups.values():
        # Prefer the panic to the data race that precedes it (race detector off).
        items.sort(key=lambda it: (it[3], len(it[2])))
        scenario, f, schedule, races = items[0]
        if progress:
            progress(f"minimizing {classify(f) or f.kind} in {scenario}")
        cx = minimized_counterexample(protocol, scenario, races, f, schedule)
        cx.also_seen = sorted(
            {f"{s} ({'races' if r else 'invariants'})" for s, _f, _sc, r in items[1:]}
        )
        counterexamples.append(cx)
    question_examples = {}
    for v in verdicts:
        if v.verdict == "fails" and v.counterexample is not None:
            scenario, races, schedule = v.counterexample
            same = next((c for c in counterexamples if _key(c.failure) == _key(v.failure)), None)
            question_examples[v.id] = same or minimized_counterexample(
                protocol, scenario, races, v.failure, schedule
            )
    return Review(
        proto.name,
        proto.description,
        base.name,
        bounds,
        thorough,
        verdicts,
        mutants,
        counterexamples,
        question_examples,
        time.monotonic() - t0,
    )
