"""The named scenarios: each question of the review thread as a closed harness.

Expectations per protocol: "holds" (no interleaving fails), a failure kind that some
interleaving must reach, or "finding" (a failure of the kernel's own protocol, recorded in
docs/findings.md).

Sizes (issue 14, `base.Size`): each scenario says what more CPUs, more operations per CPU and
more pagedaemon passes mean for it; at the defaults the set-up and the programs are exactly
the original ones (the extra objects are made after the original ones, so that every shared
field keeps its name and the goldens their figures).
"""

from __future__ import annotations

from uvmsim.machine import RW_WRITE, atomic_clearbits_int, curcpu, peek, poke, rw_enter, rw_exit
from uvmsim.scenarios import setup as S  # noqa: N812  (S.fault_anon reads like a verb)
from uvmsim.scenarios.base import (
    Scenario,
    World,
    extra_cpus,
    ops_per_cpu,
    pagedaemon_passes,
    register,
)
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.mm_swap import lru_add_drain, move_folios_to_lru
from uvmsim.uvm.uvm import cpu_domain, uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_amap import amap_unref
from uvmsim.uvm.uvm_aobj import uao_create, uao_detach, uao_flush
from uvmsim.uvm.uvm_fault import (
    fault_entry,
    fault_range,
    uvm_fault,
    uvm_fault_lower,
    uvm_fault_unwire,
    uvm_fault_upper,
)
from uvmsim.uvm.uvm_km import uvm_km_pgremove
from uvmsim.uvm.uvm_page import (
    uvm_lock_pageq_for_queue_op,
    uvm_pageactivate,
    uvm_pagealloc,
    uvm_unlock_pageq_for_queue_op,
)
from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, PG_FAKE
from uvmsim.uvm.uvm_pager import PGO_CLEANIT, PGO_FREE, PGO_SYNCIO, uvm_aiodone_daemon
from uvmsim.uvm.uvm_pdaemon import uvm_pageout, uvmpd_drop_inactive, uvmpd_scan_inactive
from uvmsim.uvm.uvm_pdpolicy_clock import uvmpdpol_drain_at_rest, uvmpdpol_idle
from uvmsim.uvm.uvm_pmemrange import UVM_PMR_CACHEMAGSZ
from uvmsim.uvm.uvm_vnode import uvn_attach, uvn_flush
from uvmsim.uvm.vfs_biomem import bufcache_alloc, bufcache_flip_high, bufcache_free

P = PAGE_SIZE
ALL_PROTOCOLS_HOLD = {
    "openbsd-pre": "holds",
    "seed": "holds",
    "seed-plain-wired": "holds",
    "seed-no-dequeue-first": "holds",
    "openbsd-2024-nocache": "holds",
    "seed-fixed": "holds",
}


def _access_or_fault_anon(w: World, va: int, slot: int, write: bool = False) -> None:
    """A user access: through the MMU if mapped, else a fault on the anon slot first."""
    if not _pmap.pmap_user_access(w.pm, va, write):
        uvm_fault_upper(fault_entry(pmap=w.pm, va=va, amap=w.amap, slot=slot))
        _pmap.pmap_user_access(w.pm, va, write)


def _access_or_fault_object(w: World, va: int, uobj, offset: int, write: bool = False) -> None:
    if (
        not _pmap.pmap_user_access(w.pm, va, write)
        and uvm_fault_lower(fault_entry(pmap=w.pm, va=va, uobj=uobj, offset=offset)) == 0
    ):
        _pmap.pmap_user_access(w.pm, va, write)


def _flush_free(uobj) -> None:
    rw_enter(uobj.vmobjlock, RW_WRITE)
    uao_flush(uobj, 0, peek(uobj, "u_pages") * P, PGO_FREE)
    rw_exit(uobj.vmobjlock)


# ---- what extra CPUs and passes do in the scenarios that grow that way ------------------------

MAX_CPUS = 8  # a scenario's CPUs at most: far past what an exhaustive run finishes
MAX_OPS = 4
MAX_PASSES = 4
EXITING = extra_cpus(MAX_CPUS, "another process exits (amap_unref) with a clean inactive anon page")


def _exiting_setup(w: World, first: int) -> None:
    """The processes of CPUs `first`.. (beyond the original roles): each has one anon page,
    paged out once (clean, with a swap slot) and deactivated, as in pageclean-race; each
    exits on its CPU (`_exiting_programs`), its amap_unref freeing the page (uvm_anfree ->
    uvm_pagefree) against whatever the original roles do to the queues and the allocator."""
    w.exiting = []
    for k in range(first, w.size.cpus):
        pm = S.new_pmap(f"exiting{k}")
        amap = S.new_amap(f"exiting{k}")
        S.fault_anon(pm, 0x1000, amap, 0)
        S.clean_anon(amap, 0)
        S.deactivate_anon(amap, 0)
        w.exiting.append(amap)


def _exiting_programs(w: World) -> list:
    return [lambda a=a: amap_unref(a) for a in w.exiting]


# More pagedaemon passes are more rounds of its loop: uvm_pageout(rounds=w.size.passes), called
# straight from the CPU's program so that counterexamples show the stacks they always did.


# ---- pageclean-race (R1) ---------------------------------------------------------------------


def _pageclean_race_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=2)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.clean_anon(w.amap, 0)
    S.deactivate_anon(w.amap, 0)
    # A zero-filled aobj page never paged out: dirty and without a swap slot, so freeing it
    # needs no uvm_swap_free (which waits for the kernel lock the pagedaemon holds).
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.deactivate_object_page(w.aobj, 0)
    _exiting_setup(w, 3)


