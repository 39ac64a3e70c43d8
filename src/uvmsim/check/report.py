"""Counterexamples the way a kernel developer reads them.

The panic line; the interleaving as a per-CPU column view (one row per visible step: the
model function, the operation and its object, the locks the CPU held), with the steps the
failure depends on marked; the state changes of the pages involved; the model stacks at the
failure and at the marked steps; the replay token on a line of its own; and, for a bounded run,
what was and was not covered.  `to_json` gives the same as one document.

Text is laid out for a given width (the terminal's, or 80 when piped) and is wrapped, never
cut: a cell's words wrap inside its column, and when the CPU columns cannot hold their longest
word side by side the view becomes one row per step with the CPU named.
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.result import CheckResult, Coverage
from uvmsim.check.target import Target
from uvmsim.machine import Failure, ReplayEngine
from uvmsim.machine import failure as fk
from uvmsim.machine.sites import model_stack, site_line

DEFAULT_WIDTH = 80
"""The width used when the output is not a terminal and COLUMNS is not set."""
MIN_WIDTH = 40
"""Narrower than this, text is laid out as if it had this width (and the terminal wraps)."""
MARK = ">"
"""Marks the steps the failure depends on, in the step column."""

_LEAD = 7  # "{n:>5} {mark}": the step number and the mark
_GAP = 2  # between columns


def output_width(width: int | None = None) -> int:
    """The width to lay text out for: `width`, else $COLUMNS or the terminal's, else 80.

    Piped output without $COLUMNS gets 80 columns, so what lands in a file or a mail reads at
    80 columns and is the same on every machine.
    """
    if width is None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(MIN_WIDTH, width)


@dataclass
class Step:
    n: int  # 1-based
    cpu: int
    function: str
    op: str
    where: str  # file:line
    held: tuple[str, ...]
    kind: str = ""  # read, write, atomic, mtx_enter, ... (the machine's operation kinds)
    obj: str = ""  # the object or field the operation touched ("pg6.uobject")
    stack: tuple[str, ...] = ()  # the CPU's model stack when it took the step


@dataclass
class Explanation:
    failure: Failure | None
    steps: list[Step] = field(default_factory=list)
    page_changes: list[tuple[int, int, str, str, str, str]] = field(default_factory=list)
    ncpu: int = 0
    marked: tuple[int, ...] = ()
    """Step numbers of the steps the failure depends on (see `mark_steps`)."""
    legend: str = ""
    """What the marked steps are, in words."""
    finding: tuple[str, str] | None = None
    """(id, title) of the known finding the failure is, as the target classifies it."""


def explain(target: Target, schedule: tuple[int, ...]) -> Explanation:
    """Replay `schedule` recording every step, its CPU's stack and every change of the state
    the target tracks (`Target.state_view`: a scenario's pages).

    The stacks are taken when a CPU posts its next operation (the step observer runs on the
    posting CPU, before it waits for its turn); the k-th operation a CPU posts is the k-th
    step it takes, so each recorded step gets the stack it was taken with.  That is how the
    CPU of a racing access that has finished since (often the reader) still has a stack.
    """
    pages_before: dict[str, dict[str, str]] = {}
    changes: list[tuple[int, int, str, str, str, str]] = []
    watch_pages = target.tracks_state
    pending: dict[int, tuple[str, ...]] = {}
    stacks: list[tuple[str, ...]] = []

    def take_stacks(m: Any) -> None:
        # Steps recorded since the last call were posted with the stack `pending` holds.
        for entry in m.trace[len(stacks) :]:
            stacks.append(pending.get(entry[0], ()))

    def observe(m: Any) -> None:
        take_stacks(m)
        cpu_now = m.current
        if cpu_now is not None:
            pending[cpu_now.index] = model_stack(sys._getframe(1))
        if not watch_pages:
            return
        step = m.steps  # steps executed so far; the last one changed what we see now
        cpu = m.schedule[step - 1] if step else -1
        for name, now in target.state_view().items():
            before = pages_before.get(name)
            if before is not None and step:
                for key, value in now.items():
                    if before[key] != value:
                        changes.append((step, cpu, name, key, before[key], value))
            pages_before[name] = now

    r = target.execute(ReplayEngine(schedule), record=True, step_observer=observe)
    for entry in r.trace[len(stacks) :]:
        stacks.append(pending.get(entry[0], ()))
    steps = []
    for n, (cpu, kind, name, fld, site, held) in enumerate(r.trace, start=1):
        obj = name if fld is None or not isinstance(fld, str) else f"{name}.{fld}"
        if kind == "work":
            obj = f"{fld} {name}" if name != "-" else str(fld)
        where = f"{site[0].co_filename.rsplit('/', 1)[-1]}:{site_line(site)}"
        steps.append(
            Step(n, cpu, site[0].co_name, f"{kind} {obj}", where, held, kind, obj, stacks[n - 1])
        )
    marked, legend = mark_steps(r.failure, steps)
    finding = None if r.failure is None else target.classify(r.failure)
    return Explanation(r.failure, steps, changes, target.cpus, marked, legend, finding)


# ---- which steps the failure depends on ---------------------------------------------------

_SITE = re.compile(r"([A-Za-z_]\w*) \(([^()\s]+:\d+)\)")
_CPU = re.compile(r"\bcpu(\d+)\b")
_WRITES = ("write", "atomic")
_LOCKS = frozenset({"mtx_enter", "mtx_enter_try", "rw_enter", "rw_enter_try"})
# What a site's words say its operation was: a step at the same line doing something else
# (a read on the line of a lock call) is not it.
_SITE_KINDS = (
    (" read at ", frozenset({"read"})),
    (" write at ", frozenset({"write"})),
    ("atomic update at ", frozenset({"atomic"})),
    ("acquired at ", _LOCKS),
    ("again at ", _LOCKS),
    ("held from ", _LOCKS),
)


def _site_steps(failure: Failure, steps: list[Step]) -> list[int]:
    """The steps the failure's sites name: the last step at each site, on the site's CPU.

    A site reads `cpu1 read at uvm_pageclean (uvm_page.py:477)` (a race), `first acquired
    at uvn_flush (uvm_vnode.py:127)` (a recursion: the failing CPU's) or `function
    (file:line)` for a KASSERT, whose own line is no visible step.  An acquisition that
    failed (`again at`, a lock-order reversal's second lock) never ran, so it names none.
    """
    found: list[int] = []
    upto = failure.step or len(steps)
    for site in failure.sites:
        m = _CPU.search(site)
        cpu = int(m.group(1)) if m else failure.cpu
        kinds = next((k for words, k in _SITE_KINDS if words in site), None)
        for function, where in _SITE.findall(site):
            for s in reversed(steps[:upto]):
                if (
                    s.function == function
                    and s.where == where
                    and cpu in (None, s.cpu)
                    and (kinds is None or s.kind in kinds)
                ):
                    if s.n not in found:
                        found.append(s.n)
                    break
    return sorted(found)


def _reads_from(failure: Failure, steps: list[Step]) -> list[int]:
    """The failing CPU's last step, and what its failing function read from other CPUs.

    The failing function is the one a site names (the KASSERT's), else the function of the
    CPU's last step.  Walking back over the failing CPU's steps while that function is on its
    stack gives the activation that failed; each of its reads of a field another CPU wrote
    last is marked with that write: the values the failure was computed from.
    """
    cpu = failure.cpu
    mine = [s for s in steps if s.cpu == cpu]
    if cpu is None or not mine:
        return []
    functions = {fn for site in failure.sites for fn, _w in _SITE.findall(site)}
    if not functions:
        functions = {mine[-1].function}
    marks = {mine[-1].n}
    activation = []
    for s in reversed(mine):
        if not functions & set(s.stack) and s.function not in functions:
            break
        activation.append(s)
    for read in activation:
        if read.kind != "read":
            continue
        for w in reversed(steps[: read.n - 1]):
            if w.obj == read.obj and w.kind in _WRITES:
                if w.cpu != cpu:
                    marks.update((w.n, read.n))
                break
    return sorted(marks)


def mark_steps(failure: Failure | None, steps: list[Step]) -> tuple[tuple[int, ...], str]:
    """The steps a failure depends on, and a legend saying what they are.

    A data race: its two accesses.  A recursion or lock-order reversal: the acquisitions its
    sites name.  A deadlock: the last step of every CPU still running.  A panic, KASSERT or
    invariant on a CPU: that CPU's last step, and the reads of its failing function that
    observed another CPU's write, with those writes.
    """
    if failure is None or not steps:
        return (), ""
    if failure.kind == fk.DEADLOCK:
        last = {s.cpu: s.n for s in steps}
        marks = sorted(last[c] for c, _stack in failure.stacks if c in last)
        return tuple(marks), "the last step of each CPU that cannot run"
    marks = _site_steps(failure, steps)
    if marks and failure.kind == fk.DATA_RACE:
        return tuple(marks), "the two racing accesses" if len(marks) == 2 else "the racing access"
    if marks:
        # The operation that failed (a second acquisition, a reversed lock) never ran: the
        # failing CPU's last step shows where it was.
        last = [s.n for s in steps if s.cpu == failure.cpu][-1:]
        legend = "the operations the failure names"
        if last and last[0] not in marks:
            legend += f", and the last step of cpu{failure.cpu} before it failed"
        return tuple(sorted({*marks, *last})), legend
    marks = _reads_from(failure, steps)
    if len(marks) > 1:
        return tuple(marks), (
            f"cpu{failure.cpu}'s last step, and each read by its failing function of a value "
            "another CPU wrote, with that write"
        )
    if marks:
        return tuple(marks), f"the last step of cpu{failure.cpu}"
    return (), ""


# ---- the column view ---------------------------------------------------------------------


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width`, broken at spaces only: a word is never split.

    A word longer than `width` gets a line of its own, longer than `width`: overflowing is
    better than cutting a function name.
    """
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def wrap_prose(text: str, width: int, indent: str = "  ") -> list[str]:
    """A sentence wrapped at spaces for `width` columns, continuation lines indented."""
    return textwrap.wrap(
        text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


def _longest_word(texts: Iterable[str]) -> int:
    return max((len(w) for t in texts for w in t.split()), default=0)


def _cell_text(s: Step) -> str:
    return f"{s.function}: {s.op}"


def _held_text(s: Step) -> str:
    return ", ".join(s.held) or "-"


def render_interleaving(ex: Explanation, width: int | None = None) -> list[str]:
    """The per-CPU column view for `width` columns, marked steps flagged with `MARK`.

    One column per CPU when every column can hold its longest word side by side with the
    locks; otherwise one row per step naming its CPU.  Either way every cell is wrapped at
    spaces, never cut.
    """
    width = output_width(width)
    lines = []
    if ex.marked:
        lines.extend(
            wrap_prose(
                f"{MARK} marks {ex.legend}: "
                + ", ".join(f"step {n} (cpu{ex.steps[n - 1].cpu})" for n in ex.marked),
                width,
            )
        )
    marked = set(ex.marked)
    cells = [_cell_text(s) for s in ex.steps]
    helds = [_held_text(s) for s in ex.steps]
    ncpu = max(ex.ncpu, 1 + max((s.cpu for s in ex.steps), default=0))
    word = max(_longest_word(cells), len("cpu99"))
    lock_word = max(_longest_word(helds), len("locks held"))
    longest_cell = max((len(c) for c in cells), default=0)
    longest_held = max((len(h) for h in helds), default=0)

    def lead(s: Step, i: int) -> str:
        return f"{s.n:>5} {MARK if s.n in marked else ' '}" if i == 0 else " " * _LEAD

    # Side by side: lead, a column per CPU, the locks.
    avail = width - _LEAD - _GAP * (ncpu + 1)
    if ncpu * word + lock_word <= avail:
        col = max(word, min(longest_cell, (avail - lock_word) // ncpu))
        lock_w = avail - ncpu * col
        head = [" step".ljust(_LEAD)] + [f"cpu{c}".ljust(col) for c in range(ncpu)]
        title = "locks held when it ran" if lock_w >= 22 else "locks held"
        lines.append("  ".join([*head, title]))
        for s, text, held in zip(ex.steps, cells, helds, strict=True):
            mine = _wrap(text, col)
            locks = _wrap(held, lock_w)
            for i in range(max(len(mine), len(locks))):
                row = [lead(s, i)]
                for c in range(ncpu):
                    row.append((mine[i] if c == s.cpu and i < len(mine) else "").ljust(col))
                row.append(locks[i] if i < len(locks) else "")
                lines.append("  ".join(row).rstrip())
        return lines
    # Too narrow: one row per step naming its CPU; the operation gets the room it needs
    # first, the locks what is left (at least their longest name).
    cpu_w = len(f"cpu{ncpu - 1}")
    avail = width - _LEAD - cpu_w - 3 * _GAP
    op_w = max(word, min(longest_cell, avail - lock_word))
    lock_w = max(lock_word, min(longest_held, avail - op_w))
    title = "locks held when it ran" if lock_w >= 22 else "locks held"
    lines.append(f"{' step':<{_LEAD}}  {'cpu':<{cpu_w}}  {'operation':<{op_w}}  {title}")
    for s, text, held in zip(ex.steps, cells, helds, strict=True):
        mine = _wrap(text, op_w)
        locks = _wrap(held, lock_w)
        for i in range(max(len(mine), len(locks))):
            who = f"cpu{s.cpu}" if i == 0 else ""
            op = mine[i] if i < len(mine) else ""
            lock = locks[i] if i < len(locks) else ""
            lines.append(f"{lead(s, i)}  {who:<{cpu_w}}  {op:<{op_w}}  {lock}".rstrip())
    return lines


def render_stacks(ex: Explanation | None, failure: Failure, width: int | None = None) -> list[str]:
    """The model stacks at the failure, then each marked step's stack when it was taken.

    A CPU that finished before the failure has no stack at the failure, yet its racing access
    is one of the two that matter: the marked steps give it.
    """
    width = output_width(width)
    out = ["model stacks at the failure:"]
    for cpu, stack in failure.stacks:
        out.extend(_stack_lines(f"  cpu{cpu}: ", stack, "(finished)", width))
    if ex is not None and ex.marked:
        out.append("model stacks at the marked steps:")
        for n in ex.marked:
            s = ex.steps[n - 1]
            out.extend(_stack_lines(f"  step {n} cpu{s.cpu} ({s.op}): ", s.stack, "?", width))
    return out


def _stack_lines(head: str, stack: tuple[str, ...], empty: str, width: int) -> list[str]:
    # A line breaks after a `>`, never inside a function name.
    units = [f"{name} >" for name in stack[:-1]] + list(stack[-1:]) if stack else [empty]
    return _fill_units(head, units, width, " " * 6)


def _fill_units(head: str, units: list[str], width: int, indent: str) -> list[str]:
    """`head` then `units` separated by spaces, a new line (indented) where one would overflow.

    Units are never split: one longer than the line overflows it rather than being cut.
    """
    lines: list[str] = []
    line = head
    fresh = True  # nothing but the head/indent on `line` yet
    for unit in units:
        if not fresh and len(line) + 1 + len(unit) > width:
            lines.append(line)
            line, fresh = indent, True
        line = line + unit if fresh else f"{line} {unit}"
        fresh = False
    lines.append(line)
    return lines


def replay_lines(token: str) -> list[str]:
    """The replay command, the token alone on the next line: never wrapped, whole to copy.

    The backslash makes both lines one shell command when pasted together.
    """
    return ["replay: uvmsim replay \\", token]


def render_page_changes(ex: Explanation, limit: int = 60, width: int | None = None) -> list[str]:
    """The last `limit` page state changes, one per line (wrapped before `->` if too long)."""
    width = output_width(width)
    lines = []
    for step, cpu, page, key, old, new in ex.page_changes[-limit:]:
        units = [f"step {step:>4} cpu{cpu}: {page}.{key}:", old, f"-> {new}"]
        lines.extend(_fill_units("  ", units, width, " " * 6))
    if len(ex.page_changes) > limit:
        lines.insert(0, f"  ({len(ex.page_changes) - limit} earlier changes not shown)")
    return lines


TRACE_STRATEGIES = ("dpor", "odpor")
"""Strategies that explore Mazurkiewicz traces: their coverage counts traces and blocked ones."""


def coverage_line(res: CheckResult) -> str:
    c: Coverage = res.coverage
    if res.strategy == "replay":
        return f"replayed one execution of {c.deepest} steps"
    parts = [f"{c.executions} executions"]
    if res.strategy in TRACE_STRATEGIES:
        parts.append(f"{c.traces} traces, {c.redundant} redundant (sleep-set blocked)")
    parts.append(f"deepest {c.deepest} steps")
    if c.pruned:
        parts.append(f"{c.pruned} alternatives pruned by the bounds")
    if c.complete:
        scope = (
            "every interleaving up to equivalence"
            if res.strategy in TRACE_STRATEGIES
            else (
                "every schedule"
                if res.bound.get("preemptions") is None
                else f"every schedule with <= {res.bound['preemptions']} preemptions"
            )
        )
        done = f"complete: {scope} explored" + (
            " within the bounds" if c.pruned and res.strategy in TRACE_STRATEGIES else ""
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
    width: int | None = None,
) -> str:
    """The whole report as text laid out for `width` columns (see `output_width`).

    The panic line, the sites and the coverage line stay one line each whatever the width (so
    grep finds them); the interleaving, the stacks and the finding's title wrap; the replay
    token is alone on its line, never wrapped.
    """
    width = output_width(width)
    out: list[str] = []
    target = res.target
    head = ", ".join(f"{k} {v}" for k, v in target.items())
    f = res.failure
    if f is None:
        out.append(f"nothing found: {head}")
    else:
        out.append(f.message)
        if ex is not None and ex.finding is not None:
            finding, title = ex.finding
            out.extend(
                wrap_prose(
                    f"  this is finding {finding} (docs/findings.md): {title}", width, "    "
                )
            )
        out.extend(f"  at {s}" for s in f.sites)
        out.append("")
        out.extend(wrap_prose(f"{head}: {f.kind} after {f.step} visible steps", width))
        if minimized is not None:
            out.extend(
                wrap_prose(
                    f"counterexample: {len(minimized.schedule)} steps, "
                    f"{minimized.preemptions} preemptions (minimized from "
                    f"{minimized.original_steps} steps, {minimized.original_preemptions} "
                    f"preemptions, in {minimized.executions} executions)",
                    width,
                )
            )
        if ex is not None:
            out.append("")
            out.append("interleaving:")
            out.extend(render_interleaving(ex, width))
            if ex.page_changes:
                out.append("")
                out.append("page state changes:")
                out.extend(render_page_changes(ex, width=width))
        out.append("")
        out.extend(render_stacks(ex, f, width))
        if token:
            out.append("")
            out.extend(replay_lines(token))
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
        doc["finding"] = ex.finding[0] if ex is not None and ex.finding else None
        doc["replay_token"] = token
        if minimized is not None:
            doc["minimized"] = {
                "steps": len(minimized.schedule),
                "preemptions": minimized.preemptions,
                "original_steps": minimized.original_steps,
                "original_preemptions": minimized.original_preemptions,
            }
        if ex is not None:
            marked = set(ex.marked)
            doc["interleaving"] = [
                {
                    "step": s.n,
                    "cpu": s.cpu,
                    "function": s.function,
                    "op": s.op,
                    "where": s.where,
                    "held": list(s.held),
                    "marked": s.n in marked,
                }
                for s in ex.steps
            ]
            doc["marked"] = {
                "legend": ex.legend,
                "steps": [
                    {
                        "step": n,
                        "cpu": ex.steps[n - 1].cpu,
                        "op": ex.steps[n - 1].op,
                        "stack": list(ex.steps[n - 1].stack),
                    }
                    for n in ex.marked
                ],
            }
            doc["page_changes"] = [
                {"step": st, "cpu": cpu, "page": pg, "field": k, "old": o, "new": n}
                for st, cpu, pg, k, o, n in ex.page_changes
            ]
    return doc
