"""`spinlock`: the textbook model, no UVM.

N CPUs loop: think for an exponential time (mean `think` cycles, user time), take one spin
mutex, hold it for an exponential time (mean `hold` cycles), release it.  With the hand-off
cost c = 0 this is the finite-source (machine-repairman) queue; with c > 0 and FIFO it is the
Boyd-Wickizer et al. ticket-lock chain (../shared/calibration.md §4).
"""

from __future__ import annotations

import random

from uvmsim.machine import Mutex, kernel_work, mtx_enter, mtx_leave
from uvmsim.workloads.base import Option, Workload, WorkloadContext


class Spinlock(Workload):
    def costs(self, opts: dict) -> dict[str, int]:
        """Only think, hold and the hand-off cost c exist in the textbook model."""
        return {"mtx_enter": 0, "mtx_leave": 0, "handoff": int(opts["handoff"])}

    def build(self, ctx: WorkloadContext) -> list:
        opts = ctx.options
        lock = Mutex("spinlock")
        think, hold = float(opts["think"]), float(opts["hold"])
        engine = ctx.engine
        iterations = opts["iterations"]

        def make(i: int):
            rng = random.Random(ctx.seed * 1_000_003 + i)

            def cpu() -> None:
                n = 0
                while iterations == 0 or n < iterations:
                    kernel_work("user", None, rng.expovariate(1.0 / think) if think else 0)
                    mtx_enter(lock)
                    kernel_work("hold", lock, rng.expovariate(1.0 / hold) if hold else 0)
                    mtx_leave(lock)
                    engine.op_done()
                    n += 1

            return cpu

        return [make(i) for i in range(ctx.cpus)]


SPINLOCK = Spinlock(
    "spinlock",
    "N CPUs, exponential think and hold times, one spin mutex (no UVM)",
    options=(
        Option("think", float, 9000.0, "mean think time, cycles (user)"),
        Option("hold", float, 1000.0, "mean hold time, cycles"),
        Option("iterations", int, 0, "acquisitions per CPU (0: until --ops/--cycles)"),
        Option(
            "handoff",
            int,
            0,
            "hand-off cost c, cycles (a contended acquisition waits c*k/2 with k CPUs waiting)",
        ),
    ),
)
