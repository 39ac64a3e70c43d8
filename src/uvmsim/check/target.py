"""What the checker explores: a program it can build and run again, from scratch, any time.

Exploration is stateless: every execution builds a fresh world and runs it on a new machine
under the strategy's engine.  A `Target` hides how: any concurrent program written against
`uvmsim.machine` (`ProgramTarget`, see docs/api.md), or a UVM scenario on a protocol
(`uvmsim.runs.target.ScenarioTarget`: the checker itself knows no UVM).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from uvmsim.machine import Analyses, Engine, Execution, Failure, Machine


class Target(ABC):
    """Base: `execute` one run under `engine`; describe itself for tokens and reports."""

    name = "target"
    cpus = 0
    tracks_state = False  # whether `state_view` shows anything (counterexamples track it)

    def __init__(
        self,
        *,
        analyses: Analyses | None = None,
        max_steps: int = 20_000,
        schedule_covered: bool = True,
    ):
        self.analyses = analyses or Analyses()
        self.max_steps = max_steps
        self.schedule_covered = schedule_covered

    def new_machine(self, engine: Engine, record: bool) -> Machine:
        """A fresh machine for one execution, with this target's analyses and bounds."""
        return Machine(
            engine,
            analyses=self.analyses,
            max_steps=self.max_steps,
            record=record,
            schedule_covered=self.schedule_covered,
        )

    @abstractmethod
    def execute(
        self,
        engine: Engine,
        *,
        record: bool = False,
        step_observer: Callable[[Machine], None] | None = None,
    ) -> Execution:
        """Run the target once, every scheduling decision taken by `engine`."""

    def describe(self) -> dict:
        return {"target": self.name}

    def state_view(self) -> dict[str, dict[str, str]]:
        """The state a counterexample follows step by step, as text: object name -> field ->
        value (a UVM scenario shows its pages).  Empty unless `tracks_state`."""
        return {}

    def classify(self, failure: Failure) -> tuple[str, str] | None:
        """(id, title) of the known finding `failure` is, for targets that know findings."""
        return None


def observe_steps(m: Machine, observer: Callable[[Machine], None] | None) -> None:
    """Run `observer(m)` after every visible step of `m` (counterexamples record with it)."""
    if observer is not None:

        def check() -> None:
            observer(m)

        m.add_check(check, "step")


class ProgramTarget(Target):
    """A program of your own: `build()` returns (world, [one function per CPU]).

    It may also return (world, program, bindings) with annotation letter -> lock, and
    (world, program, bindings, checks) with invariants `check() -> None | message` run at the
    end of every execution.
    """

    def __init__(
        self,
        build: Callable[[], tuple],
        *,
        name: str = "program",
        analyses: Analyses | None = None,
        max_steps: int = 20_000,
        schedule_covered: bool = True,
    ):
        super().__init__(analyses=analyses, max_steps=max_steps, schedule_covered=schedule_covered)
        self.build = build
        self.name = name
        self.world: Any = None
        _world, program, *_ = build()
        self.cpus = len(program)

    def execute(
        self,
        engine: Engine,
        *,
        record: bool = False,
        step_observer: Callable[[Machine], None] | None = None,
    ) -> Execution:
        world, program, *rest = self.build()
        m = self.new_machine(engine, record)
        if rest:
            for letter, lock in rest[0].items():
                m.bind_annotation(letter, lock)
        if len(rest) > 1:
            for check in rest[1]:
                m.add_check(check, "end")
        observe_steps(m, step_observer)
        self.world = world
        return m.run(program)
