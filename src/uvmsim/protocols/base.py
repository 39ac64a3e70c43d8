"""The Protocol dataclass, the hunk table, and the named protocols."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import NamedTuple

from uvmsim.machine.failure import InputError


@dataclass(frozen=True)
class Switch:
    """One switch, with every fact about it in one row.

    `hunks`: the hunks of the seed diff it covers (none for switches outside the diff);
    `functions`: the model functions that read it (tests/uvm/test_switch_readers.py checks
    this against the code); `doc`: what True means; `exercises`: the scenarios that run those
    functions (flipping the switch must change what happens there, tests/uvm/test_switches.py;
    R7 explores them for its mutants); `measured_on`: the timed workload whose lock traffic
    the switch changes, if any; `may_survive`: why R7's mutant of this switch may survive
    every check and measurement, when the model gives a reason to expect it.
    """

    name: str
    hunks: tuple[int, ...]
    functions: tuple[str, ...]
    doc: str
    exercises: tuple[str, ...] = ()
    measured_on: str | None = None
    may_survive: str | None = None


SWITCHES: tuple[Switch, ...] = (
    Switch(
        "anfree_list_unlocked",
        (1,),
        ("uvm_anfree_list",),
        "uvm_anfree_list cleans/frees its page without taking the pageq lock",
        exercises=("pageclean-race",),
        measured_on="build",
    ),
    Switch(
        "anon_release_unlocked",
        (2,),
        ("uvm_anon_release",),
        "uvm_anon_release protects and frees its page without the pageq lock",
        exercises=("aiodone-vs-flush",),
        may_survive=(
            "the released anon page is dequeued by uvm_pageclean under the pageq lock "
            "either way; holding it longer only costs contention on a rare path"
        ),
    ),
    Switch(
        "uao_detach_unlocked",
        (3,),
        ("uao_detach",),
        "uao_detach frees each page without the pageq lock",
        exercises=("pageclean-race",),
    ),
    Switch(
        "uao_flush_unlocked",
        (4,),
        ("uao_flush",),
        "uao_flush(PGO_FREE) frees each page without the pageq lock",
        exercises=("fault-vs-free",),
    ),
    Switch(
        "uao_get_unlocked",
        (5,),
        ("uao_get",),
        "uao_get's swap-in error path frees the fresh page without the pageq lock",
        exercises=("swapin-error",),
        may_survive=(
            "the page freed on uao_get's swap-in error path is fresh and never queued: with "
            "the pageq lock around the free nothing but one lock round trip changes, on an "
            "error path no workload takes"
        ),
    ),
    Switch(
        "anonget_unlocked",
        (6,),
        ("uvmfault_anonget",),
        "uvmfault_anonget's page-in error path frees the fresh page without the pageq lock",
        exercises=("swapin-error",),
        may_survive=(
            "the page freed on uvmfault_anonget's page-in error path was never queued or "
            "mapped: the pageq lock around it only costs a round trip on an error path"
        ),
    ),
    Switch(
        "km_pgremove_unlocked",
        (7,),
        ("uvm_km_pgremove",),
        "uvm_km_pgremove frees kernel object pages without the pageq lock",
        exercises=("wired-counter",),
    ),
    Switch(
        "obj_free_unlocked",
        (8,),
        ("uvm_obj_free",),
        "uvm_obj_free cleans buffer-cache pages without the pageq lock",
        exercises=("bufcache-flip",),
        may_survive=(
            "buffer-cache pages are never queued (and the kernel lock serializes the buffer "
            "cache): the pageq lock around their uvm_pageclean protects nothing"
        ),
    ),
    Switch(
        "pagerealloc_multi_unlocked",
        (9,),
        ("uvm_pagerealloc_multi",),
        "the buffer-cache flip frees the old page without the pageq lock",
        exercises=("bufcache-flip",),
        may_survive=(
            "the flipped buffer page is wired by hand and never queued: the pageq lock "
            "around its free protects nothing"
        ),
    ),
    Switch(
        "pageclean_no_assert",
        (10, 11),
        ("uvm_pageclean",),
        "uvm_pageclean no longer requires (asserts) the pageq lock for tabled/queued pages",
        exercises=("fault-vs-free",),
        measured_on="build",
    ),
    Switch(
        "pageclean_locks_dequeue",
        (12,),
        ("uvm_pageclean",),
        "uvm_pageclean takes the pageq lock itself around the dequeue of a queued page",
        exercises=("fault-vs-free",),
        measured_on="build",
    ),
    Switch(
        "wired_atomic",
        (12, 13, 14, 26),
        ("uvm_pageclean", "uvm_pagewire", "uvm_pageunwire", "uvmexp_init"),
        "uvmexp.wired is [a] and updated with atomic_inc_int/atomic_dec_int",
        exercises=("wired-counter",),
        measured_on="build",
    ),
    Switch(
        "aiodone_unlocked",
        (15, 16),
        ("uvm_aio_aiodone_pages",),
        "async pageout completion no longer holds the pageq lock around uvm_page_unbusy",
        exercises=("aiodone-vs-flush",),
        may_survive=(
            "holding the pageq lock around uvm_page_unbusy only recurses for a released "
            "*object* page, and only anon pages are released in aiodone in practice: the "
            "extra lock is a cost on async pageout completion, which no timed workload here "
            "runs"
        ),
    ),
    Switch(
        "pdaemon_clean_dequeue_first",
        (17,),
        ("uvmpd_scan_inactive",),
        "the inactive scan dequeues a clean page (pageq held) before uvm_pagefree",
        exercises=("pdaemon-vs-free",),
    ),
    Switch(
        "pdaemon_released_dequeue_first",
        (18,),
        ("uvmpd_scan_inactive",),
        "the inactive scan dequeues a page released during pageout before uvm_pagefree",
        exercises=("pdaemon-released",),
    ),
    Switch(
        "pdaemon_drop_unlocked",
        (19, 20),
        ("uvmpd_drop",),
        "uvmpd_drop (hibernate) frees clean object pages holding only the object lock",
        exercises=("hibernate-drop",),
        may_survive=(
            "hibernate only: runs alone, and its pages are queued (the mutant recurses) "
            "only when the inactive queue holds clean object pages"
        ),
    ),
    Switch(
        "swap_freepages_unlocked",
        (21,),
        ("uvm_swap_freepages",),
        "uvm_swap_freepages frees its pages without the pageq lock",
        exercises=("pageout-encrypted",),
        may_survive=(
            "swap bounce pages are private and never queued: the pageq lock around their "
            "free protects nothing"
        ),
    ),
    Switch(
        "uvn_flush_free_per_page",
        (22, 23, 24, 25),
        ("uvn_flush",),
        "uvn_flush frees each page with uvm_pagefree (per-CPU magazines) instead of "
        "collecting a dead list for one uvm_pglistfree",
        exercises=("flush-vs-fault",),
        measured_on="flush",
    ),
    Switch(
        "uvn_flush_dequeue_first",
        (23,),
        ("uvn_flush",),
        "uvn_flush dequeues a no-clean-needed page (pageq held) before freeing it",
        exercises=("flush-vs-fault",),
        measured_on="flush",
    ),
    Switch(
        "uvn_flush_cluster_dequeue_first",
        (24,),
        ("uvn_flush",),
        "uvn_flush dequeues a just-cleaned page (pageq held) before freeing it",
        exercises=("flush-vs-fault",),
        measured_on="flush",
    ),
)

# Switches that are not hunks of the diff: the state of the kernel it was applied to, the
# proposed fixes for findings F1 and F3, and OpenBSD's later steps (openbsd-2026).  Not
# mutated by R7 (they are not the diff's).
OTHER_SWITCHES: tuple[Switch, ...] = (
    Switch(
        "percpu_magazines",
        (),
        ("uvm_pagealloc", "uvm_pagefree", "uvm_pageout", "_free_to_allocator"),
        "per-CPU page magazines (uvm_percpu.h 1.1, 2024): 2 x 8 pages per CPU in front of the "
        "pmemrange allocator (uvm_pmr_cache_get/put)",
        exercises=("fault-vs-free",),
        measured_on="build",
    ),
    Switch(
        "pageclean_dequeue_before_remove",
        (),
        ("uvm_pageclean",),
        "proposed fix for finding F1 (docs/findings.md): uvm_pageclean dequeues a queued page "
        "(pageq lock taken) before uvm_pageremove clears its uobject, so no scanner ever sees a "
        "queued page without an owner",
        exercises=("pageclean-race", "pdaemon-vs-free"),
        measured_on="build",
    ),
    Switch(
        "pageq_inside_queue_ops",
        (),
        (
            "uvm_pageactivate",
            "uvm_pagedeactivate",
            "uvm_pagedequeue",
            "uvm_pagewire",
            "uvm_pageunwire",
            "resolve_queue_counters",
            "uvmfault_anonflush",
            "uvm_fault_upper_lookup",
            "uvmfault_anonget",
            "uvm_fault_upper",
            "uvm_fault_lower_lookup",
            "uvm_fault_lower",
            "uvm_fault_lower_io",
            "uvm_fault_unwire",
            "uao_flush",
            "uvn_flush",
            "uvmpd_scan_inactive",
            "uvmpd_scan_active",
            "uvmpd_scan_inactive_1154",
            "uvmpd_scan_active_1154",
        ),
        "OpenBSD's next step (uvm_page.c 1.184-1.188): uvm_pageactivate, uvm_pagedeactivate "
        "and uvm_pagewire take the pageq lock themselves ('push the pageqlock dances "
        "inside'), uvm_pageunwire needs none, so their callers no longer hold it (those that "
        "hold it for a loop drop it around the call); uvmexp.active/inactive are [a] and "
        "atomic (the knob `queue_counters` at 0); uvm_pagedequeue asserts the pageq lock, "
        "the owner lock (weakly: an ownerless page passes) and wire_count == 0",
        exercises=("pdaemon-marker",),
        measured_on="build",
    ),
    Switch(
        "pdaemon_iter_marker",
        (),
        ("uvmpd_scan_inactive", "uvmpd_scan"),
        "the pagedaemon's scans as in uvm_pdaemon.c 1.154 (iterator from 1.136): each "
        "queue is walked with a PQ_ITER marker page kept after the current page, so the "
        "scan keeps its place while the pageq lock is dropped; swap clusters are built and "
        "written by swapcluster_allocslots/add/flush (1.148), a failed write drops the "
        "whole cluster, and the page of interest is never relocked",
        exercises=("pdaemon-marker", "pdaemon-vs-free"),
    ),
    Switch(
        "anonget_error_clears_wanted",
        (),
        ("uvmfault_anonget",),
        "proposed fix for finding F3 (docs/findings.md): uvmfault_anonget clears PG_WANTED "
        "right after waking the page's sleepers, as uvm_fault.c 1.61 did, so its swap-in "
        "error path never frees a page that still carries it",
        exercises=("swapin-waiter",),
    ),
)
# A peer design (issue 16), not OpenBSD's: NetBSD's page-replacement intents.
PEER_SWITCHES: tuple[Switch, ...] = (
    Switch(
        "pdpol_intents",
        (),
        (
            "uvm_pageactivate",
            "uvm_pagedeactivate",
            "uvm_pagedequeue",
            "uvm_pagewire",
            "uvm_pageunwire",
            "uvm_pagealloc_pg",
            "uvm_pageclean",
            "uvm_pmr_cache_put",
            "uvmpd_trylockowner",
            "uvmpd_scan_inactive",
            "uvmpd_scan_active",
            "uvmpd_scan_inactive_1154",
            "uvmpd_scan_active_1154",
            "uvn_flush",
            "uvmpdpol_drain_at_rest",
            "_intents",
        ),
        "NetBSD's intent queues (uvm_pdpolicy_clock.c 1.40, uvm_page.c 1.246): "
        "uvm_pageactivate/deactivate/dequeue and uvm_pagewire only record an intent in the "
        "page's pqflags under its interlock, and uvm_pageunlock puts the page on this CPU's "
        "intent queue (`Protocol.pdq_size` entries); a full queue is realized in one batch "
        "under one pageq (pdpolicy) lock acquisition, each entry under its interlock, and "
        "the idle loop drains it by try-lock; uvm_pageclean removes the owner and sets the "
        "dequeue intent under the interlock, so a freed page may stay queued until the intent "
        "is realized; the pagedaemon takes the interlock of each page it meets, realizes a "
        "pending intent and skips a page with no owner; callers holding the pageq lock (the "
        "scans, uvn_flush) realize at once (NetBSD's `_locked` operations)",
        exercises=("intent-on-freed-page",),
        measured_on="build",
    ),
    Switch(
        "pqbatch_atomic",
        (),
        (
            "uvm_pageactivate",
            "uvm_pagedeactivate",
            "uvm_pagedequeue",
            "uvm_pagewire",
            "uvm_pageunwire",
            "uvm_pageunlock",
            "uvm_pagealloc_pg",
            "uvmpd_trylockowner",
            "_trylockowner_interlocked",
            "_assert_realizing",
            "uvmpdpol_pageisqueued_p",
            "uvmpdpol_pagedeactivate_locked",
            "uvmpdpol_pagedequeue_locked",
            "uvmpdpol_idle",
            "check_queues",
            "check_intent_queues",
        ),
        "FreeBSD's page-queue batches (vm_page.c at commit 9622baa299bb, r332974's design "
        "with the atomic vm_page_astate word; the flush rule of D37305 as knob "
        "`pqbatch_flush`): on top of `pdpol_intents`' call sites, a queue request is "
        "committed by a CAS loop on the page's queue-state word (no interlock) and the page "
        "submitted to this CPU's batch for its queue (`pqbatch_size` entries) when no request "
        "was pending; a move between queues dequeues at once under the queue lock; a batch "
        "is processed under the queue lock when full, or by try-lock from half full "
        "(`pqbatch_flush=2`); a freed page keeps its dequeue request until processed or "
        "until the allocator reuses it (vm_page_dequeue before reuse); the scans apply a "
        "pending request and skip the page, and recheck the owner once they hold its lock",
        exercises=("batch-entry-reused-page",),
        measured_on="build",
    ),
    Switch(
        "lru_batch",
        (),
        (
            "uvm_pageactivate",
            "uvm_pagedeactivate",
            "uvm_pagedequeue",
            "uvm_pagewire",
            "uvm_pageunwire",
            "uvm_pageunlock",
            "uvm_pagealloc_pg",
            "uvm_pageclean",
            "uvm_pagefree",
            "uvmpd_trylockowner",
            "_trylockowner_interlocked",
            "uvm_pageout",
            "_scan_shards",
            "_assert_realizing",
            "uvmpdpol_pageisqueued_p",
            "uvmpdpol_pagedequeue_locked",
            "uvmpdpol_pagedeactivate_locked",
            "uvmpdpol_idle",
            "check_queues",
            "check_intent_queues",
        ),
        "Linux's LRU (mm/swap.c and mm/vmscan.c of a 6.x tree, CachyOS/linux at commits "
        "3bb379be9b84 and 04a07002f646): on top of `pdpol_intents`' call sites, one lruvec "
        "lock (the pageq lock: one node, no memcg); per-CPU folio batches per operation "
        "(lru_add, lru_activate, lru_deactivate; `lru_batch_size` entries), each entry "
        "holding a page reference, moved under the lock when full or drained (before the "
        "pagedaemon's scan, when a CPU idles); the LRU flag PG_LRU as the isolation token "
        "(test-and-clear before a page is moved or isolated, a page whose flag is clear "
        "skipped); a freed page is released by its last reference, off its list under the "
        "lock only if it still has the flag; the pagedaemon isolates with a reference and "
        "the flag and puts its pages back at the end of the scan (`move_folios_to_lru`)",
        exercises=("lru-batch-ref-free",),
        measured_on="build",
    ),
)
ALL_SWITCHES: dict[str, Switch] = {s.name: s for s in SWITCHES + OTHER_SWITCHES + PEER_SWITCHES}
# Switches added after replay tokens were first printed (issue 16, openbsd-2026,
# netbsd-intent; the fix for F3): a token's switch digest covers them only when they are on
# (`Protocol.digest_switches`).
DIGEST_ONLY_WHEN_ON = frozenset(
    {
        "pageq_inside_queue_ops",
        "pdaemon_iter_marker",
        "pdpol_intents",
        "anonget_error_clears_wanted",
        "pqbatch_atomic",
        "lru_batch",
    }
)


class Knob(NamedTuple):
    """An integer knob: its default, what it means, and the values it accepts (None: any
    positive integer)."""

    default: int
    doc: str
    accepted: tuple[int, ...] | None = None


# Integer knobs of a protocol (fields of `Protocol` that are not switches) and their
# defaults: a digest covers a knob only when it differs from its default, so that protocols
# that never heard of it keep their digests.
KNOBS: dict[str, Knob] = {
    "pdq_size": Knob(
        128,
        "entries of each CPU's intent queue (NetBSD's CLOCK_PDQ_SIZE); read only with "
        "`pdpol_intents`",
    ),
    "pqbatch_size": Knob(
        63,
        "entries of each CPU's batch queue per page queue (FreeBSD's VM_BATCHQUEUE_SIZE on "
        "LP64 after D37305); read only with `pqbatch_atomic`",
    ),
    "pqbatch_flush": Knob(
        2,
        "when a batch is processed: 1 = only when full, under the blocking queue lock "
        "(r332974 to before D37305); 2 = also from half full if a try-lock succeeds "
        "(D37305); read only with `pqbatch_atomic`",
        (1, 2),
    ),
    "lru_batch_size": Knob(
        31,
        "entries of each CPU's folio batch per LRU operation (Linux's PAGEVEC_SIZE, the "
        "folio_batch size of 6.x trees; 15 before); read only with `lru_batch`",
    ),
    "queue_counters": Knob(
        0,
        "the kind of the queue counters uvmexp.active/inactive, changed beside the list "
        "operations with the pageq lock held: 0 = the protocol's own kernel (1 before "
        "uvm_page.c 1.184, 2 from it); 1 = locked, plain ++/-- (OpenBSD before 1.184, "
        "NetBSD's pdpol_state, FreeBSD's pq_cnt); 2 = atomic_inc_int/atomic_dec_int "
        "(OpenBSD 1.184-1.188); 3 = per-CPU sum, one pair per CPU changed only by it and "
        "summed by every reader (NetBSD's cpu_count, Linux's per-CPU vmstat deltas)",
        (0, 1, 2, 3),
    ),
    "lru_shards": Knob(
        1,
        "LRU shards, each with its own active and inactive queue and lock `pageqlock.<i>` "
        "(FreeBSD's domains, one lock per domain here for both queues; Linux's lruvecs, one "
        "per node): physical memory and the CPUs split into that many domains, a page's "
        "shard fixed by its address, allocations preferring the CPU's own domain, the "
        "pagedaemon scanning each shard in turn under its lock; read only with "
        "`pqbatch_atomic` or `lru_batch`, with atomic queue counters (`queue_counters` 0 or 2)",
    ),
}
NOT_IN_DIFF = {s.name: s.doc for s in OTHER_SWITCHES + PEER_SWITCHES}


@dataclass(frozen=True)
class Protocol:
    """One variant of the page layer: a value per switch (True = as in the seed diff).

    `name` and `description` say what it is.  Build variants with `dataclasses.replace` or
    `Protocol.variant(name, **switches)`; an unknown switch name is an InputError.
    """

    name: str
    description: str
    anfree_list_unlocked: bool
    anon_release_unlocked: bool
    uao_detach_unlocked: bool
    uao_flush_unlocked: bool
    uao_get_unlocked: bool
    anonget_unlocked: bool
    km_pgremove_unlocked: bool
    obj_free_unlocked: bool
    pagerealloc_multi_unlocked: bool
    pageclean_no_assert: bool
    pageclean_locks_dequeue: bool
    wired_atomic: bool
    aiodone_unlocked: bool
    pdaemon_clean_dequeue_first: bool
    pdaemon_released_dequeue_first: bool
    pdaemon_drop_unlocked: bool
    swap_freepages_unlocked: bool
    uvn_flush_free_per_page: bool
    uvn_flush_dequeue_first: bool
    uvn_flush_cluster_dequeue_first: bool
    percpu_magazines: bool
    pageclean_dequeue_before_remove: bool = False
    pageq_inside_queue_ops: bool = False
    pdaemon_iter_marker: bool = False
    anonget_error_clears_wanted: bool = False
    pdpol_intents: bool = False
    pqbatch_atomic: bool = False
    lru_batch: bool = False
    # Knobs (`KNOBS`): integers, not switches; the dataclass holds them so that a variant
    # carries them like its switches (`variant(..., pdq_size=4)`).
    pdq_size: int = 128
    pqbatch_size: int = 63
    pqbatch_flush: int = 2
    lru_batch_size: int = 31
    queue_counters: int = 0
    lru_shards: int = 1

    @classmethod
    def switch_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.type in (bool, "bool"))

    @classmethod
    def knob_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.type in (int, "int"))

    def switches(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in self.switch_names()}

    def knobs(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.knob_names()}

    def digest_switches(self) -> dict[str, bool | int]:
        """The switches a replay token's digest covers: all, except that a switch added
        after tokens were first printed counts only when on, so that a token printed before
        it replays on every protocol that leaves it off; and the knobs that differ from
        their defaults."""
        out: dict[str, bool | int] = {
            k: v for k, v in self.switches().items() if v or k not in DIGEST_ONLY_WHEN_ON
        }
        out.update({k: v for k, v in self.knobs().items() if v != KNOBS[k].default})
        return out

    def variant(self, name: str, description: str = "", **switches: bool | int) -> Protocol:
        """A copy with some switches (or knobs) changed (e.g. a mutant, or a follow-up diff)."""
        known = set(self.switch_names())
        knobs = set(self.knob_names())
        for key, value in switches.items():
            if key in knobs:
                accepted = KNOBS[key].accepted
                if accepted is not None:
                    if isinstance(value, bool) or value not in accepted:
                        raise InputError(
                            f"protocol knob {key!r} must be one of "
                            f"{', '.join(map(str, accepted))}, got {value!r}"
                        )
                elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise InputError(
                        f"protocol knob {key!r} must be a positive integer, got {value!r}"
                    )
                continue
            if key not in known:
                raise InputError(
                    f"protocol switch {key!r} is unknown; accepted: "
                    f"{', '.join(sorted(known | knobs))}"
                )
            if not isinstance(value, bool):
                raise InputError(f"protocol switch {key!r} must be True or False, got {value!r}")
        made = dataclasses.replace(
            self,
            name=name,
            description=description or self.description,
            **switches,  # type: ignore[arg-type]
        )
        made.check_knobs()
        return made

    def check_knobs(self) -> None:
        """Refuse knob values the model cannot run with this protocol's switches (InputError)."""
        if self.lru_shards > 1:
            if not (self.pqbatch_atomic or self.lru_batch):
                raise InputError(
                    f"protocol knob 'lru_shards' is {self.lru_shards} on {self.name}, which has "
                    "one global pageq lock: shards are read only with pqbatch_atomic or "
                    "lru_batch (accepted here: 1)"
                )
            if self.queue_counters not in (0, 2):
                raise InputError(
                    f"protocol knob 'lru_shards' is {self.lru_shards} with queue_counters "
                    f"{self.queue_counters}: shards need atomic queue counters (accepted "
                    "queue_counters: 0, 2)"
                )

    def diff_from(self, other: Protocol) -> dict[str, tuple[bool, bool]]:
        """Switches whose value differs: name -> (other's, this one's)."""
        a, b = other.switches(), self.switches()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def _all(value: bool) -> dict[str, bool]:
    return {s.name: value for s in SWITCHES}


