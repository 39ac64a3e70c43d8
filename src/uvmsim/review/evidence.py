"""Explanations computed from what the checker saw, never typed in advance.

- `describe_failure`: a failure in one line from its own fields: kind, where, which field or
  lock, and the finding it is (if docs/findings.md records it).
- `sample`: recorded executions of a scenario under seeded random schedules; every step
  carries the CPU, the object and field touched, the function, and the locks held.
- `common_locks`: for accesses of different CPUs to one object in given functions (at least
  one a write), the lock classes held at both: what serialized them.
- `field_updates`: how a field is updated (atomics, plain stores, under which locks).
- `lock_taken_under`: how often a lock was taken while a given kernel function was on the
  stack (a per-call-site count, e.g. the fpageq round trips of uvn_flush's own frees).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from uvmsim.machine import Analyses, Failure, RandomEngine, RoundRobinEngine
from uvmsim.machine.sites import model_stack
from uvmsim.protocols import Protocol
from uvmsim.runs.names import get_scenario
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios.findings import FINDINGS, classify

_SITE = re.compile(r"(?:(cpu\d+) (\w+) at )?([A-Za-z_]\w*) \(([^()\s]+:\d+)\)")


def lock_class(name: str) -> str:
    """`aobj.vmobjlock` -> `vmobjlock`: a held lock's class, as WITNESS orders them."""
    return name.rsplit(".", 1)[-1]


def describe_failure(f: Failure) -> str:
    """The failure in one line, from its kind, message and sites."""
    finding = classify(f)
    tag = ""
    if finding is not None:
        title = next(x.title for x in FINDINGS if x.id == finding)
        tag = f" (finding {finding}: {title})"
    sites = [m.groups() for s in f.sites if (m := _SITE.search(s))]
    if f.kind == "data-race" and len(sites) >= 2:
        field = f.message.split("data race on ", 1)[-1].split(":", 1)[0]
        (c1, op1, fn1, at1), (c2, op2, fn2, at2) = sites[:2]
        return (
            f"a data race on {field}: {c1} {op1} in {fn1} ({at1}) and {c2} {op2} in {fn2} "
            f"({at2}), no lock ordering them{tag}"
        )
    if f.kind == "recursion" and len(sites) >= 2:
        lock = f.message.split("mtx ", 1)[-1].split(":", 1)[0]
        return (
            f"mutex recursion on {lock}: taken in {sites[0][2]} ({sites[0][3]}) and again in "
            f"{sites[1][2]} ({sites[1][3]}){tag}"
        )
    where = f" in {sites[0][2]} ({sites[0][3]})" if sites else ""
    text = f.message.removeprefix("panic: ").removeprefix("invariant violated: ")
    return f"{f.kind}{where}: {text}{tag}"


@dataclass(frozen=True)
class Step:
    cpu: int
    kind: str
    obj: str
    field: str | None
    function: str
    held: tuple[str, ...]
    stack: tuple[str, ...]


def sample(protocol: Protocol, scenario: str, executions: int = 30) -> list[list[Step]]:
    """Recorded executions of `scenario` on `protocol`: round-robin, then random seeds."""
    target = ScenarioTarget(get_scenario(scenario), protocol, analyses=Analyses(races=False))
    engines = [RoundRobinEngine()] + [RandomEngine(seed) for seed in range(executions - 1)]
    out = []
    for engine in engines:
        stacks: list[tuple[str, ...]] = []
        pending: dict[int, tuple[str, ...]] = {}

        def observe(m, stacks=stacks, pending=pending) -> None:
            for entry in m.trace[len(stacks) :]:
                stacks.append(pending.get(entry[0], ()))
            if m.current is not None:
                pending[m.current.index] = model_stack(sys._getframe(1))

        r = target.execute(engine, record=True, step_observer=observe)
        for entry in r.trace[len(stacks) :]:
            stacks.append(pending.get(entry[0], ()))
        out.append(
            [
                Step(
                    cpu,
                    kind,
                    name,
                    fld if isinstance(fld, str) else None,
                    site[0].co_name,
                    tuple(held),
                    stack,
                )
                for (cpu, kind, name, fld, site, held), stack in zip(r.trace, stacks, strict=True)
            ]
        )
    return out