register(
    Scenario(
        name="pageclean-race",
        cpus=3,
        pages=12,
        summary="two free paths reach one page: an exiting process frees its anon, the last "
        "reference of an aobj goes, and the pagedaemon wants the same inactive pages (a "
        "clean anon page, a dirty aobj page)",
        questions=("R1",),
        setup=_pageclean_race_setup,
        program=lambda w: [
            lambda: amap_unref(w.amap),
            lambda: uao_detach(w.aobj),
            lambda: uvm_pageout(rounds=w.size.passes, shortage=2),
            *_exiting_programs(w),
        ],
        expect={
            "openbsd-pre": "holds",
            "seed": "finding",
            "seed-plain-wired": "finding",
            "seed-no-dequeue-first": "finding",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
        # A machine with at most 4 GiB: every page is DMA-reachable, so every free bypasses
        # the per-CPU magazines (one fpageq acquisition each).
        world={"dma_share": 1.0},
        sizes=(EXITING, pagedaemon_passes(MAX_PASSES)),
    )
)


# ---- pdaemon-vs-free (R6) ---------------------------------------------------------------------


def _swap_only_elsewhere(w: World) -> None:
    """Another process has a page that lives only in swap (uvmexp.swpgonly is 1), as on any
    system that has swapped: without it the released-page path trips finding F2 first."""
    w.other = S.new_amap("other")
    S.fault_anon(w.pm, 0x9000, w.other, 0)
    S.clean_anon(w.other, 0)
    S.evict_anon(w.other, 0)


def _pdaemon_vs_free_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=2)
    _swap_only_elsewhere(w)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.clean_anon(w.amap, 0)
    S.deactivate_anon(w.amap, 0)
    S.fault_anon(w.pm, 0x2000, w.amap, 1)  # dirty: the pagedaemon pages it out
    S.deactivate_anon(w.amap, 1)
    S.fault_object(w.pm, 0x3000, w.aobj, 0)  # dirty, no swap slot
    S.deactivate_object_page(w.aobj, 0)
    _exiting_setup(w, 3)


register(
    Scenario(
        name="pdaemon-vs-free",
        cpus=3,
        pages=12,
        summary="the pagedaemon's inactive scan frees a clean anon page and starts an async "
        "swap write of a dirty anon and a dirty aobj page while other CPUs free queued anon "
        "and aobj pages (amap wipeout, uao_flush)",
        questions=("R6",),
        setup=_pdaemon_vs_free_setup,
        program=lambda w: [
            lambda: uvm_pageout(rounds=w.size.passes, shortage=3),
            lambda: amap_unref(w.amap),
            lambda: _flush_free(w.aobj),
            *_exiting_programs(w),
        ],
        expect={
            "openbsd-pre": "holds",
            "seed": "finding",
            "seed-plain-wired": "finding",
            "seed-no-dequeue-first": "recursion",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
        sizes=(EXITING, pagedaemon_passes(MAX_PASSES)),
    )
)


# ---- pdaemon-marker (openbsd-2026's PQ_ITER scans) -----------------------------------------


def _pdaemon_marker_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)  # dirty: written in a one-slot swap cluster
    S.deactivate_anon(w.amap, 0)
    S.fault_anon(w.pm, 0x2000, w.amap, 1)  # the next page of the inactive scan
    S.clean_anon(w.amap, 1)
    S.deactivate_anon(w.amap, 1)
    S.fault_anon(w.pm, 0x3000, w.amap, 2)  # active: the active scan deactivates it
    # Another process's active pages, so that the inactive target (a third of the queued
    # pages) wants one more inactive page.
    w.other = S.new_amap("other")
    for i in range(6):
        S.fault_anon(w.pm, 0x10000 + i * P, w.other, i)


register(
    Scenario(
        name="pdaemon-marker",
        cpus=2,
        pages=12,
        summary="the pagedaemon writes a dirty anon page in a one-slot swap cluster with the "
        "pageq lock dropped while the process exits and frees the next inactive page, then "
        "deactivates an active page: its scans must keep their place (openbsd-2026's PQ_ITER "
        "marker, 1.134's re-validated nextpg)",
        questions=("R6",),
        setup=_pdaemon_marker_setup,
        program=lambda w: [
            lambda: uvm_pageout(rounds=w.size.passes, shortage=2),
            lambda: amap_unref(w.amap),
        ],
        expect={**ALL_PROTOCOLS_HOLD, "openbsd-2026": "holds"},
        swap={"fragmented": True},
        sizes=(pagedaemon_passes(MAX_PASSES),),
    )
)


# ---- second-scanner (a marker page met by another scan) --------------------------------------


def _second_scanner_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    for slot in range(3):
        S.fault_anon(w.pm, 0x1000 + slot * P, w.amap, slot)
        S.clean_anon(w.amap, slot)
        S.deactivate_anon(w.amap, slot)
    uvmpdpol_drain_at_rest()
    # The first inactive page was referenced again through another mapping: the scan
    # reactivates it, dropping the pageq lock with its marker left in the queue.
    first = peek(peek(w.amap, "am_anon")[0], "an_page")
    poke(first, "pg_flags", peek(first, "pg_flags") | _pmap.PG_PMAP_REF)


