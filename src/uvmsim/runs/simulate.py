"""A timed run of a named workload on a protocol: the door every face uses to simulate.

The workload (`uvmsim.workloads`) builds its per-CPU programs against the engine; the timed
engine (`uvmsim.simulate`) runs them; this module puts the two together: options parsed and
checked, the cost table the workload asks for, the default length of a run.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import Analyses
from uvmsim.protocols import Protocol
from uvmsim.runs.names import get_workload
from uvmsim.simulate.costs import CPU_HZ, CostTable, cost_table
from uvmsim.simulate.engine import TimedEngine
from uvmsim.simulate.run import Progress, SimResult, check_cpus, run_timed
from uvmsim.workloads.base import WorkloadContext

DEFAULT_OPS = 10_000  # workload operations when a run is given no other bound


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
    progress: Progress | None = None,
) -> SimResult:
    """Run `workload` on `cpus` CPUs until `ops` workload operations or `cycles` cycles
    (DEFAULT_OPS when neither is given, unless the workload is finite or has an iteration
    count)."""
    check_cpus(cpus)
    wl = get_workload(workload)
    opts = wl.parse(options or {})
    table = costs if costs is not None else cost_table(**wl.costs(opts))
    if (
        ops is None
        and cycles is None
        and visible is None
        and not opts.get("iterations")
        and not wl.finite(opts)
    ):
        ops = DEFAULT_OPS

    def build(engine: TimedEngine) -> list[Any]:
        return wl.build(WorkloadContext(opts, cpus, seed, engine, protocol, CPU_HZ))

    return run_timed(
        build,
        labels=(protocol.name, workload),
        cpus=cpus,
        costs=table,
        ops=ops,
        cycles=cycles,
        visible=visible,
        seed=seed,
        discipline=discipline,
        folded=folded,
        trace=trace,
        analyses=analyses,
        progress=progress,
        bind=wl.bind,
        counters=wl.counters,
        time_scale=wl.time_scale(opts),
    )
