"""The cost table: cycles charged per visible operation and per modelled piece of work.

One table, every number with its source.  "fitted" numbers are the free parameters of
`uvmsim.runs.calibration`, fitted to ../shared/calibration.md §1 (C1-C5) and to nothing
else; the others are orders of magnitude from the sources named.  A CPU runs at `CPU_HZ`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from uvmsim.machine.failure import InputError

CPU_HZ = 3_000_000_000  # cycles per simulated second (a 3 GHz core)


@dataclass(frozen=True)
class CostTable:
    """Cycles per operation kind and per piece of work (see the module docstring)."""

    # Plain accesses: an L1 hit, and the extra when the line was last written by another
    # CPU: a cache-to-cache transfer, the same c as the mutex hand-off below.
    read: int = 2
    write: int = 2
    atomic: int = 20  # a locked RMW on a line this CPU owns (Agner Fog, uops tables)
    line_transfer: int = 150
    # Spin mutex: the CAS of an uncontended mtx_enter and the store of mtx_leave; `handoff`
    # is c in the Boyd-Wickizer model: a contended acquisition waits c*k/2 cycles, k CPUs
    # waiting.  calibration.md §3: ~190 ns per acquire+release for a CAS spinlock with 8
    # threads on one line, i.e. ~570 cycles at 3 GHz = c*(8/2) -> c ~ 150.
    mtx_enter: int = 25
    mtx_leave: int = 10
    handoff: int = 150
    # Sleeping rwlock: an uncontended rw_enter/rw_exit is one atomic each; a thread that
    # slept pays the wakeup (sched_wakeup + switch, ~5 us).
    rw_enter: int = 25
    rw_exit: int = 20
    wakeup_latency: int = 15_000
    sleep: int = 500
    wakeup: int = 200
    # Work (kernel_work names): zeroing and copying a 4 KiB page at ~16 bytes/cycle,
    # the 2D page-table walk of a user access that hits, synchronous disk I/O (~100 us).
    pagezero: int = 300
    pagecopy: int = 400
    user_access: int = 20
    swap_io: int = 300_000
    vnode_io: int = 300_000
    # Kernel time per workload operation outside the modelled UVM paths (trap entry and
    # exit, map lookup, KERNEL_LOCK-free parts of the fault handler): fitted.
    kernel_other: int = 6_000
    # pmemrange's tree work inside the fpageq lock per getpages/freepages call (RB-tree
    # search, split and coalesce of free ranges, which the model's one list does not
    # have): fitted.
    pmr_work: int = 1_500

    def work(self, name: str) -> int:
        cost = getattr(self, name, None)
        if not isinstance(cost, int):
            raise InputError(
                f"cost table: no entry for work {name!r}; accepted: "
                f"{', '.join(f.name for f in fields(self))}"
            )
        return cost


def cost_table(**overrides: int) -> CostTable:
    """The default table with some entries replaced; unknown names are an InputError."""
    known = {f.name for f in fields(CostTable)}
    for key, value in overrides.items():
        if key not in known:
            raise InputError(
                f"cost table: unknown entry {key!r}; accepted: {', '.join(sorted(known))}"
            )
        if not isinstance(value, int) or value < 0:
            raise InputError(f"cost table: {key} must be a non-negative integer, got {value!r}")
    return CostTable(**overrides)
