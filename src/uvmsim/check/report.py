"""Counterexamples the way a kernel developer reads them.

The panic line; the interleaving as a per-CPU column view (one row per visible step: the
model function, the operation and its object, the locks the CPU held); the state changes of
the pages involved; the model stacks at the failure; `uvmsim replay TOKEN`; and, for a
bounded run, what was and was not covered.  `to_json` gives the same as one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.result import CheckResult, Coverage
from uvmsim.check.target import Target
from uvmsim.findings import FINDINGS, classify
from uvmsim.machine import Failure, ReplayEngine, peek
from uvmsim.machine.sites import site_line

COLUMN = 36


@dataclass
class Step:
    n: int  # 1-based
    cpu: int
    function: str
    op: str
    where: str  # file:line
    held: tuple[str, ...]


@dataclass
class Explanation:
    failure: Failure | None
    steps: list[Step] = field(default_factory=list)
    page_changes: list[tuple[int, int, str, str, str, str]] = field(default_factory=list)
    ncpu: int = 0


def _page_state(pg: Any) -> dict[str, str]:
    from uvmsim.uvm.uvm_page_h import flag_names

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


def explain(target: Target, schedule: tuple[int, ...]) -> Explanation:
    """Replay `schedule` recording every step and every change of a page's state."""
    pages_before: dict[str, dict[str, str]] = {}
    changes: list[tuple[int, int, str, str, str, str]] = []

    def observe(m: Any) -> None:
        from uvmsim.uvm.uvm import uvm

        step = m.steps  # steps executed so far; the last one changed what we see now
        cpu = m.schedule[step - 1] if step else -1
        for pg in uvm.pages:
            now = _page_state(pg)
            before = pages_before.get(pg.name)
            if before is not None and step:
                for key, value in now.items():
                    if before[key] != value:
                        changes.append((step, cpu, pg.name, key, before[key], value))
            pages_before[pg.name] = now

    observer = observe if hasattr(target, "scenario") else None
    r = target.execute(ReplayEngine(schedule), record=True, step_observer=observer)
    steps = []
    for n, (cpu, kind, name, fld, site, held) in enumerate(r.trace, start=1):
        obj = name if fld is None or not isinstance(fld, str) else f"{name}.{fld}"
        if kind == "work":
            obj = f"{fld} {name}" if name != "-" else str(fld)
        where = f"{site[0].co_filename.rsplit('/', 1)[-1]}:{site_line(site)}"
        steps.append(Step(n, cpu, site[0].co_name, f"{kind} {obj}", where, held))
    return Explanation(r.failure, steps, changes, target.cpus)


def _cell(text: str, width: int = COLUMN) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_interleaving(ex: Explanation) -> list[str]:
    """The per-CPU column view."""
    cols = [f"{'step':>5}"] + [f"{'cpu' + str(c):<{COLUMN}}" for c in range(ex.ncpu)]
    lines = ["  ".join(cols) + "  locks held when it ran"]
    for s in ex.steps:
        cells = [f"{s.n:>5}"]
        for c in range(ex.ncpu):
            cells.append(f"{_cell(s.function + ': ' + s.op) if c == s.cpu else '':<{COLUMN}}")
        lines.append("  ".join(cells) + "  " + (",".join(s.held) or "-"))
    return lines


def render_page_changes(ex: Explanation, limit: int = 60) -> list[str]:
    lines = []
    for step, cpu, page, key, old, new in ex.page_changes[-limit:]:
        lines.append(f"  step {step:>4} cpu{cpu}: {page}.{key}: {old} -> {new}")
    if len(ex.page_changes) > limit:
        lines.insert(0, f"  ({len(ex.page_changes) - limit} earlier changes not shown)")
    return lines


