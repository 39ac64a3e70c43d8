"""R7, "a chunk was missed when rebasing": every switch of the protocol flipped alone is a
mutant, and the review says which check kills it, or why it survives.

A mutant is killed by a check when exploring the scenarios that exercise the switched code
finds a failure the protocol itself does not have there; else by a measurement when a
workload running that code takes a lock a different number of times per operation (a
structural difference, not noise: lock acquisitions per operation differ by more than 2%).
A mutant that neither kills explains itself: either the hunk does not matter for correctness
or cost in what the model runs (the reason is given), or no scenario exercises it (a gap in
the tool, said as such).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from uvmsim.check.token import failure_signature
from uvmsim.protocols import ALL_SWITCHES, SWITCHES, Protocol
from uvmsim.review.checks import explore, measure


@dataclass
class Mutant:
    switch: str
    value: bool  # the value the mutant has
    status: str  # "killed by check" | "killed by measurement" | "survives"
    how: str
    seconds: float


def _signatures(ex) -> set[str]:
    return {failure_signature(f) for f, _s in ex.failures}


def mutate(protocol: Protocol, switch: str, executions: int, sim_ops: int) -> Mutant:
    t0 = time.monotonic()
    value = not getattr(protocol, switch)
    mutant = protocol.variant(f"{protocol.name}~{switch}", **{switch: value})
    row = ALL_SWITCHES[switch]
    for scenario in row.exercises:
        for races in (False, True):
            base = explore(scenario, protocol, races=races, max_executions=executions)
            mine = explore(scenario, mutant, races=races, max_executions=executions)
            new = _signatures(mine) - _signatures(base)
            gone = _signatures(base) - _signatures(mine)
            if new:
                f = next(f for f, _s in mine.failures if failure_signature(f) in new)
                return Mutant(
                    switch,
                    value,
                    "killed by check",
                    f"{scenario}: {f.message} ({mine.executions} executions)",
                    time.monotonic() - t0,
                )
            if gone:
                f = next(f for f, _s in base.failures if failure_signature(f) in gone)
                return Mutant(
                    switch,
                    value,
                    "killed by check",
                    f"{scenario}: no longer fails with {f.message} ({mine.executions} executions)",
                    time.monotonic() - t0,
                )
    workload = row.measured_on
    if workload is not None:
        a = measure(workload, protocol, 16, sim_ops)
        b = measure(workload, mutant, 16, sim_ops)
        for lock in ("pageqlock", "fpageqlock"):
            x = a.locks.get(lock, {}).get("acquisitions", 0) / max(1, a.ops)
            y = b.locks.get(lock, {}).get("acquisitions", 0) / max(1, b.ops)
            if abs(x - y) > 0.02 * max(x, y, 1e-9):
                return Mutant(
                    switch,
                    value,
                    "killed by measurement",
                    f"{workload}, 16 CPUs: {lock} acquisitions per operation {x:.2f} -> {y:.2f}",
                    time.monotonic() - t0,
                )
    reason = row.may_survive
    if reason is None:
        reason = (
            "no check or measurement tells it apart: a gap in the tool (no scenario "
            "or workload makes this hunk matter)"
        )
    return Mutant(switch, value, "survives", reason, time.monotonic() - t0)


def mutation_analysis(
    protocol: Protocol, executions: int, sim_ops: int, progress=None
) -> list[Mutant]:
    out = []
    for switch in (s.name for s in SWITCHES):  # the hunks of the diff, not other switches
        if progress is not None:
            progress(f"R7: mutant {switch}")
        out.append(mutate(protocol, switch, executions, sim_ops))
    return out
