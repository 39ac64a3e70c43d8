"""The questions the checker answers (R1, R2, R3, R5, R6): explorations, a control, and
explanations computed from what was found.

Each question names the failures its check looks for, the scenarios it explores, and two
probes: one on which the check must fire (a control harness or a protocol variant that breaks
the rule the question relies on) and one on which it must stay silent.  A "holds" is run
against the first, a "fails" against the second (verdict.Control); a control that does not
flip makes the verdict "unproven".  A "holds" names the scope explored and the mechanism the
sampled executions show; a "fails" describes the failure from its own kind, sites and field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from uvmsim.machine import Failure
from uvmsim.protocols import SWITCHES, Protocol
from uvmsim.review.checks import Exploration, explore
from uvmsim.review.evidence import (
    common_locks,
    describe_failure,
    field_updates,
    held_across,
    held_phrase,
    lock_taken_under,
    locks_phrase,
    sample,
)
from uvmsim.review.growth import reach
from uvmsim.review.verdict import Context, Control, Verdict
from uvmsim.scenarios.findings import classify


@dataclass(frozen=True)
class Probe:
    """A scenario on a protocol derived from the reviewed one, described for the report."""

    scenario: str
    protocol: Callable[[Protocol], Protocol]
    what: str


@dataclass(frozen=True)
class CheckedQuestion:
    id: str
    question: str
    looks_for: str  # the failures the check counts, in words
    scenarios: tuple[str, ...]
    test: Callable[[Failure], bool]
    fires_on: Probe  # the check must find something here
    silent_on: Probe  # and nothing here
    mechanism: Callable[[Context, tuple[str, ...]], str]  # how it holds, from samples
    races_on: bool = True  # explore with the race detector on, then off


# ---- what each check counts -------------------------------------------------------------------

_CLEANERS = ("uvm_pageclean", "uvm_pageremove", "uvm_pagedequeue", "uvm_pagefree")


def _r1(f: Failure) -> bool:
    m = f.message
    double_free = f.kind == "kassert" and "PQ_FREE" in m and "uvm_pmr_freepageq" in m
    return "two CPUs in uvm_pageclean" in m or "double free" in m or "I17" in m or double_free


def _r2(f: Failure) -> bool:
    """A scanner observed a page being cleaned: F1, or a race or assertion between a
    pagedaemon path and the cleaning of a page (not any failure of those scenarios)."""
    if f.kind == "recursion":
        return False
    if classify(f) == "F1":
        return True
    words = " ".join(f.sites) + " " + " ".join(" ".join(stack) for _cpu, stack in f.stacks)
    return any(c in words for c in _CLEANERS) and "uvmpd_" in words


def _r3(f: Failure) -> bool:
    return ("I6:" in f.message) or (f.kind == "data-race" and "uvmexp.wired" in f.message)


def _r5(f: Failure) -> bool:
    m = f.message
    return "stale mapping" in m or "still mapped" in m or "I12:" in m


def _r6(f: Failure) -> bool:
    return f.kind == "recursion"


# ---- the protocol variants the probes use -----------------------------------------------------


def _same(p: Protocol) -> Protocol:
    return p


def f1_window(p: Protocol) -> Protocol:
    """The diff's unlocked frees without the F1 fix: the window a scanner can see."""
    on = {s.name: True for s in SWITCHES}
    return p.variant(f"{p.name}~f1-window", pageclean_dequeue_before_remove=False, **on)


def f1_fixed(p: Protocol) -> Protocol:
    on = {s.name: True for s in SWITCHES}
    return p.variant(f"{p.name}~f1-fixed", pageclean_dequeue_before_remove=True, **on)


def plain_wired(p: Protocol) -> Protocol:
    return p.variant(f"{p.name}~plain-wired", wired_atomic=False)


def atomic_wired(p: Protocol) -> Protocol:
    return p.variant(f"{p.name}~atomic-wired", wired_atomic=True)


_DEQUEUE_FIRST = (
    "pdaemon_clean_dequeue_first",
    "pdaemon_released_dequeue_first",
    "uvn_flush_dequeue_first",
    "uvn_flush_cluster_dequeue_first",
)


def no_dequeue_first(p: Protocol) -> Protocol:
    """The diff's uvm_pageclean (it takes the pageq lock) without the dequeue-first hunks."""
    return p.variant(
        f"{p.name}~no-dequeue",
        pageclean_locks_dequeue=True,
        **dict.fromkeys(_DEQUEUE_FIRST, False),
    )