OPENBSD_PRE = Protocol(
    name="openbsd-pre",
    description="OpenBSD -current before the diff (uvm_page.c 1.181, uvm_pdaemon.c 1.134, "
    "uvm_pmemrange.c 1.77, per-CPU magazines): callers hold the pageq lock around every free",
    percpu_magazines=True,
    **_all(False),
)
SEED = Protocol(
    name="seed",
    description="the diff as posted on tech@ on 26 Feb 2025 (committed 10 Mar 2025 as "
    "uvm_page.c 1.182 and friends)",
    percpu_magazines=True,
    **_all(True),
)
SEED_PLAIN_WIRED = SEED.variant(
    "seed-plain-wired",
    "the diff, but uvmexp.wired still updated with plain ++/-- (the first version posted)",
    wired_atomic=False,
)
SEED_NO_DEQUEUE_FIRST = SEED.variant(
    "seed-no-dequeue-first",
    "the diff without its 'dequeue first to prevent lock recursion' hunks in the pagedaemon "
    "and uvn_flush",
    pdaemon_clean_dequeue_first=False,
    pdaemon_released_dequeue_first=False,
    uvn_flush_dequeue_first=False,
    uvn_flush_cluster_dequeue_first=False,
)
OPENBSD_2024_NOCACHE = OPENBSD_PRE.variant(
    "openbsd-2024-nocache",
    "openbsd-pre without the per-CPU page magazines (OpenBSD before March 2024)",
    percpu_magazines=False,
)

