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
from uvmsim.protocols import Protocol
from uvmsim.review.checks import explore, measure

# The scenarios that exercise each switch's functions (tests/uvm/test_switches.py checks
# that flipping each one changes what the model does there).
EXERCISES: dict[str, tuple[str, ...]] = {
    "anfree_list_unlocked": ("pageclean-race",),
    "anon_release_unlocked": ("aiodone-vs-flush",),
    "uao_detach_unlocked": ("pageclean-race",),
    "uao_flush_unlocked": ("fault-vs-free",),
    "uao_get_unlocked": ("swapin-error",),
    "anonget_unlocked": ("swapin-error",),
    "km_pgremove_unlocked": ("wired-counter",),
    "obj_free_unlocked": ("bufcache-flip",),
    "pagerealloc_multi_unlocked": ("bufcache-flip",),
    "pageclean_no_assert": ("fault-vs-free",),
    "pageclean_locks_dequeue": ("fault-vs-free",),
    "wired_atomic": ("wired-counter",),
    "aiodone_unlocked": ("aiodone-vs-flush",),
    "pdaemon_clean_dequeue_first": ("pdaemon-vs-free",),
    "pdaemon_released_dequeue_first": ("pdaemon-released",),
    "pdaemon_drop_unlocked": ("hibernate-drop",),
    "swap_freepages_unlocked": ("pageout-encrypted",),
    "uvn_flush_free_per_page": ("flush-vs-fault",),
    "uvn_flush_dequeue_first": ("flush-vs-fault",),
    "uvn_flush_cluster_dequeue_first": ("flush-vs-fault",),
    "percpu_magazines": ("fault-vs-free",),
    "pageclean_dequeue_before_remove": ("pageclean-race", "pdaemon-vs-free"),
}

# Where a switch's cost shows up in a timed workload.
MEASURED_ON: dict[str, str] = {
    "anfree_list_unlocked": "build",
    "pageclean_locks_dequeue": "build",
    "pageclean_no_assert": "build",
    "percpu_magazines": "build",
    "uvn_flush_free_per_page": "flush",
    "uvn_flush_dequeue_first": "flush",
    "uvn_flush_cluster_dequeue_first": "flush",
    "wired_atomic": "build",
    "pageclean_dequeue_before_remove": "build",
}

# Why a mutant may survive both, when it does (checked: only printed for survivors).
REASONS: dict[str, str] = {
    "uao_get_unlocked": "the page freed on uao_get's swap-in error path is fresh and never "
    "queued: with the pageq lock around the free nothing but one lock round trip changes, "
    "on an error path no workload takes",
    "anonget_unlocked": "the page freed on uvmfault_anonget's page-in error path was never "
    "queued or mapped: the pageq lock around it only costs a round trip on an error path",
    "obj_free_unlocked": "buffer-cache pages are never queued (and the kernel lock serializes "
    "the buffer cache): the pageq lock around their uvm_pageclean protects nothing",
    "pagerealloc_multi_unlocked": "the flipped buffer page is wired by hand and never queued: "
    "the pageq lock around its free protects nothing",
    "swap_freepages_unlocked": "swap bounce pages are private and never queued: the pageq "
    "lock around their free protects nothing",
    "aiodone_unlocked": "holding the pageq lock around uvm_page_unbusy only recurses for a "
    "released *object* page, and only anon pages are released in aiodone in practice: the "
    "extra lock is a cost on async pageout completion, which no timed workload here runs",
    "anon_release_unlocked": "the released anon page is dequeued by uvm_pageclean under the "
    "pageq lock either way; holding it longer only costs contention on a rare path",
    "pdaemon_drop_unlocked": "hibernate only: runs alone, and its pages are queued (the "
    "mutant recurses) only when the inactive queue holds clean object pages",
}


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
    for scenario in EXERCISES.get(switch, ()):
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
                    f"{scenario}: {f.message[:100]} ({mine.executions} executions)",
                    time.monotonic() - t0,
                )
            if gone:
                f = next(f for f, _s in base.failures if failure_signature(f) in gone)
                return Mutant(
                    switch,
                    value,
                    "killed by check",
                    f"{scenario}: no longer fails with {f.message[:90]} "
                    f"({mine.executions} executions)",
                    time.monotonic() - t0,
                )
    workload = MEASURED_ON.get(switch)
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
    reason = REASONS.get(switch)
    if reason is None:
        reason = (
            "no check or measurement tells it apart: a gap in the tool (no scenario "
            "or workload makes this hunk matter)"
        )
    return Mutant(switch, value, "survives", reason, time.monotonic() - t0)


def mutation_analysis(
    protocol: Protocol, executions: int, sim_ops: int, progress=None
) -> list[Mutant]:
    from uvmsim.protocols import SWITCHES

    out = []
    for switch in (s.name for s in SWITCHES):  # the hunks of the diff, not other switches
        if progress is not None:
            progress(f"R7: mutant {switch}")
        out.append(mutate(protocol, switch, executions, sim_ops))
    return out