def dequeue_first(p: Protocol) -> Protocol:
    return p.variant(f"{p.name}~dequeue-first", **dict.fromkeys(_DEQUEUE_FIRST, True))


# ---- how a verdict that holds holds (from recorded samples) -----------------------------------


def _samples(ctx: Context, scenarios: tuple[str, ...]) -> list:
    n = ctx.bounds.sample_executions
    return [t for sc in scenarios for t in sample(ctx.protocol, sc, n)]


def _m1(ctx: Context, scenarios: tuple[str, ...]) -> str:
    pairs, held = common_locks(_samples(ctx, scenarios), {"uvm_pageclean", "uvm_pagefree"})
    if pairs == 0:
        return (
            "in the sampled executions no two CPUs were ever inside uvm_pageclean or "
            "uvm_pagefree on one page"
        )
    return f"inside uvm_pageclean and uvm_pagefree, {locks_phrase(pairs, held)}"


def _m2(ctx: Context, scenarios: tuple[str, ...]) -> str:
    funcs = {"uvmpd_scan_inactive", "uvmpd_trylockowner", *_CLEANERS}
    pairs, held = common_locks(_samples(ctx, scenarios), funcs)
    if pairs == 0:
        return "no scanner and cleaner touched one page in the sampled executions"
    return (
        f"{pairs} pairs of a pagedaemon access and a cleaner's access to one page were sampled "
        f"({locks_phrase(pairs, held)}); the race detector found every such pair ordered"
    )


def _m3(ctx: Context, scenarios: tuple[str, ...]) -> str:
    updates = field_updates(_samples(ctx, scenarios), "uvmexp", "wired")
    total = sum(updates.values())
    if total == 0:
        return "uvmexp.wired was not updated in the sampled executions"
    parts = [
        f"{n} {kind}{' under ' + ' and '.join(locks) if locks else ' with no lock'}"
        for (kind, locks), n in sorted(updates.items())
    ]
    return f"the {total} updates of uvmexp.wired sampled: " + "; ".join(parts)


def _m5(ctx: Context, scenarios: tuple[str, ...]) -> str:
    windows = held_across(_samples(ctx, scenarios), "pmap_page_protect", "uvm_pagefree")
    return held_phrase(windows, "pmap_page_protect", "uvm_pagefree")


def _m6(ctx: Context, scenarios: tuple[str, ...]) -> str:
    traces = _samples(ctx, scenarios)
    taken = sum(lock_taken_under(traces, "pageqlock", "uvm_pageclean"))
    return (
        f"uvm_pageclean took the pageqlock itself {taken} times in {len(traces)} sampled "
        "executions, never while its caller held it"
    )


QUESTIONS: tuple[CheckedQuestion, ...] = (
    CheckedQuestion(
        "R1",
        "Can two CPUs run uvm_pageclean() on the same page at once?",
        "two CPUs inside uvm_pageclean on one page, or a page freed twice",
        ("pageclean-race", "pdaemon-vs-free", "aiodone-vs-flush"),
        _r1,
        Probe(
            "control-double-free",
            _same,
            "two CPUs freeing one ownerless page with nothing held (control harness)",
        ),
        Probe(
            "control-serialized-free",
            _same,
            "the same two CPUs serialized, the page freed once (control harness)",
        ),
        _m1,
    ),
    CheckedQuestion(
        "R2",
        "Is 'caller must lock page queues' stale (is the lock not needed)?",
        "a scanner observing a page uvm_pageclean is cleaning without the caller's pageq lock",
        ("pageclean-race", "pdaemon-vs-free", "wired-counter", "bufcache-flip"),
        _r2,
        Probe("pageclean-race", f1_window, "the diff's unlocked frees without the F1 fix"),
        Probe("pageclean-race", f1_fixed, "the diff's unlocked frees with the F1 fix"),
        _m2,
    ),
    CheckedQuestion(
        "R3",
        "Can uvmexp.wired drift now that wired-- runs outside the pageqlock?",
        "lost update of uvmexp.wired (a race on it, or the counter off at the end)",
        ("wired-counter",),
        _r3,
        Probe("wired-counter", plain_wired, "the same protocol with plain ++/--"),
        Probe("wired-counter", atomic_wired, "the same protocol with atomic updates"),
        _m3,
    ),
    CheckedQuestion(
        "R5",
        "Can a fault map the page between pmap_page_protect(NONE) and uvm_pagefree()?",
        "page freed while still mapped, or mapped again after it was freed",
        ("fault-vs-free", "aiodone-vs-flush", "flush-vs-fault"),
        _r5,
        Probe(
            "control-fault-in-free-window",
            _same,
            "a free that drops the object lock between the two (control harness)",
        ),
        Probe(
            "control-free-holds-owner",
            _same,
            "the same free holding the object lock across both (control harness)",
        ),
        _m5,
    ),
    CheckedQuestion(
        "R6",
        "Do callers that hold the pageqlock recurse on it in uvm_pagefree()?",
        "recursion on the pageqlock (mtx pageqlock: locking against myself)",
        ("pdaemon-vs-free", "pdaemon-released", "flush-vs-fault", "hibernate-drop"),
        _r6,
        Probe(
            "flush-vs-fault", no_dequeue_first, "the same protocol without its dequeue-first hunks"
        ),
        Probe("flush-vs-fault", dequeue_first, "the same protocol with every dequeue-first hunk"),
        _m6,
        races_on=False,
    ),
)