SEED_FIXED = SEED.variant(
    "seed-fixed",
    "the diff plus the proposed fix for finding F1: uvm_pageclean dequeues before uvm_pageremove",
    pageclean_dequeue_before_remove=True,
)

OPENBSD_2026 = SEED.variant(
    "openbsd-2026",
    "OpenBSD -current in Feb 2026 (uvm_page.c 1.188, uvm_pdaemon.c 1.154): the diff, the "
    "pageq lock pushed inside uvm_pageactivate/deactivate/wire with atomic queue counters, "
    "and the pagedaemon's PQ_ITER marker scans that drop the pageq lock around each "
    "(de)activation",
    pageq_inside_queue_ops=True,
    pdaemon_iter_marker=True,
)

# NetBSD's design on the 2026 kernel: the callers of the queue operations already hold no
# pageq lock there (1.184's shape is NetBSD's: the operation locks what it needs), so the
# intent switch replaces what the operations lock (the page's interlock instead of the pageq
# lock) without touching a caller.  Every other switch stays openbsd-2026's.
NETBSD_INTENT = OPENBSD_2026.variant(
    "netbsd-intent",
    "openbsd-2026 with NetBSD's page-replacement intents (uvm_pdpolicy_clock.c 1.40, "
    "uvm_page.c 1.246, uvm_pdaemon.c 1.133.16.1): queue operations set an intent under the "
    "page's interlock and queue it per CPU (128 entries); a full queue is realized in one "
    "batch under one pageq (pdpolicy) lock acquisition; the pagedaemon realizes pending "
    "intents and skips ownerless pages",
    pdpol_intents=True,
)

