"""Failures the model found in the kernel's own protocols, recognised by their signature.

A finding is not a bug of the model: it was verified against the kernel sources and recorded
in docs/findings.md.  Checks classify each failure they report, so a known finding is labelled
as such (and an expected "finding" of a scenario is met only by that finding, not by any
failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from uvmsim.machine.failure import Failure


@dataclass(frozen=True)
class Finding:
    id: str
    title: str
    matches: Callable[[Failure], bool]


def _f1(f: Failure) -> bool:
    if f.kind == "kassert":
        return '"anon != NULL"' in f.message and "uvmpd_trylockowner" in f.message
    if f.kind == "data-race":
        return (
            ".uobject" in f.message
            and any("uvm_pageremove" in s for s in f.sites)
            and any("uvmpd_" in s for s in f.sites)
        )
    return False


def _f2(f: Failure) -> bool:
    return (
        f.kind == "kassert"
        and '"uvmexp.swpgonly > 0"' in f.message
        and any("uvmpd_scan_inactive" in s for _c, stack in f.stacks for s in stack)
    )


def _f3(f: Failure) -> bool:
    # Where the page enters a magazine (the model's early check) or the free lists (the
    # kernel's KASSERT in uvm_pmr_freepages), with PG_WANTED among its flags.
    return (
        f.kind in ("invariant", "kassert")
        and "PG_WANTED" in f.message
        and ("per-CPU magazine" in f.message or "VALID_FLAGS" in f.message)
    )


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "F1",
        "after the diff the pagedaemon can see a queued page whose uobject uvm_pageclean has "
        "already cleared, and panics in uvmpd_trylockowner (KASSERT anon != NULL)",
        _f1,
    ),
    Finding(
        "F2",
        "not related to the diff (uvm_pdaemon.c 1.134-1.137): a one-page swap cluster whose "
        "write fails with VM_PAGER_AGAIN keeps its fresh slot; if the anon was released "
        "meanwhile, the pagedaemon's uvm_anfree decrements uvmexp.swpgonly for a page never "
        "counted as swap-only (KASSERT swpgonly > 0)",
        _f2,
    ),
    Finding(
        "F3",
        "not related to the diff (uvm_fault.c 1.171): a failed swap-in frees the page another "
        "thread sleeps on with PG_WANTED still set, and the allocator's KASSERT(VALID_FLAGS) "
        "panics when the page reaches the free lists",
        _f3,
    ),
)


def classify(failure: Failure | None) -> str | None:
    """The id of the recorded finding this failure is an instance of, or None."""
    if failure is None:
        return None
    for finding in FINDINGS:
        if finding.matches(failure):
            return finding.id
    return None