def coverage_line(res: CheckResult) -> str:
    c: Coverage = res.coverage
    if res.strategy == "replay":
        return f"replayed one execution of {c.deepest} steps"
    parts = [f"{c.executions} executions"]
    if res.strategy in ("dpor",):
        parts.append(f"{c.traces} traces, {c.redundant} redundant (sleep-set blocked)")
    parts.append(f"deepest {c.deepest} steps")
    if c.pruned:
        parts.append(f"{c.pruned} alternatives pruned by the bounds")
    if c.complete:
        scope = (
            "every interleaving up to equivalence"
            if res.strategy == "dpor"
            else (
                "every schedule"
                if res.bound.get("preemptions") is None
                else f"every schedule with <= {res.bound['preemptions']} preemptions"
            )
        )
        done = f"complete: {scope} explored" + (
            " within the bounds" if c.pruned and res.strategy == "dpor" else ""
        )
    elif c.stopped_by:
        done = f"stopped by --{c.stopped_by}: NOT complete, more interleavings remain"
    elif res.failure is not None:
        done = "stopped at the first failure"
    else:
        done = "sampled (not exhaustive)"
    return f"coverage ({res.strategy}): " + ", ".join(parts) + f"; {done}"


def render(
    res: CheckResult,
    ex: Explanation | None,
    token: str | None,
    minimized: Any = None,
    timing: bool = False,
) -> str:
    out: list[str] = []
    target = res.target
    head = ", ".join(f"{k} {v}" for k, v in target.items())
    f = res.failure
    if f is None:
        out.append(f"nothing found: {head}")
    else:
        out.append(f.message)
        finding = classify(f)
        if finding:
            title = next(x.title for x in FINDINGS if x.id == finding)
            out.append(f"  this is finding {finding} (docs/findings.md): {title}")
        out.extend(f"  at {s}" for s in f.sites)
        out.append("")
        out.append(f"{head}: {f.kind} after {f.step} visible steps")
        if minimized is not None:
            out.append(
                f"counterexample: {len(minimized.schedule)} steps, {minimized.preemptions} "
                f"preemptions (minimized from {minimized.original_steps} steps, "
                f"{minimized.original_preemptions} preemptions, in {minimized.executions} "
                "executions)"
            )
        if ex is not None:
            out.append("")
            out.append("interleaving:")
            out.extend(render_interleaving(ex))
            if ex.page_changes:
                out.append("")
                out.append("page state changes:")
                out.extend(render_page_changes(ex))
        out.append("")
        out.append("model stacks at the failure:")
        for cpu, stack in f.stacks:
            out.append(f"  cpu{cpu}: " + (" > ".join(stack) if stack else "(finished)"))
        if token:
            out.append("")
            out.append(f"replay: uvmsim replay {token}")
    out.extend(res.notes)
    out.append(coverage_line(res))
    if timing:
        out.append(f"time: {res.coverage.elapsed:.2f} s")
    return "\n".join(out)


def to_json(
    res: CheckResult, ex: Explanation | None, token: str | None, minimized: Any = None
) -> dict:
    c = res.coverage
    doc: dict[str, Any] = {
        "strategy": res.strategy,
        "target": res.target,
        "bounds": res.bound,
        "found": res.failure is not None,
        "coverage": {
            "executions": c.executions,
            "traces": c.traces,
            "redundant": c.redundant,
            "pruned": c.pruned,
            "deepest": c.deepest,
            "complete": c.complete,
            "stopped_by": c.stopped_by,
            "elapsed_s": round(c.elapsed, 3),
        },
        "notes": res.notes,
    }
    if res.failure is not None:
        doc["failure"] = res.failure.to_json()
        doc["finding"] = classify(res.failure)
        doc["replay_token"] = token
        if minimized is not None:
            doc["minimized"] = {
                "steps": len(minimized.schedule),
                "preemptions": minimized.preemptions,
                "original_steps": minimized.original_steps,
                "original_preemptions": minimized.original_preemptions,
            }
        if ex is not None:
            doc["interleaving"] = [
                {
                    "step": s.n,
                    "cpu": s.cpu,
                    "function": s.function,
                    "op": s.op,
                    "where": s.where,
                    "held": list(s.held),
                }
                for s in ex.steps
            ]
            doc["page_changes"] = [
                {"step": st, "cpu": cpu, "page": pg, "field": k, "old": o, "new": n}
                for st, cpu, pg, k, o, n in ex.page_changes
            ]
    return doc
