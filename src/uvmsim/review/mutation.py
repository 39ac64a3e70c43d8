"""R7, "a chunk was missed when rebasing": every switch of the protocol flipped alone is a
mutant, and the review says which check kills it, or why it survives.

A mutant is killed by a check when exploring the scenarios that exercise the switched code
finds a failure the protocol itself does not have there; else by a measurement when a
workload running that code takes a lock a different number of times per operation (a
structural difference, not noise: lock acquisitions per operation differ by more than 2%).
A mutant that survives is explained from its own runs: what flipping the switch changed in the
scenarios that exercise it (lock acquisitions over sampled executions), what the explorations
covered, and what the measurement saw; the switch's model note follows where there is one.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from uvmsim.check.token import failure_signature
from uvmsim.protocols import ALL_SWITCHES, SWITCHES, Protocol, Switch
from uvmsim.review.checks import explore, measure
from uvmsim.review.evidence import lock_class, sample
from uvmsim.review.verdict import Context, Control, Verdict


@dataclass
class Mutant:
    switch: str
    value: bool  # the value the mutant has
    status: str  # "killed by check" | "killed by measurement" | "survives"
    how: str
    seconds: float


def _signatures(ex) -> set[str]:
    return {failure_signature(f) for f, _s in ex.failures}


def _lock_counts(protocol: Protocol, scenario: str, executions: int) -> Counter:
    """Lock class -> acquisitions over `executions` sampled executions of `scenario`."""
    out: Counter = Counter()
    for trace in sample(protocol, scenario, executions):
        for step in trace:
            if step.kind in ("mtx_enter", "mtx_enter_try", "rw_enter", "rw_enter_try"):
                out[lock_class(step.obj)] += 1
    return out


def _survivor_reason(
    protocol: Protocol,
    mutant: Protocol,
    row: Switch,
    explored: list[str],
    measured: str | None,
) -> str:
    """Why nothing told the mutant apart, from its own runs: what flipping the switch changed
    where it was exercised, what the explorations covered, what the measurement saw."""
    changes = []
    for scenario in row.exercises:
        a = _lock_counts(protocol, scenario, SAMPLED)
        b = _lock_counts(mutant, scenario, SAMPLED)
        diff = [
            f"{lock} {a[lock]} -> {b[lock]}"
            for lock in sorted(set(a) | set(b))
            if a[lock] != b[lock]
        ]
        changes.append(
            f"in {scenario} it changes lock acquisitions over {SAMPLED} sampled executions: "
            + ", ".join(diff)
            if diff
            else f"in {scenario} it changes no lock acquisition in {SAMPLED} sampled executions"
        )
    parts = [
        f"flipping it ({row.doc}) " + "; ".join(changes),
        "no new or lost failure in " + "; ".join(explored),
        measured or "no timed workload runs this code",
    ]
    if row.may_survive:
        parts.append(f"model note: {row.may_survive}")
    return "; ".join(parts)


SAMPLED = 10  # executions sampled per scenario to see what a surviving mutant changed


def mutate(protocol: Protocol, switch: str, executions: int, sim_ops: int) -> Mutant:
    """The mutant of `protocol` with `switch` flipped, judged by the checks and measurement
    that exercise that switch."""
    t0 = time.monotonic()
    value = not getattr(protocol, switch)
    mutant = protocol.variant(f"{protocol.name}~{switch}", **{switch: value})
    status, how = _judge(protocol, mutant, ALL_SWITCHES[switch], executions, sim_ops)
    return Mutant(switch, value, status, how, time.monotonic() - t0)


def _judge(
    protocol: Protocol, mutant: Protocol, row: Switch, executions: int, sim_ops: int
) -> tuple[str, str]:
    """(status, how): killed by a check, killed by a measurement, or survives (and why)."""
    explored = []
    for scenario in row.exercises:
        for races in (False, True):
            base = explore(scenario, protocol, races=races, max_executions=executions)
            mine = explore(scenario, mutant, races=races, max_executions=executions)
            new = _signatures(mine) - _signatures(base)
            gone = _signatures(base) - _signatures(mine)
            if new:
                f = next(f for f, _s in mine.failures if failure_signature(f) in new)
                return "killed by check", f"{scenario}: {f.message} ({mine.executions} executions)"
            if gone:
                f = next(f for f, _s in base.failures if failure_signature(f) in gone)
                return (
                    "killed by check",
                    f"{scenario}: no longer fails with {f.message} ({mine.executions} executions)",
                )
            scope = "complete" if mine.complete else "bounded"
            explored.append(
                f"{scenario} ({'races' if races else 'invariants'}, {mine.executions} "
                f"executions, {scope})"
            )
    measured = None
    if row.measured_on is not None:
        workload = row.measured_on
        a = measure(workload, protocol, 16, sim_ops)
        b = measure(workload, mutant, 16, sim_ops)
        same = []
        for lock in ("pageqlock", "fpageqlock"):
            x = a.locks.get(lock, {}).get("acquisitions", 0) / max(1, a.ops)
            y = b.locks.get(lock, {}).get("acquisitions", 0) / max(1, b.ops)
            if abs(x - y) > 0.02 * max(x, y, 1e-9):
                return (
                    "killed by measurement",
                    f"{workload}, 16 CPUs: {lock} acquisitions per operation {x:.2f} -> {y:.2f}",
                )
            same.append(f"{lock} {x:.2f} -> {y:.2f}")
        measured = (
            f"on {workload} (16 CPUs) lock acquisitions per operation stay within 2%: "
            + ", ".join(same)
        )
    return "survives", _survivor_reason(protocol, mutant, row, explored, measured)


def mutation_analysis(
    protocol: Protocol, executions: int, sim_ops: int, progress=None
) -> list[Mutant]:
    out = []
    for switch in (s.name for s in SWITCHES):  # the hunks of the diff, not other switches
        if progress is not None:
            progress(f"R7: mutant {switch}")
        out.append(mutate(protocol, switch, executions, sim_ops))
    return out


def r7(ctx: Context) -> Verdict:
    """R7: the mutation score, with a control on the analysis itself: a mutant that changes
    nothing must survive, and one that removes the per-CPU magazines must be killed."""
    t0 = time.monotonic()
    ctx.note("R7: mutation analysis")
    b = ctx.bounds
    ctx.mutants = mutation_analysis(ctx.protocol, b.mutant_executions, b.sim_ops // 2, ctx.note)
    killed = sum(1 for m in ctx.mutants if m.status.startswith("killed"))
    v = Verdict(
        "R7",
        "Was a chunk missed when rebasing (does every hunk matter)?",
        "measured",
        f"mutation score {killed}/{len(ctx.mutants)}: every hunk flipped alone; "
        f"{len(ctx.mutants) - killed} survive, each explained below from its own runs",
    )
    ctx.note("R7: control mutants")
    null = _null_mutant(ctx.protocol, b.mutant_executions, b.sim_ops // 2)
    magazines = mutate(ctx.protocol, "percpu_magazines", b.mutant_executions, b.sim_ops // 2)
    v.control = Control(
        "a mutant that changes nothing, and one without the per-CPU magazines",
        "the first survives, the second is killed",
        f"{null.status}; {magazines.status} ({magazines.how})",
        null.status == "survives" and magazines.status.startswith("killed"),
    )
    v.evidence.append(f"control: {v.control.what}: {v.control.observed}")
    v.settle()
    v.seconds = time.monotonic() - t0
    return v


def _null_mutant(protocol: Protocol, executions: int, sim_ops: int) -> Mutant:
    """The analysis run on a "mutant" identical to the protocol (judged on what the magazine
    switch exercises, a check and a measurement): nothing may kill it."""
    t0 = time.monotonic()
    twin = protocol.variant(f"{protocol.name}~nothing")
    row = ALL_SWITCHES["percpu_magazines"]
    status, how = _judge(protocol, twin, row, executions, sim_ops)
    return Mutant("(none)", False, status, how, time.monotonic() - t0)