def _scan_without_kernel_lock() -> None:
    """One inactive scan as the pagedaemon's, run by a second scanner: the kernel has one
    (the pagedaemon, under the kernel lock), so this is what a second one would meet."""
    lru = uvm.proto.lru_batch
    if lru:  # as uvm_pageout's round does around its scans (linux-lruvec)
        lru_add_drain()
    if uvm.nshards > 1:
        # `lru_shards`: the set-up ran on cpu0, so its pages are in cpu0's domain; both
        # scanners scan that shard (per-domain daemons, two of one domain)
        curcpu().local["pagequeues"] = uvm.pagequeues[cpu_domain(0)]
    uvm_lock_pageq()
    uvmpd_scan_inactive(3)
    if lru:
        move_folios_to_lru()
    uvm_unlock_pageq()


register(
    Scenario(
        name="second-scanner",
        cpus=2,
        pages=12,
        summary="two CPUs scan the inactive queue at once, one dropping the pageq lock to "
        "reactivate a referenced page with its PQ_ITER marker left in the queue: the kernel "
        "has one scanner (the pagedaemon, under the kernel lock); a second one (per-domain "
        "daemons, an unlocked pagedaemon) meets the other scan's marker",
        questions=(),
        setup=_second_scanner_setup,
        program=lambda w: [_scan_without_kernel_lock] * w.size.cpus,
        # openbsd-2026: the second scan takes the first one's marker for a page (the
        # KASSERT in uvmpd_trylockowner) or its iterator spins behind it for ever; the
        # 1.134 scans keep no marker, and the peers keep the pageq lock across the
        # reactivation (the scans never interleave).
        expect={
            **ALL_PROTOCOLS_HOLD,
            "openbsd-2026": "fails",
            "netbsd-intent": "holds",
            "freebsd-batch": "holds",
            "linux-lruvec": "holds",
        },
        sizes=(extra_cpus(MAX_CPUS, "another scanner"),),
    )
)


# ---- intent-on-freed-page (netbsd-intent's per-CPU intent queues) ---------------------------


def _intent_freed_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.aobj = uao_create("aobj", npages=1)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.deactivate_object_page(w.aobj, 0)  # unmapped and inactive: the next access faults
    w.other = S.new_pmap("other")
    w.amap = S.new_amap("amap")
    w.extra = [(S.new_pmap(f"extra{k}"), S.new_amap(f"extra{k}")) for k in range(2, w.size.cpus)]


def _fault_fresh_then_idle(pm, amap) -> None:
    """An extra CPU: its process faults a fresh anon page (an activate intent on its own
    queue, a page from its own magazine), then the CPU goes idle."""
    uvm_fault_upper(fault_entry(pmap=pm, va=0x5000, amap=amap, slot=0))
    uvmpdpol_idle()


def _touch_then_idle(w: World) -> None:
    """cpu0: the process touches its object page (a fault that re-activates it: with intents
    an activate intent on cpu0's queue), then cpu0 goes idle (its queue drains by try-lock)."""
    _access_or_fault_object(w, 0x2000, w.aobj, 0)
    uvmpdpol_idle()


def _free_then_reuse(w: World) -> None:
    """cpu1: the object's last reference frees its pages (the page leaves its owner with a
    dequeue intent, maybe while its activate intent waits in cpu0's queue), then another
    process faults a fresh anon page (which the allocator hands out from cpu1's magazine:
    the page just freed), then cpu1 goes idle."""
    _flush_free(w.aobj)
    uvm_fault_upper(fault_entry(pmap=w.other, va=0x5000, amap=w.amap, slot=0))
    uvmpdpol_idle()


register(
    Scenario(
        name="intent-on-freed-page",
        cpus=2,
        pages=12,
        summary="a page's queue intent waits in one CPU's intent queue while another CPU frees "
        "the page and hands it out again: realizing the entry must do what the page wants "
        "now, under its interlock (netbsd-intent; elsewhere a fault against a free and a "
        "fresh fault)",
        questions=(),
        setup=_intent_freed_setup,
        program=lambda w: [
            lambda: _touch_then_idle(w),
            lambda: _free_then_reuse(w),
            *[lambda pm=pm, amap=amap: _fault_fresh_then_idle(pm, amap) for pm, amap in w.extra],
        ],
        expect={
            **ALL_PROTOCOLS_HOLD,
            "openbsd-2026": "holds",
            "netbsd-intent": "holds",
            "linux-lruvec": "holds",
        },
        # No constrained memory: every free goes to the freeing CPU's magazine, whose next
        # allocation hands the same page out again.
        world={"dma_share": 0.0},
        sizes=(extra_cpus(MAX_CPUS, "another process faults a fresh anon page, then idles"),),
    )
)


# ---- batch-entry-reused-page (freebsd-batch's per-CPU batch queues) -------------------------


def _free_reuse_move(w: World) -> None:
    """cpu1: the object's last reference frees its page (a dequeue request; the page may stay
    queued, its activate request maybe still in cpu0's batch), another process faults a
    fresh anon page (the same page, from cpu1's magazine: with freebsd-batch the allocator
    dequeues it first), then that page is deactivated (a move between queues: dequeued at
    once under the queue lock while cpu0's stale entry may still wait), then cpu1 idles."""
    _flush_free(w.aobj)
    uvm_fault_upper(fault_entry(pmap=w.other, va=0x5000, amap=w.amap, slot=0))
    S.deactivate_anon(w.amap, 0)
    uvmpdpol_idle()