def common_locks(
    traces: Iterable[list[Step]], functions: set[str], obj_prefix: str = "pg"
) -> tuple[int, Counter]:
    """(conflicting pairs, lock class -> pairs in which both CPUs held it).

    A conflicting pair: two accesses by different CPUs to one field of one object whose name
    starts with `obj_prefix`, both inside `functions`, at least one a write or an atomic.
    """
    pairs = 0
    held: Counter = Counter()
    for trace in traces:
        by_field: dict[tuple[str, str | None], list[Step]] = {}
        for s in trace:
            if s.function in functions and s.obj.startswith(obj_prefix) and s.field is not None:
                by_field.setdefault((s.obj, s.field), []).append(s)
        for steps in by_field.values():
            for i, a in enumerate(steps):
                for b in steps[i + 1 :]:
                    if a.cpu == b.cpu or "read" == a.kind == b.kind:
                        continue
                    pairs += 1
                    both = {lock_class(x) for x in a.held} & {lock_class(x) for x in b.held}
                    held.update(both)
    return pairs, held


def field_updates(traces: Iterable[list[Step]], obj: str, field: str) -> Counter:
    """(kind, lock classes held) -> updates of `obj.field` (writes and atomics)."""
    out: Counter = Counter()
    for trace in traces:
        for s in trace:
            if s.obj == obj and s.field == field and s.kind in ("write", "atomic"):
                out[(s.kind, tuple(sorted({lock_class(x) for x in s.held})))] += 1
    return out


def lock_taken_under(traces: Iterable[list[Step]], lock: str, function: str) -> list[int]:
    """Per execution: how many times `lock` (a lock class) was acquired with `function` on
    the acquiring CPU's stack."""
    return [
        sum(
            1
            for s in trace
            if s.kind in ("mtx_enter", "mtx_enter_try", "rw_enter", "rw_enter_try")
            and lock_class(s.obj) == lock
            and function in s.stack
        )
        for trace in traces
    ]


def locks_phrase(pairs: int, held: Counter) -> str:
    """What serialized the conflicting accesses, in words."""
    if pairs == 0:
        return "no two CPUs touched one page there in the sampled executions"
    always = sorted(c for c, n in held.items() if n == pairs)
    if always:
        return (
            f"{' and '.join(always)} held by both CPUs at each of the {pairs} conflicting "
            "accesses sampled"
        )
    top = held.most_common(1)
    if top:
        c, n = top[0]
        return f"{c} held at both accesses in {n} of {pairs} conflicting pairs sampled"
    return f"no lock held at both accesses of the {pairs} conflicting pairs sampled"


# Where the kernel drops the owner lock on purpose, with the page busy (PG_BUSY keeps every
# fault waiting until the I/O is done and the page unbusied).
IO_FUNCTIONS = frozenset({"uvn_io", "uvm_swap_io", "uvm_pager_put"})


def held_across(traces: Iterable[list[Step]], first: str, last: str) -> Counter:
    """(lock classes held throughout a window, whether it crossed an I/O) -> windows.

    A window: on one CPU, the steps from one taken with function `first` on the stack to the
    next taken with `last` on it (e.g. from pmap_page_protect to uvm_pagefree).  A lock held
    at every step of a window kept every other CPU that needs it out of the window; a window
    that held none and crossed no I/O was open to everyone.
    """
    windows: Counter = Counter()
    for trace in traces:
        open_at: dict[int, tuple[set[str], bool] | None] = {}
        for s in trace:
            classes = {lock_class(x) for x in s.held}
            io = not IO_FUNCTIONS.isdisjoint(s.stack)
            state = open_at.get(s.cpu)
            if first in s.stack and state is None:
                open_at[s.cpu] = (classes, io)
            elif state is not None:
                held, crossed = state[0] & classes, state[1] or io
                open_at[s.cpu] = (held, crossed)
                if last in s.stack:
                    windows[(tuple(sorted(held)), crossed)] += 1
                    open_at[s.cpu] = None
    return windows


def held_phrase(windows: Counter, first: str, last: str) -> str:
    total = sum(windows.values())
    if total == 0:
        return f"no {first} -> {last} window in the sampled executions"

    def what(key: tuple) -> str:
        locks, io = key
        if locks:
            return " and ".join(locks)
        return "no lock, across an I/O with the page busy" if io else "no lock"

    parts = [f"{what(k)} ({n})" for k, n in sorted(windows.items())]
    open_ = sum(n for (locks, io), n in windows.items() if not locks and not io)
    lead = (
        f"every one of the {total} {first} -> {last} windows sampled was closed to other CPUs"
        if not open_
        else f"{open_} of the {total} {first} -> {last} windows sampled held no lock throughout"
    )
    return f"{lead}: {', '.join(parts)}"