def _relevant(ex: Exploration, test: Callable[[Failure], bool]) -> list:
    return [(f, s) for f, s in ex.failures if test(f)]


def _others(ex: Exploration, test: Callable[[Failure], bool]) -> list[str]:
    out = []
    for f, _s in ex.failures:
        if not test(f):
            tag = classify(f)
            out.append(f"{tag}: {f.message}" if tag else f.message)
    return sorted(set(out))


def _probe(ctx: Context, q: CheckedQuestion, probe: Probe, must_fire: bool) -> Control:
    proto = probe.protocol(ctx.protocol)
    ctx.note(f"{q.id}: control {probe.scenario} on {proto.name}")
    found: list = []
    executions = 0
    complete = True
    for races in (True, False) if q.races_on else (False,):
        ex = explore(probe.scenario, proto, races=races, max_executions=ctx.bounds.max_executions)
        found += _relevant(ex, q.test)
        executions += ex.executions
        complete = complete and ex.complete
    what = f"{probe.what}: {proto.name} on {probe.scenario}"
    scope = f"{executions:,} executions, {'complete' if complete else 'bounded'}"
    observed = f"fires: {describe_failure(found[0][0])}" if found else "silent"
    observed += f" ({scope})"
    return Control(what, "fires" if must_fire else "silent", observed, bool(found) == must_fire)


def ask(ctx: Context, q: CheckedQuestion) -> Verdict:
    """Explore the question's scenarios on the reviewed protocol, then its control."""
    t0 = time.monotonic()
    v = Verdict(q.id, q.question, "holds", "")
    relevant: list = []
    executions, complete = 0, True
    for sc in q.scenarios:
        for races in (True, False) if q.races_on else (False,):
            ctx.note(f"{q.id}: exploring {sc} on {ctx.protocol.name}")
            ex = explore(sc, ctx.protocol, races=races, max_executions=ctx.bounds.max_executions)
            ctx.record(ex)
            v.evidence.append(ex.describe())
            executions += ex.executions
            complete = complete and ex.complete
            found = _relevant(ex, q.test)
            relevant += [(sc, races, f, s) for f, s in found]
            others = _others(ex, q.test)
            if others:
                v.evidence.append("  other failures there (reported above): " + "; ".join(others))
            if not found and not ex.complete:
                v.evidence.append("  (bounded: raise the bounds with --thorough)")
    scope = (
        f"{len(q.scenarios)} scenario{'s' if len(q.scenarios) > 1 else ''}, "
        f"{executions:,} executions, "
        f"{'complete' if complete else 'bounded, NOT complete'}"
    )
    if relevant:
        sc, races, f, s = relevant[0]
        v.verdict, v.failure, v.counterexample = "fails", f, (sc, races, s)
        v.summary = f"yes: {describe_failure(f)}, in {sc}"
        v.control = _probe(ctx, q, q.silent_on, must_fire=False)
    else:
        ctx.note(f"{q.id}: sampling how it holds")
        v.summary = f"no {q.looks_for} ({scope}); {q.mechanism(ctx, q.scenarios)}"
        # How far the guarantee reaches beyond these shapes (issue 14): recorded growth runs.
        v.summary += f"; {reach(ctx.protocol.name, q.scenarios)}"
        v.control = _probe(ctx, q, q.fires_on, must_fire=True)
    v.evidence.append(f"control: {v.control.what}: {v.control.observed}")
    v.settle()
    v.seconds = time.monotonic() - t0
    return v
