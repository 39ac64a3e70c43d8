"""What a review question answers with: a verdict, its evidence, and the control that shows
the check behind it could have come out the other way.

A verdict is `holds`, `fails` (with a counterexample), `measured` (figures), or `unproven`:
a check whose control did not flip proves nothing, whatever it says about the protocol, so
the review says so instead of "holds".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.machine import Failure
from uvmsim.protocols import Protocol
from uvmsim.review.checks import Exploration

VERDICTS = ("holds", "fails", "measured", "unproven")


@dataclass(frozen=True)
class Bounds:
    """How much each question may explore or simulate."""

    max_executions: int | None = 3000  # DPOR executions per scenario (None: exhaustive)
    campaign_executions: int = 300  # PCT and random executions per scenario (R9)
    sim_ops: int = 3000  # workload operations per simulation
    sim_cpus: tuple[int, ...] = (16, 32, 64, 80)
    sim_seeds: tuple[int, ...] = (1,)  # R8's central figures are means over these seeds
    band_cpus: tuple[int, ...] = (64,)  # R8's band over the unfitted parameters, at these
    build_waves: int = 3  # R8's make build: jobs per CPU measured in steady state
    build_pages: int = 16  # R8's make build: mean pages per simulated job
    mutant_executions: int = 400  # DPOR executions per scenario and mutant (R7)
    sample_executions: int = 30  # recorded executions per scenario for the mechanisms

    @classmethod
    def thorough(cls) -> Bounds:
        return cls(
            max_executions=None,
            campaign_executions=3000,
            sim_ops=8000,
            sim_cpus=(16, 32, 64, 80),
            sim_seeds=(1, 2, 3),
            band_cpus=(16, 32, 64, 80),
            build_waves=8,
            build_pages=32,
            mutant_executions=3000,
            sample_executions=100,
        )


@dataclass
class Control:
    """A run on which the question's check must come out the other way than the verdict.

    `what`: the configuration (protocol variant or control harness, and scenario);
    `expected`: what the check must do there ("fires" for a holds verdict, "silent" for a
    fails verdict, a stated difference for a measurement); `observed`: what it did;
    `flipped`: whether that is what was expected.
    """

    what: str
    expected: str
    observed: str
    flipped: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "expected": self.expected,
            "observed": self.observed,
            "flipped": self.flipped,
        }


@dataclass
class Verdict:
    id: str
    question: str
    verdict: str  # one of VERDICTS
    summary: str
    evidence: list[str] = field(default_factory=list)
    failure: Failure | None = None
    counterexample: Any = None  # (scenario, races, schedule), turned into text later
    figures: dict = field(default_factory=dict)
    seconds: float = 0.0
    control: Control | None = None

    def settle(self) -> None:
        """A holds, fails or measured verdict whose control did not flip is unproven."""
        if self.control is not None and not self.control.flipped:
            self.summary = (
                f"unproven: the control did not flip ({self.control.what}: expected "
                f"{self.control.expected}, observed {self.control.observed}); the check "
                f"behind '{self.verdict}' cannot be trusted: {self.summary}"
            )
            self.verdict = "unproven"


@dataclass
class Context:
    protocol: Protocol
    protocol_spec: str
    baseline: Protocol
    bounds: Bounds
    findings: list[tuple[str, Failure, tuple[int, ...], bool]] = field(default_factory=list)
    progress: Callable[[str], None] | None = None
    mutants: list[Any] = field(default_factory=list)  # R7's, for the report

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def record(self, ex: Exploration) -> None:
        """Every failure of the reviewed protocol is reported first, whatever question ran it."""
        if ex.protocol != self.protocol.name:
            return
        for f, schedule in ex.failures:
            if not any(f == g for _s, g, _x, _r in self.findings):
                self.findings.append((ex.scenario, f, schedule, ex.races))