register(
    Scenario(
        name="batch-entry-reused-page",
        cpus=2,
        pages=12,
        summary="a page's batch entry waits in one CPU's batch while another CPU frees the "
        "page, hands it out again and moves it to the other queue: processing the stale "
        "entry must apply only what the page's queue-state word asks now (freebsd-batch; "
        "elsewhere a fault against a free, a fresh fault and a deactivation)",
        questions=(),
        setup=_intent_freed_setup,
        program=lambda w: [
            lambda: _touch_then_idle(w),
            lambda: _free_reuse_move(w),
            *[lambda pm=pm, amap=amap: _fault_fresh_then_idle(pm, amap) for pm, amap in w.extra],
        ],
        expect={
            **ALL_PROTOCOLS_HOLD,
            "openbsd-2026": "holds",
            "netbsd-intent": "holds",
            "freebsd-batch": "holds",
            "linux-lruvec": "holds",
        },
        world={"dma_share": 0.0},
        sizes=(extra_cpus(MAX_CPUS, "another process faults a fresh anon page, then idles"),),
    )
)


# ---- lru-batch-ref-free (linux-lruvec's per-CPU folio batches and the LRU flag) ------------


def _free_reuse_reclaim(w: World) -> None:
    """cpu1: the object's last reference frees its page (with linux-lruvec the owner's
    reference goes; cpu0's activation batch may still hold one, and then that batch frees
    the page), another process faults a fresh anon page (from cpu1's magazine), then cpu1
    runs the pagedaemon for one page (it drains its own batches and isolates by the LRU
    flag, against cpu0's batch clearing the same flag), then idles."""
    _flush_free(w.aobj)
    uvm_fault_upper(fault_entry(pmap=w.other, va=0x5000, amap=w.amap, slot=0))
    uvm_pageout(shortage=1)
    uvmpdpol_idle()


register(
    Scenario(
        name="lru-batch-ref-free",
        cpus=2,
        pages=12,
        summary="a page waits in one CPU's per-CPU batch while another CPU frees it, faults a "
        "fresh page and reclaims: the batch's reference must keep the page from the "
        "allocator until the batch lets go, and the LRU flag must give the page to one of "
        "the batch and the pagedaemon at a time (linux-lruvec; elsewhere a fault against a "
        "free, a fresh fault and a pagedaemon pass)",
        questions=(),
        setup=_intent_freed_setup,
        program=lambda w: [
            lambda: _touch_then_idle(w),
            lambda: _free_reuse_reclaim(w),
            *[lambda pm=pm, amap=amap: _fault_fresh_then_idle(pm, amap) for pm, amap in w.extra],
        ],
        expect={
            **ALL_PROTOCOLS_HOLD,
            "openbsd-2026": "holds",
            "netbsd-intent": "holds",
            "freebsd-batch": "holds",
            "linux-lruvec": "holds",
        },
        world={"dma_share": 0.0},
        sizes=(extra_cpus(MAX_CPUS, "another process faults a fresh anon page, then idles"),),
    )
)


def _intent_scan_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    # A zero-filled aobj page never paged out, inactive, first in the scan's way: freeing it
    # needs no swap slot given back, so no kernel lock (which the pagedaemon holds).
    w.aobj = uao_create("aobj", npages=1)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.deactivate_object_page(w.aobj, 0)
    # With intents, realize it now: a drain realizes its batch newest first (NetBSD fills
    # the queue downwards and drains it upwards), which would put it behind the others.
    uvmpdpol_drain_at_rest()
    w.others = S.new_amap("others")  # more clean inactive pages, behind it
    for i in range(2):
        S.fault_anon(w.pm, 0x10000 + i * P, w.others, i)
        S.clean_anon(w.others, i)
        S.deactivate_anon(w.others, i)
    w.other = S.new_pmap("other")
    w.fresh = S.new_amap("fresh")


def _exit_reuse_idle(w: World) -> None:
    """cpu0: the object's last reference frees its page (with intents still on the inactive
    queue, a dequeue intent pending), another process faults a fresh page (the same one,
    from cpu0's magazine: an activate intent replaces the dequeue), then cpu0 goes idle."""
    _flush_free(w.aobj)
    uvm_fault_upper(fault_entry(pmap=w.other, va=0x5000, amap=w.fresh, slot=0))
    uvmpdpol_idle()


register(
    Scenario(
        name="intent-vs-scan",
        cpus=2,
        pages=12,
        summary="the pagedaemon's inactive scan meets a page that a flush freed and a fault "
        "reused while its queue intents wait in another CPU's intent queue: it must realize "
        "what the page wants now and skip it, never try the owner of a page in flux "
        "(netbsd-intent; elsewhere the pagedaemon against a free and a fault: finding F1 "
        "after the diff)",
        questions=(),
        setup=_intent_scan_setup,
        program=lambda w: [
            lambda: _exit_reuse_idle(w),
            lambda: uvm_pageout(rounds=w.size.passes, shortage=1),
        ],
        # Without intents the freed object page is the window of finding F1 (its uobject
        # cleared while it is still queued), and without the dequeue-first hunks the
        # pagedaemon's free recurses on the pageq lock first.
        expect={
            "openbsd-pre": "holds",
            "seed": "finding",
            "seed-plain-wired": "finding",
            "seed-no-dequeue-first": "recursion",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
            "openbsd-2026": "finding",
            "netbsd-intent": "holds",
            "linux-lruvec": "holds",
        },
        world={"dma_share": 0.0},
        sizes=(pagedaemon_passes(MAX_PASSES),),
    )
)


