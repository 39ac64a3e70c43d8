"""Closed checker harnesses: a small world, one kernel code path per CPU, an expectation.

A `Scenario` builds its world in two steps.  `setup(w)` runs on a single CPU inside a set-up
machine and uses the model's own functions (faults, activations, pageouts) to reach the
starting state, so the state is one the model itself can produce.  `program(w)` then returns
one function per CPU; the checker explores their interleavings with every invariant armed.

`expect` maps protocol names to what the scenario shows on them: "holds" (nothing can go
wrong), a failure kind that must be reachable (e.g. "recursion"), "fails" (some interleaving
fails, whatever the first failure found is: the control harnesses), or "finding" (a failure the
model found in the kernel's own protocol, recorded in docs/findings.md).
"""

from __future__ import annotations

import io
import itertools
import pickle
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from uvmsim.machine import Analyses, Engine, Execution, Machine, RoundRobinEngine, peek, shared
from uvmsim.protocols import Protocol
from uvmsim.uvm.uvm import uvm, uvm_bind_machine
from uvmsim.uvm.uvm_init import uvm_boot
from uvmsim.uvm.uvmexp import uvmexp

World = SimpleNamespace


@dataclass(frozen=True)
class Scenario:
    """One named harness (see the module docstring)."""

    name: str
    cpus: int
    pages: int
    summary: str
    questions: tuple[str, ...]
    setup: Callable[[World], None]
    program: Callable[[World], list[Callable[[], Any]]]
    expect: dict[str, str] = field(default_factory=dict)
    swap: dict[str, Any] = field(default_factory=dict)
    world: dict[str, Any] = field(default_factory=dict)
    apparatus: bool = False  # a control or measurement harness of the review (controls.py),
    # not a kernel situation: campaigns over "all" scenarios leave it out
    source: str = ""  # a program's scenario reference (`program:<data>`): what a replay
    # token carries for a scenario no catalog name resolves to (scenarios/program.py)

    def expectation(self, protocol: Protocol) -> str | None:
        return self.expect.get(protocol.name)


SCENARIOS: dict[str, Scenario] = {}


def register(s: Scenario) -> Scenario:
    SCENARIOS[s.name] = s
    return s


def boot(w: World, proto: Protocol, scenario: Scenario) -> None:
    """A fresh world: counters, allocator with `scenario.pages` pages, swap.

    `scenario.swap` are `uvm_swap_init`'s parameters (encryption, fragmentation, injected
    failures), `scenario.world` `uvm_boot`'s others (`dma_share`).
    """
    w.pages = uvm_boot(proto, scenario.cpus, scenario.pages, swap=scenario.swap, **scenario.world)


class SetupError(RuntimeError):
    """A scenario's set-up failed: a bug in the scenario, not a finding."""


class _WorldPickler(pickle.Pickler):
    """Pickles a world; machines (a lock's vector-clock owner) and code objects (sites) are
    left out: they belong to the set-up execution, not to the state the scenario starts in."""

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Machine | types.CodeType):
            return "gone"
        return None


class _WorldUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return None


_snapshots: dict[tuple, bytes] = {}


def _snapshot(w: World) -> bytes:

    buf = io.BytesIO()
    state = (dict(uvm.__dict__), uvmexp.__class__, dict(uvmexp.__dict__), w, next(shared._names))
    _WorldPickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return buf.getvalue()


def _restore(blob: bytes) -> World:

    uvm_state, cls, uvmexp_state, w, next_name = _WorldUnpickler(io.BytesIO(blob)).load()
    uvm.__dict__.clear()
    uvm.__dict__.update(uvm_state)
    uvmexp.__class__ = cls
    uvmexp.__dict__.clear()
    uvmexp.__dict__.update(uvmexp_state)
    shared._names = itertools.count(next_name)
    return w


def build(scenario: Scenario, proto: Protocol) -> tuple[World, list[Callable[[], Any]]]:
    """Boot the world, run the scenario's set-up on one CPU, return (world, program).

    The set-up is deterministic, so its result is computed once per (scenario, protocol) and
    kept as a pickled snapshot; later executions start from a copy of it, which is what
    makes re-execution cheap enough for exhaustive exploration.
    """
    key = (scenario.name, scenario.source, proto)
    blob = _snapshots.get(key)
    if blob is not None:
        w = _restore(blob)
    else:
        w = World()
        boot(w, proto, scenario)
        setup_machine = Machine(RoundRobinEngine(), max_steps=1_000_000)
        uvm_bind_machine(setup_machine)
        result = setup_machine.run([lambda: scenario.setup(w)])
        if result.failure is not None:
            raise SetupError(
                f"set-up of {scenario.name} on {proto.name} failed:\n{result.failure.render()}"
            )
        blob = _snapshot(w)
        _snapshots[key] = blob
        w = _restore(blob)
    program = scenario.program(w)
    if len(program) != scenario.cpus:
        raise SetupError(
            f"{scenario.name}: program has {len(program)} CPUs, declared {scenario.cpus}"
        )
    return w, program


def forget(scenario: Scenario) -> None:
    """Drop the set-up snapshots of `scenario` (a generated program that will not run again:
    a fuzzing campaign builds thousands)."""
    for key in [k for k in _snapshots if k[0] == scenario.name and k[1] == scenario.source]:
        del _snapshots[key]


def run_scenario(
    scenario: Scenario,
    proto: Protocol,
    engine: Engine,
    *,
    analyses: Analyses | None = None,
    max_steps: int = 20_000,
    record: bool = False,
    schedule_covered: bool = True,
) -> Execution:
    """One execution of `scenario` on `proto` under `engine`, every invariant armed."""
    _w, program = build(scenario, proto)
    m = Machine(
        engine,
        analyses=analyses,
        max_steps=max_steps,
        record=record,
        schedule_covered=schedule_covered,
    )
    uvm_bind_machine(m)
    return m.run(program)


def world_summary() -> dict[str, Any]:
    """Counters and queue lengths of the current world (for tests and reports)."""

    return {
        "free": peek(uvmexp, "free"),
        "active": peek(uvmexp, "active"),
        "inactive": peek(uvmexp, "inactive"),
        "wired": peek(uvmexp, "wired"),
        "percpucaches": peek(uvmexp, "percpucaches"),
        "npages": peek(uvmexp, "npages"),
        "objects": len(uvm.objects),
        "anons": len(uvm.anons),
    }
