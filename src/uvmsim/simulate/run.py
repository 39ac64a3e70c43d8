"""One timed run: a workload on a protocol with N CPUs, and its JSON-shaped result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from uvmsim.machine import Analyses, Machine
from uvmsim.machine.failure import InputError
from uvmsim.protocols import Protocol
from uvmsim.simulate.costs import CPU_HZ, CostTable, cost_table
from uvmsim.simulate.engine import TimedEngine

# The largest simulated machine: beyond it a run would take hours and the model's one
# pageqlock per machine stops meaning anything (the kernel's MAXCPUS is 255 on amd64).
MAX_CPUS = 1024

# Analyses cost time and measure nothing: the simulator runs with them off by default.
QUIET = Analyses(
    annotations=False, annotation_reads=False, races=False, witness=False, deadlock=True
)


def workloads() -> dict[str, Any]:
    from uvmsim.workloads.build import BUILD
    from uvmsim.workloads.flush import FLUSH
    from uvmsim.workloads.pressure import PRESSURE
    from uvmsim.workloads.spinlock import SPINLOCK

    return {w.name: w for w in (SPINLOCK, BUILD, FLUSH, PRESSURE)}


def get_workload(name: str) -> Any:
    table = workloads()
    if name not in table:
        raise InputError(f"workload {name!r} is unknown; accepted: {', '.join(table)}")
    return table[name]


@dataclass
class SimResult:
    """The stable JSON shape of docs/simulator.md."""

    protocol: str
    workload: str
    cpus: int
    seed: int
    cycles: float
    cpu_time: dict[str, float]
    throughput: float
    ops: int
    steps: int  # visible operations executed
    locks: dict[str, dict]
    counters: dict[str, int]
    per_cpu: list[dict] = field(default_factory=list)
    failure: str | None = None
    folded: dict[str, float] | None = None
    trace: list[dict] | None = None

    def to_json(self) -> dict:
        return {
            "protocol": self.protocol,
            "workload": self.workload,
            "cpus": self.cpus,
            "seed": self.seed,
            "cycles": round(self.cycles),
            "cpu_time": {k: round(v) for k, v in self.cpu_time.items()},
            "throughput": round(self.throughput, 3),
            "ops": self.ops,
            "steps": self.steps,
            "locks": self.locks,
            "counters": self.counters,
            "failure": self.failure,
        }

    @property
    def spin_share(self) -> float:
        total = sum(self.cpu_time.values()) or 1
        return self.cpu_time["spin"] / total


def simulate(
    workload: str,
    protocol: Protocol,
    cpus: int,
    *,
    ops: int | None = None,
    cycles: float | None = None,
    seed: int = 0,
    options: dict | None = None,
    costs: CostTable | None = None,
    discipline: str = "cas",
    folded: bool = False,
    trace: bool = False,
    analyses: Analyses | None = None,
    visible: int | None = None,
) -> SimResult:
    """Run `workload` on `cpus` CPUs until `ops` workload operations or `cycles` cycles."""
    if not 1 <= cpus <= MAX_CPUS:
        raise InputError(f"--cpus must be between 1 and {MAX_CPUS}, got {cpus}")
    if ops is not None and ops < 1:
        raise InputError(f"--ops must be a positive integer, got {ops}")
    if cycles is not None and not (math.isfinite(cycles) and cycles > 0):
        raise InputError(f"--cycles must be a positive, finite number, got {cycles}")
    wl = get_workload(workload)
    opts = wl.parse(options or {})
    if costs is not None:
        table = costs
    elif hasattr(wl, "costs"):
        table = wl.costs(opts)
    else:
        table = cost_table()
    if ops is None and cycles is None and visible is None and not opts.get("iterations"):
        ops = 10_000
    engine = TimedEngine(
        table,
        discipline=discipline,
        seed=seed,
        max_ops=ops,
        max_cycles=cycles,
        max_visible=visible,
        folded=folded,
        trace=trace,
    )
    ctx = SimpleNamespace(options=opts, cpus=cpus, seed=seed, engine=engine, protocol=protocol)
    program = wl.build(ctx)
    m = Machine(engine, analyses=analyses or QUIET, max_steps=10**12)
    if wl.uses_uvm:
        from uvmsim.uvm.uvm import uvm_bind_machine

        uvm_bind_machine(m, invariants=False)
    r = m.run(program)
    elapsed = max(c.clock for c in m.cpus)
    total = engine.stats.total()
    counters = dict(engine.stats.counters)
    if wl.uses_uvm:
        counters.update(_uvm_counters())
    done = engine.ops_done
    return SimResult(
        protocol=protocol.name,
        workload=workload,
        cpus=cpus,
        seed=seed,
        cycles=elapsed,
        cpu_time={
            "user": total.user,
            "system": total.system,
            "spin": total.spin,
            "idle": total.idle,
        },
        throughput=done / (elapsed / CPU_HZ) if elapsed else 0.0,
        ops=done,
        steps=r.steps,
        locks=_locks_json(engine),
        counters=counters,
        per_cpu=[t.to_json() for t in engine.stats.cpus],
        failure=None if r.failure is None else r.failure.message,
        folded=engine.folded,
        trace=engine.trace,
    )


def _locks_json(engine: TimedEngine) -> dict[str, dict]:
    out = {}
    for name in sorted(engine.stats.locks):
        d = engine.stats.locks[name].to_json()
        d["sites"] = {site: s.to_json() for site, s in sorted(engine.stats.sites[name].items())}
        out[name] = d
    return out


def _uvm_counters() -> dict[str, int]:
    from uvmsim.machine import peek
    from uvmsim.uvm.uvmexp import uvmexp

    return {
        k: peek(uvmexp, k)
        for k in (
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
    }