def _pdaemon_released_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)  # dirty: the pagedaemon pages it out
    S.deactivate_anon(w.amap, 0)
    _swap_only_elsewhere(w)
    _exiting_setup(w, 2)


# The path of finding F2: swap too fragmented for a cluster (uvm_swap_alloc falls back to one
# slot, so the cluster is the page alone and is written at once with it as the page of
# interest) and the NOWAIT pool_get(&bufpool) failing (VM_PAGER_AGAIN before any I/O).
F2_SWAP = {"fragmented": True, "bufpool_fail": 1}

register(
    Scenario(
        name="pdaemon-released",
        cpus=2,
        pages=12,
        summary="the pagedaemon's one-page swap cluster gets VM_PAGER_AGAIN while the process "
        "exits: the anon is freed in the window where the pagedaemon holds no owner lock "
        "(PG_RELEASED) and the pagedaemon frees the page after it, with the pageq lock held",
        questions=("R6",),
        setup=_pdaemon_released_setup,
        program=lambda w: [
            lambda: uvm_pageout(rounds=w.size.passes, shortage=1),
            lambda: amap_unref(w.amap),
            *_exiting_programs(w),
        ],
        expect={**ALL_PROTOCOLS_HOLD, "seed-no-dequeue-first": "recursion"},
        swap=F2_SWAP,
        sizes=(EXITING, pagedaemon_passes(MAX_PASSES)),
    )
)


def _swpgonly_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)  # dirty: the pagedaemon pages it out
    S.deactivate_anon(w.amap, 0)
    _exiting_setup(w, 2)


register(
    Scenario(
        name="swpgonly-released",
        cpus=2,
        pages=12,
        summary="finding F2: as pdaemon-released (one-page cluster, VM_PAGER_AGAIN, the anon "
        "released meanwhile), with no other page living only in swap: the pagedaemon's "
        "uvm_anfree of the released anon trips KASSERT(uvmexp.swpgonly > 0)",
        questions=(),
        setup=_swpgonly_setup,
        program=lambda w: [
            lambda: uvm_pageout(rounds=w.size.passes, shortage=1),
            lambda: amap_unref(w.amap),
            *_exiting_programs(w),
        ],
        expect={name: "finding" for name in ALL_PROTOCOLS_HOLD},
        swap=F2_SWAP,
        sizes=(EXITING, pagedaemon_passes(MAX_PASSES)),
    )
)


register(
    Scenario(
        name="again-cluster",
        cpus=2,
        pages=12,
        summary="as swpgonly-released, but swap has room for a whole cluster: the page is "
        "written as part of the final cluster (no page of interest), VM_PAGER_AGAIN drops "
        "the cluster (slot zeroed, anon released by uvm_pager_dropcluster): no F2",
        questions=(),
        setup=_swpgonly_setup,
        program=lambda w: [
            lambda: uvm_pageout(rounds=w.size.passes, shortage=1),
            lambda: amap_unref(w.amap),
            *_exiting_programs(w),
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        swap={"bufpool_fail": 1},
        sizes=(EXITING, pagedaemon_passes(MAX_PASSES)),
    )
)


# ---- wired-counter (R3) -------------------------------------------------------------------------


def _wired_counter_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.kpm = S.new_pmap("kernel_pmap")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=1)
    w.kobj = uao_create("kernel_object", npages=2, kernel=True)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.fault_object(w.kpm, 0x8000, w.kobj, 0, wired=True)  # wired kernel memory
    S.fault_object(w.kpm, 0x9000, w.kobj, P)  # pageable kernel memory: queued


def _wire_unwire_anon(w: World) -> None:
    """mlock then munlock of the anon page, `w.size.ops` times (uvm_fault_wire/unwire)."""
    for _ in range(w.size.ops):
        e = fault_entry(pmap=w.pm, va=0x1000, amap=w.amap, slot=0)
        uvm_fault_upper(e, wired=True)
        uvm_fault_unwire(e)


def _wire_unwire_object(w: World) -> None:
    for _ in range(w.size.ops):
        e = fault_entry(pmap=w.pm, va=0x2000, uobj=w.aobj, offset=0)
        uvm_fault_lower(e, wired=True)
        uvm_fault_unwire(e)


def _km_free(w: World) -> None:
    rw_enter(w.kobj.vmobjlock, RW_WRITE)
    uvm_km_pgremove(w.kobj, w.kpm, 0x8000, 0x8000 + 2 * P, kva_base=0x8000)
    rw_exit(w.kobj.vmobjlock)


register(
    Scenario(
        name="wired-counter",
        cpus=3,
        pages=12,
        summary="wire and unwire an anon and an aobj page (pageq held) while uvm_km_pgremove "
        "frees a wired kernel page (uvm_pageclean drops its wiring) and a pageable, queued one",
        questions=("R3",),
        setup=_wired_counter_setup,
        program=lambda w: [
            lambda: _wire_unwire_anon(w),
            lambda: _km_free(w),
            lambda: _wire_unwire_object(w),
            # more threads of the process wiring the same pages (wire_count > 1)
            *[
                (lambda: _wire_unwire_anon(w)) if k % 2 else (lambda: _wire_unwire_object(w))
                for k in range(3, w.size.cpus)
            ],
        ],
        expect={
            "openbsd-pre": "holds",
            "seed": "holds",
            "seed-plain-wired": "data-race",
            "seed-no-dequeue-first": "holds",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
        sizes=(
            extra_cpus(MAX_CPUS, "another thread wires and unwires the anon or the aobj page"),
            ops_per_cpu(MAX_OPS, "each wiring thread wires and unwires its page once more"),
        ),
    )
)


# ---- fault-vs-free (R5) -------------------------------------------------------------------------


def _anon_va(i: int) -> int:
    return 0x1000 if i == 0 else 0x10000 + i * P


def _aobj_va(i: int) -> int:
    return 0x2000 if i == 0 else 0x20000 + i * P


def _fault_vs_free_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=w.size.ops)
    for i in range(w.size.ops):  # one anon and one aobj page per operation
        S.fault_anon(w.pm, _anon_va(i), w.amap, i)
        S.fault_object(w.pm, _aobj_va(i), w.aobj, i * P)


