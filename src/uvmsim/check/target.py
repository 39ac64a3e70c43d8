"""What the checker explores: a program it can build and run again, from scratch, any time.

Exploration is stateless: every execution builds a fresh world and runs it on a new machine
under the strategy's engine.  A `Target` hides how: a UVM scenario on a protocol
(`ScenarioTarget`), or any concurrent program written against `uvmsim.machine`
(`ProgramTarget`, see docs/api.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from typing import Any

from uvmsim.machine import Analyses, Engine, Execution, Machine


class Target(ABC):
    """Base: `execute` one run under `engine`; describe itself for tokens and reports."""

    name = "target"
    cpus = 0

    @abstractmethod
    def execute(
        self,
        engine: Engine,
        *,
        record: bool = False,
        step_observer: Callable[[Machine], None] | None = None,
    ) -> Execution:
        """Run the target once, every scheduling decision taken by `engine`."""

    def state_digest(self) -> Hashable | None:
        """A digest of the state after the last execution, if the target provides one."""
        return None

    def describe(self) -> dict:
        return {"target": self.name}


def _observe(m: Machine, observer: Callable[[Machine], None] | None) -> None:
    if observer is not None:

        def check() -> None:
            observer(m)

        m.add_check(check, "step")


class ProgramTarget(Target):
    """A program of your own: `build()` returns (world, [one function per CPU]).

    It may also return (world, program, bindings) with annotation letter -> lock, and
    (world, program, bindings, checks) with invariants `check() -> None | message` run at the
    end of every execution.  `digest(world)` optionally summarises a final state.
    """

    def __init__(
        self,
        build: Callable[[], tuple],
        *,
        name: str = "program",
        analyses: Analyses | None = None,
        max_steps: int = 20_000,
        schedule_covered: bool = True,
        digest: Callable[[Any], Hashable] | None = None,
    ):
        self.build = build
        self.name = name
        self.analyses = analyses or Analyses()
        self.max_steps = max_steps
        self.schedule_covered = schedule_covered
        self.digest = digest
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
        m = Machine(
            engine,
            analyses=self.analyses,
            max_steps=self.max_steps,
            record=record,
            schedule_covered=self.schedule_covered,
        )
        if rest:
            for letter, lock in rest[0].items():
                m.bind_annotation(letter, lock)
        if len(rest) > 1:
            for check in rest[1]:
                m.add_check(check, "end")
        _observe(m, step_observer)
        self.world = world
        return m.run(program)

    def state_digest(self) -> Hashable | None:
        return None if self.digest is None else self.digest(self.world)


class ScenarioTarget(Target):
    """A named UVM scenario on a protocol, with every invariant armed."""

    def __init__(
        self,
        scenario: Any,
        protocol: Any,
        *,
        analyses: Analyses | None = None,
        max_steps: int = 20_000,
        schedule_covered: bool = True,
    ):
        self.scenario = scenario
        self.protocol = protocol
        self.name = f"{scenario.name} on {protocol.name}"
        self.cpus = scenario.cpus
        self.analyses = analyses or Analyses()
        self.max_steps = max_steps
        self.schedule_covered = schedule_covered
        self.world: Any = None

    def execute(
        self,
        engine: Engine,
        *,
        record: bool = False,
        step_observer: Callable[[Machine], None] | None = None,
    ) -> Execution:
        from uvmsim.scenarios.base import build
        from uvmsim.uvm.uvm import uvm_bind_machine

        self.world, program = build(self.scenario, self.protocol)
        m = Machine(
            engine,
            analyses=self.analyses,
            max_steps=self.max_steps,
            record=record,
            schedule_covered=self.schedule_covered,
        )
        uvm_bind_machine(m)
        _observe(m, step_observer)
        return m.run(program)

    def state_digest(self) -> Hashable | None:
        from uvmsim.scenarios.base import world_digest

        return world_digest()

    def describe(self) -> dict:
        return {
            "scenario": self.scenario.name,
            "protocol": self.protocol.name,
            "cpus": self.scenario.cpus,
            "pages": self.scenario.pages,
        }
