"""A UVM scenario on a protocol, as the checker's `Target`.

The checker explores targets without knowing what runs inside them; this is where a scenario
meets it: each execution boots the scenario's world (a pickled snapshot after the first),
binds the lock letters of the model's annotations, arms the invariants, and runs the CPUs'
kernel paths.  The page states a counterexample follows and the classification of known
findings come from here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvmsim.check.target import Target, observe_steps
from uvmsim.machine import Analyses, Engine, Execution, Failure, Machine, peek
from uvmsim.protocols import Protocol
from uvmsim.scenarios.base import Scenario, build
from uvmsim.scenarios.findings import FINDINGS, classify
from uvmsim.uvm.uvm import uvm, uvm_bind_machine
from uvmsim.uvm.uvm_page_h import flag_names


def page_state(pg: Any) -> dict[str, str]:
    """What a counterexample shows of a page: flags, owners, wiring, allocator state, queue."""
    uobj, anon = peek(pg, "uobject"), peek(pg, "uanon")
    q = pg.__dict__.get("pageq")
    return {
        "flags": flag_names(peek(pg, "pg_flags")),
        "uobject": uobj.name if uobj is not None else "NULL",
        "uanon": anon.name if anon is not None else "NULL",
        "wire_count": str(peek(pg, "wire_count")),
        "state": pg.__dict__.get("owner_state", "?"),
        "queue": getattr(q, "name", None) or "-",
    }


class ScenarioTarget(Target):
    """A named UVM scenario on a protocol, with every invariant armed."""

    tracks_state = True

    def __init__(
        self,
        scenario: Scenario,
        protocol: Protocol,
        *,
        analyses: Analyses | None = None,
        max_steps: int = 20_000,
        schedule_covered: bool = True,
    ):
        super().__init__(analyses=analyses, max_steps=max_steps, schedule_covered=schedule_covered)
        self.scenario = scenario
        self.protocol = protocol
        self.name = f"{scenario.label()} on {protocol.name}"
        self.cpus = scenario.cpus
        self.world: Any = None

    def execute(
        self,
        engine: Engine,
        *,
        record: bool = False,
        step_observer: Callable[[Machine], None] | None = None,
    ) -> Execution:
        self.world, program = build(self.scenario, self.protocol)
        m = self.new_machine(engine, record)
        uvm_bind_machine(m)
        observe_steps(m, step_observer)
        return m.run(program)

    def state_view(self) -> dict[str, dict[str, str]]:
        return {pg.name: page_state(pg) for pg in uvm.pages}

    def classify(self, failure: Failure) -> tuple[str, str] | None:
        finding = classify(failure)
        if finding is None:
            return None
        return finding, next(f.title for f in FINDINGS if f.id == finding)

    def describe(self) -> dict:
        doc = {
            "scenario": self.scenario.name,
            "protocol": self.protocol.name,
            "cpus": self.scenario.cpus,
            "pages": self.scenario.pages,
        }
        if self.scenario.grown:  # only then: reports of original shapes stay as they were
            doc.update(self.scenario.shape())
        return doc