def _faulter(w: World) -> None:
    for i in range(w.size.ops):
        _access_or_fault_anon(w, _anon_va(i), i, write=True)
        _access_or_fault_object(w, _aobj_va(i), w.aobj, i * P)


def _freer(w: World) -> None:
    amap_unref(w.amap)
    _flush_free(w.aobj)


register(
    Scenario(
        name="fault-vs-free",
        cpus=2,
        pages=12,
        summary="a CPU touches (and if needed faults) an anon page and an aobj page while "
        "another unmaps and frees them: can the page be faulted back in between "
        "pmap_page_protect(PROT_NONE) and uvm_pagefree?",
        questions=("R5",),
        setup=_fault_vs_free_setup,
        program=lambda w: [
            lambda: _faulter(w),
            lambda: _freer(w),
            *[lambda: _faulter(w) for _ in range(2, w.size.cpus)],
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        sizes=(
            extra_cpus(MAX_CPUS, "another thread of the process touches (faults) the pages"),
            ops_per_cpu(MAX_OPS, "one more anon page and aobj page, touched, then freed"),
        ),
    )
)


# ---- flush-vs-fault ---------------------------------------------------------------------------


def _vnode_page(uvn, off: int) -> None:
    """A resident file page (as if read in by uvn_get): allocated, activated, unbusied."""

    rw_enter(uvn.vmobjlock, RW_WRITE)
    pg = uvm_pagealloc(uvn, off, None, 0)
    uvm_lock_pageq_for_queue_op()
    uvm_pageactivate(pg)
    uvm_unlock_pageq_for_queue_op()
    atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_FAKE)
    rw_exit(uvn.vmobjlock)


def _flush_vs_fault_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.uvn = uvn_attach("vnode", npages=3)
    for i in range(3):
        _vnode_page(w.uvn, i * P)
    uvm_fault_lower(fault_entry(pmap=w.pm, va=0x3000, uobj=w.uvn, offset=0))
    uvm_fault_lower(fault_entry(pmap=w.pm, va=0x4000, uobj=w.uvn, offset=P))
    _pmap.pmap_user_access(w.pm, 0x4000, write=True)  # page 1 is dirty
    S.clean_object_page(w.uvn, 0, swap=False)
    S.clean_object_page(w.uvn, 2 * P, swap=False)
    S.deactivate_object_page(w.uvn, 2 * P)


def _flusher(w: World) -> None:
    rw_enter(w.uvn.vmobjlock, RW_WRITE)
    uvn_flush(w.uvn, 0, 3 * P, PGO_CLEANIT | PGO_FREE | PGO_SYNCIO)
    rw_exit(w.uvn.vmobjlock)


def _file_user(w: World) -> None:
    _access_or_fault_object(w, 0x3000, w.uvn, 0)
    _pmap.pmap_user_access(w.pm, 0x4000, write=True)