# FreeBSD's design on the same kernel as netbsd-intent: its operations are called from the
# same places (the operation locks what it needs), so the intent call sites are shared and
# `pqbatch_atomic` replaces how a request is recorded and realized (see uvm/vm_pqbatch.py).
# One domain, one lock for both queues (`pageqlock`): shards are not modelled.
FREEBSD_BATCH = NETBSD_INTENT.variant(
    "freebsd-batch",
    "openbsd-2026 with FreeBSD's page-queue batches (vm_page.c at commit 9622baa299bb; "
    "r332974, the atomic queue-state word, D37305's flush rule): a queue request is a CAS on "
    "the page's queue-state word, no interlock; per-CPU batches of 63 per queue, processed "
    "by try-lock from half full and under the lock when full; a freed page is dequeued "
    "lazily, at the latest when it is reused",
    pqbatch_atomic=True,
)

# Linux's design on the same kernel and call sites as netbsd-intent (each operation locks
# what it needs): `lru_batch` replaces how an operation is recorded and carried out (see
# uvm/mm_swap.py).  One node and no memory cgroups: one lruvec, one LRU lock (`pageqlock`).
LINUX_LRUVEC = NETBSD_INTENT.variant(
    "linux-lruvec",
    "openbsd-2026 with Linux's LRU (mm/swap.c and mm/vmscan.c of a 6.x tree): one lock per "
    "lruvec (one here), per-CPU folio batches of 31 per operation (add, activate, "
    "deactivate) holding a page reference, moved under the lock when full or drained; the "
    "LRU flag as the isolation token, tested and cleared before a page is moved or isolated; "
    "a freed page is released by its last reference",
    lru_batch=True,
)

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        OPENBSD_PRE,
        SEED,
        SEED_PLAIN_WIRED,
        SEED_NO_DEQUEUE_FIRST,
        OPENBSD_2024_NOCACHE,
        SEED_FIXED,
        OPENBSD_2026,
        NETBSD_INTENT,
        FREEBSD_BATCH,
        LINUX_LRUVEC,
    )
}
