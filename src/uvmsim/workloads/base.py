"""The workload interface: options with types and defaults, and a per-CPU program.

A workload is a harness of the timed simulator: it builds one program per CPU against the
engine it is given (`WorkloadContext.engine`, whose `op_done()` counts its operations), says
which cost-table entries it changes (`costs`), and, when it runs the UVM model, binds the
machine to the model's locks and reports the model's counters (`UvmWorkload`).  It knows
nothing of the simulator's internals: `uvmsim.runs.simulate` puts the two together.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.machine import Machine, peek
from uvmsim.machine.failure import InputError
from uvmsim.protocols import Protocol
from uvmsim.uvm.uvm import uvm, uvm_bind_machine
from uvmsim.uvm.uvmexp import uvmexp


@dataclass(frozen=True)
class Option:
    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = 0
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkloadContext:
    """What a workload's `build` is given: its parsed options, the machine's size, the run's
    seed, the engine (to count operations with `engine.op_done()`) and the protocol."""

    options: dict[str, Any]
    cpus: int
    seed: int
    engine: Any
    protocol: Protocol
    cycles_per_second: float = 3e9  # the simulated CPU's clock (simulate/costs.py CPU_HZ)


@dataclass
class Workload(ABC):
    """A named workload: `build(ctx)` returns one function per CPU."""

    name: str
    summary: str
    options: tuple[Option, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)

    def costs(self, opts: dict[str, Any]) -> dict[str, int]:
        """The cost-table entries this workload sets (simulate/costs.py), given its options."""
        return {}

    def finite(self, opts: dict[str, Any]) -> bool:
        """Whether a run ends by itself (no default --ops bound is needed)."""
        return False

    def time_scale(self, opts: dict[str, Any]) -> float:
        """How much longer the real thing runs than the simulated one (a scaled workload)."""
        return 1.0

    def bind(self, machine: Machine) -> None:
        """Prepare the machine the programs run on, before the first step."""
        return

    def counters(self) -> dict[str, int]:
        """Counters of the workload's world after the run, added to the result's."""
        return {}

    def parse(self, given: dict[str, Any]) -> dict[str, Any]:
        """Options with defaults filled in; unknown or ill-typed ones are InputErrors."""
        known = {o.name: o for o in self.options}
        out = {o.name: o.default for o in self.options}
        for key, value in given.items():
            opt = known.get(key)
            if opt is None:
                accepted = ", ".join(sorted(known)) or "none"
                raise InputError(
                    f"workload {self.name}: unknown option {key!r}; accepted: {accepted}"
                )
            try:
                v = opt.type(value)
            except (TypeError, ValueError, OverflowError):
                raise InputError(
                    f"workload {self.name}: option {key} must be {opt.type.__name__}, got {value!r}"
                ) from None
            if isinstance(v, float) and not math.isfinite(v):
                raise InputError(
                    f"workload {self.name}: option {key} must be a finite number, got {value!r}"
                )
            if opt.choices and v not in opt.choices:
                raise InputError(
                    f"workload {self.name}: option {key} must be one of "
                    f"{', '.join(opt.choices)}, got {value!r}"
                )
            if opt.minimum is not None and isinstance(v, int | float) and v < opt.minimum:
                raise InputError(
                    f"workload {self.name}: option {key} must be >= {opt.minimum}, got {value!r}"
                )
            out[key] = v
        return out

    @abstractmethod
    def build(self, ctx: WorkloadContext) -> list[Callable[[], Any]]:
        """One program (a callable) per simulated CPU, for the run described by `ctx`."""


# The uvmexp counters a UVM workload reports (lockstat's companions: magazine hits and misses,
# the queues, what the pagedaemon did).
UVM_COUNTERS = (
    "pcphit",
    "pcpmiss",
    "free",
    "active",
    "inactive",
    "wired",
    "percpucaches",
    "pdfreed",
    "pdscans",
)


class UvmWorkload(Workload):
    """A workload that runs the UVM model: the machine's lock letters are bound to the
    model's locks (invariants off: the simulator measures, the checker checks), and the
    uvmexp counters come with the result."""

    def bind(self, machine: Machine) -> None:
        uvm_bind_machine(machine, invariants=False)

    def counters(self) -> dict[str, int]:
        out = {k: peek(uvmexp, k) for k in UVM_COUNTERS}
        if uvm.proto.pdpol_intents:
            # Queue operations deferred in the CPUs' intent queues at the end: work an
            # intent design has not done yet (and no lock taken for it), not work removed.
            out["intents_pending"] = (
                sum(len(q) for q in uvm.pdq)
                + sum(len(bq) for cpu in uvm.pqbatch for bq in cpu)
                + sum(len(b) for cpu in uvm.lru_fbatch for b in cpu.values())
            )
        return out