register(
    Scenario(
        name="flush-vs-fault",
        cpus=2,
        pages=12,
        summary="uvn_flush(PGO_CLEANIT|PGO_FREE|PGO_SYNCIO) cleans and frees a file's pages "
        "(one dirty: paged out under the pageq dance) while a process faults and writes them",
        questions=("R6", "R4"),
        setup=_flush_vs_fault_setup,
        program=lambda w: [
            lambda: _flusher(w),
            lambda: _file_user(w),
            *[lambda: _file_user(w) for _ in range(2, w.size.cpus)],
        ],
        expect={
            "openbsd-pre": "holds",
            "seed": "holds",
            "seed-plain-wired": "holds",
            "seed-no-dequeue-first": "recursion",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
        sizes=(extra_cpus(MAX_CPUS, "another thread of the process faults and writes the file"),),
    )
)


# ---- aiodone-vs-flush ---------------------------------------------------------------------------


def _aiodone_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=1)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.deactivate_anon(w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.deactivate_object_page(w.aobj, 0)
    # The pagedaemon starts an asynchronous swap write of both dirty pages (one cluster);
    # unencrypted and DMA-reachable, they are written in place and stay busy until the
    # aiodone daemon completes them.  (With NetBSD's intents the deactivations wait in the
    # set-up CPU's intent queue: it idles first, or the pagedaemon finds nothing inactive.)
    uvmpdpol_drain_at_rest()
    uvm_pageout(shortage=2)
    _exiting_setup(w, 3)


register(
    Scenario(
        name="aiodone-vs-flush",
        cpus=3,
        pages=12,
        summary="unencrypted async swap pageout completion (uvm_aio_aiodone_pages, on a machine "
        "whose memory is all DMA-reachable, so nothing bounces) against uao_flush(PGO_FREE) "
        "waiting for the busy aobj page and an exit freeing the busy anon (PG_RELEASED)",
        questions=("R5", "R6"),
        setup=_aiodone_setup,
        program=lambda w: [
            lambda: uvm_aiodone_daemon(1),
            lambda: _flush_free(w.aobj),
            lambda: amap_unref(w.amap),
            *_exiting_programs(w),
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        swap={"encrypt": False},
        world={"dma_share": 1.0},
        sizes=(EXITING,),
    )
)


# ---- smaller harnesses for the remaining hunks ------------------------------------------------


def _swapin_error_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=1)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.clean_anon(w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.clean_object_page(w.aobj, 0)
    S.evict_anon(w.amap, 0)  # the data now lives only on swap
    S.evict_object_page(w.aobj, 0)
    poke(uvm.swap, "read_error", True)


def _swapin_fault_anon(w: World) -> None:
    uvm_fault_upper(fault_entry(pmap=w.pm, va=0x1000, amap=w.amap, slot=0))


def _swapin_fault_aobj(w: World) -> None:
    uvm_fault_lower(fault_entry(pmap=w.pm, va=0x2000, uobj=w.aobj, offset=0))


register(
    Scenario(
        name="swapin-error",
        cpus=2,
        pages=12,
        summary="faults on an anon and an aobj page whose data is only on swap, with swap reads "
        "failing: uvmfault_anonget and uao_get free the fresh busy page on their error paths",
        questions=("R7",),
        setup=_swapin_error_setup,
        program=lambda w: [
            # threads of one process: CPU k faults the anon page if k is even, else the aobj's
            (lambda: _swapin_fault_anon(w)) if k % 2 == 0 else (lambda: _swapin_fault_aobj(w))
            for k in range(w.size.cpus)
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        sizes=(extra_cpus(MAX_CPUS, "another thread faults the anon or the aobj page"),),
    )
)


# Finding F3 on every OpenBSD protocol (docs/findings.md): not related to the diff.
_F3_EVERYWHERE = {name: "finding" for name in ALL_PROTOCOLS_HOLD}

register(
    Scenario(
        name="swapin-waiter",
        cpus=2,
        pages=12,
        summary="two threads fault on one anon whose data is only on swap, and the swap read "
        "fails: the second sleeps on the busy page (PG_WANTED) while the first frees it on "
        "uvmfault_anonget's error path (finding F3)",
        questions=(),
        setup=_swapin_error_setup,
        program=lambda w: [(lambda: _swapin_fault_anon(w)) for _k in range(w.size.cpus)],
        # linux-lruvec keeps OpenBSD's fault handler, and F3 with it (found there as on
        # netbsd-intent, docs/protocols.md).
        expect={**_F3_EVERYWHERE, "linux-lruvec": "finding"},
        sizes=(extra_cpus(MAX_CPUS, "another thread faults the same anon"),),
    )
)


def _bufcache_setup(w: World) -> None:
    w.bp = bufcache_alloc("buf", 2)  # two pages from dma_constraint
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")


def _fault_in(w: World, k: int) -> None:
    """Faulting thread k: zero-fill faults on its `w.size.ops` amap slots."""
    for i in range(w.size.ops):
        slot = k * w.size.ops + i
        S.fault_anon(w.pm, 0x1000 + slot * P, w.amap, slot)


def _bufcache_flip_and_free(w: World) -> None:
    bufcache_flip_high(w.bp)
    bufcache_free(w.bp)


register(
    Scenario(
        name="bufcache-flip",
        cpus=2,
        pages=12,
        summary="the buffer cache flips a two-page buffer to high memory (uvm_pagerealloc_multi: "
        "its DMA pages freed around the magazines) then frees it (buf_free_pages -> "
        "uvm_obj_free), under the kernel lock, while a process faults pages in",
        questions=("R7",),
        setup=_bufcache_setup,
        program=lambda w: [
            lambda: _bufcache_flip_and_free(w),
            *[lambda k=k: _fault_in(w, k) for k in range(w.size.cpus - 1)],
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        sizes=(
            # Another faulting thread's first fault misses its CPU's empty magazines and
            # refills one with UVM_PMR_CACHEMAGSZ pages at once (uvm_pmr_cache_alloc), which
            # no other CPU can take back: with 4 pages per thread the fourth CPU found the
            # free lists empty and its fault failed with ENOMEM (a kernel that small would
            # sleep in uvm_wait; a kernel has thousands of pages, not 20).
            extra_cpus(
                MAX_CPUS, "another thread of the process faults pages in", UVM_PMR_CACHEMAGSZ
            ),
            ops_per_cpu(MAX_OPS, "each faulting thread faults one more page in"),
        ),
    )
)


def _hibernate_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.aobj = uao_create("aobj", npages=2)
    w.amap = S.new_amap("amap")
    for i in range(2):
        S.fault_object(w.pm, 0x1000 + i * P, w.aobj, i * P)
        S.clean_object_page(w.aobj, i * P)
        S.deactivate_object_page(w.aobj, i * P)


register(
    Scenario(
        name="hibernate-drop",
        cpus=1,
        pages=12,
        summary="uvmpd_drop (hibernate) frees clean inactive object pages walking the queue "
        "unlocked; hibernate runs alone, with every other CPU quiesced",
        questions=("R7",),
        setup=_hibernate_setup,
        program=lambda w: [uvmpd_drop_inactive],
        expect=dict(ALL_PROTOCOLS_HOLD),
    )
)


def _encrypted_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.deactivate_anon(w.amap, 0)
    w.heap = S.new_amap("heap")  # another mapping: the pagedaemon's try-lock always succeeds


def _touch_heap(w: World, k: int) -> None:
    """Touching thread k: zero-fill faults on its `w.size.ops` heap slots."""
    for i in range(w.size.ops):
        slot = k * w.size.ops + i
        S.fault_anon(w.pm, 0x2000 + slot * P, w.heap, slot)


register(
    Scenario(
        name="pageout-encrypted",
        cpus=3,
        pages=16,
        summary="the pagedaemon pages a dirty anon out to encrypted swap (the default): the "
        "original is unbusied and cleaned before the write, the aiodone daemon frees only "
        "the bounce pages (uvm_swap_freepages), while the process touches another page",
        questions=("R7",),
        setup=_encrypted_setup,
        program=lambda w: [
            lambda: uvm_pageout(rounds=w.size.passes, shortage=1),
            lambda: uvm_aiodone_daemon(1),
            *[lambda k=k: _touch_heap(w, k) for k in range(w.size.cpus - 2)],
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        sizes=(
            extra_cpus(MAX_CPUS, "another thread of the process touches new heap pages"),
            ops_per_cpu(MAX_OPS, "each touching thread touches one more heap page"),
            pagedaemon_passes(MAX_PASSES),
        ),
    )
)


# ---- fault-ahead and object faults that do I/O ---------------------------------------------

AHEAD = 5  # pages of the anon mapping in fault-ahead


def _fault_ahead_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    for i in range(AHEAD):
        S.fault_anon(w.pm, 0x10000 + i * P, w.amap, i)
    for i in (0, 1, 3, 4):
        S.clean_anon(w.amap, i)
        S.deactivate_anon(w.amap, i)  # unmapped: the next fault maps it ahead
    # The faulting page itself is unmapped too (as after a pmap_remove).
    _pmap.pmap_remove(w.pm, 0x10000 + 2 * P, 0x10000 + 3 * P)


def _fault_in_the_middle(w: World) -> None:
    uvm_fault(fault_range(w.pm, 0x10000, AHEAD, 2, amap=w.amap))


register(
    Scenario(
        name="fault-ahead",
        cpus=2,
        pages=12,
        summary="a fault in the middle of a five-page anon mapping (MADV_NORMAL) activates and "
        "maps its four resident, unmapped, clean inactive neighbours, each under its own pageq "
        "lock round trip holding only the amap lock, while the pagedaemon scans the inactive "
        "queue to free them",
        questions=("R5",),
        setup=_fault_ahead_setup,
        program=lambda w: [
            lambda: _fault_in_the_middle(w),
            lambda: uvm_pageout(rounds=w.size.passes, shortage=2),
        ],
        expect={**ALL_PROTOCOLS_HOLD, "seed-no-dequeue-first": "recursion"},
        sizes=(pagedaemon_passes(MAX_PASSES),),
    )
)


def _object_io_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.uvn = uvn_attach("vnode", npages=3)
    _vnode_page(w.uvn, 0)
    _vnode_page(w.uvn, 2 * P)  # page 1 is not resident: a fault reads it in


def _file_fault(w: World) -> None:
    uvm_fault(fault_range(w.pm, 0x4000, 3, 1, uobj=w.uvn, prot=_pmap.PROT_READ))


def _file_flush(w: World) -> None:
    rw_enter(w.uvn.vmobjlock, RW_WRITE)
    uvn_flush(w.uvn, 0, 3 * P, PGO_FREE)
    rw_exit(w.uvn.vmobjlock)


register(
    Scenario(
        name="object-fault-io",
        cpus=2,
        pages=12,
        summary="a fault on a file page that is not resident (uvm_fault_lower_io: uvn_get reads "
        "it in with the object unlocked and the kernel lock held, its resident neighbours "
        "mapped ahead) against uvn_flush(PGO_FREE) of the file",
        questions=("R5",),
        setup=_object_io_setup,
        program=lambda w: [
            lambda: _file_fault(w),
            lambda: _file_flush(w),
            *[lambda: _file_fault(w) for _ in range(2, w.size.cpus)],
        ],
        expect={**ALL_PROTOCOLS_HOLD, "seed-no-dequeue-first": "recursion"},
        sizes=(extra_cpus(MAX_CPUS, "another thread of the process faults the same file page"),),
    )
)


def _aobj_swapin_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.aobj = uao_create("aobj", npages=2)
    for i in range(2):
        S.fault_object(w.pm, 0x8000 + i * P, w.aobj, i * P)
        S.clean_object_page(w.aobj, i * P)
    S.evict_object_page(w.aobj, 0)  # its data lives only in swap
    S.deactivate_object_page(w.aobj, P)


register(
    Scenario(
        name="aobj-swapin",
        cpus=2,
        pages=12,
        summary="a fault brings an aobj page back from swap (uao_get: the object unlocked for "
        "the read, under the kernel lock, swpgonly decremented, the object unlocked on return "
        "and relocked by the fault) while uao_flush(PGO_FREE) frees the object's pages",
        questions=("R5",),
        setup=_aobj_swapin_setup,
        program=lambda w: [
            lambda: uvm_fault(fault_range(w.pm, 0x8000, 2, 0, uobj=w.aobj)),
            lambda: _flush_free(w.aobj),
            *[
                lambda: uvm_fault(fault_range(w.pm, 0x8000, 2, 0, uobj=w.aobj))
                for _ in range(2, w.size.cpus)
            ],
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        sizes=(extra_cpus(MAX_CPUS, "another thread of the process faults the same aobj page"),),
    )
)
