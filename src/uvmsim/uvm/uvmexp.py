"""`struct uvmexp` (sys/uvm/uvmexp.h): the page counters with their lock annotations.

Legend (uvmexp.h): [L] uvm.pageqlock, [F] uvm.fpageqlock, [a] atomic operations, [I]
immutable after creation.  `wired` is unannotated before the seed diff (plain ++/-- under the
pageq lock) and [a] after it (uvmexp.h hunk, @@ -61,7): the class of the one `uvmexp` object is
chosen per protocol.

The queue counters `active`/`inactive` come in the three kinds of the protocol knob
`queue_counters` (issue 16): plain ++/-- under the pageq lock (OpenBSD before uvm_page.c
1.184, NetBSD's `pdpol_state`, FreeBSD's `pq_cnt`), atomic_inc_int/atomic_dec_int, still
under the lock (1.184-1.188), or one pair per CPU that only its CPU changes, summed by the
readers (NetBSD's `cpu_count`, Linux's per-CPU vmstat deltas): `queue_counts()` is the one
reader of every kind.
"""

from __future__ import annotations

from uvmsim.machine import Shared, SharedObject, inline, peek
from uvmsim.protocols import Protocol
from uvmsim.uvm.uvm import uvm

# `Protocol.queue_counters` (the knob's values; 0 resolves to the protocol's own kernel).
COUNTERS_KERNEL = 0  # locked before uvm_page.c 1.184 (`pageq_inside_queue_ops`), atomic from
COUNTERS_LOCKED = 1
COUNTERS_ATOMIC = 2
COUNTERS_PERCPU = 3


class Uvmexp(SharedObject):
    """Counters as of the seed diff (uvmexp.h 1.17 + the diff)."""

    npages = Shared("I")  # managed pages
    free = Shared("F")  # pages in the pmemrange allocator (not in magazines)
    active = Shared("L")
    inactive = Shared("L")
    paging = Shared("a")  # pages being paged out
    wired = Shared("a")  # the diff: [a], atomic_inc_int/atomic_dec_int
    zeropages = Shared("F")
    reserve_pagedaemon = Shared("I")
    reserve_kernel = Shared("I")
    freemin = Shared("I")
    freetarg = Shared("I")
    percpucaches = Shared("a")  # pages sitting in per-CPU magazines
    pcphit = Shared("a")
    pcpmiss = Shared("a")
    swpgonly = Shared("a")
    nswget = Shared("a")  # swap reads
    nswapdev = Shared("I")  # swap devices (set when swap is configured)
    swpages = Shared("I")  # swap slots
    swpginuse = Shared("")  # [S] uvm_swap_data_lock (a letter the machine does not check)
    # pagedaemon statistics: written only by the pagedaemon under the pageq lock
    pdscans = Shared("L")
    pdfreed = Shared("L")
    pdreact = Shared("L")
    pdbusy = Shared("L")
    pdpageouts = Shared("L")
    pdpending = Shared("L")


class UvmexpPlainWired(Uvmexp):
    """Before the diff (and `seed-plain-wired`): `wired` unannotated, plain ++/--."""

    wired = Shared("")


class UvmexpAtomicQueues(Uvmexp):
    """uvm_page.c 1.184-1.188 (`pageq_inside_queue_ops`): `active` and `inactive` are [a],
    changed with atomic_inc_int/atomic_dec_int (still under the pageq lock) and read with
    atomic_load_sint."""

    active = Shared("a")
    inactive = Shared("a")


class UvmexpAtomicQueuesPlainWired(UvmexpAtomicQueues):
    """A user's mix: atomic queue counters with a plain `wired`."""

    wired = Shared("")


class CpuQueueCounts(SharedObject):
    """One CPU's share of the queue counters (`queue_counters=3`): only that CPU changes
    them, with the pageq lock held (the changes sit beside the list operations, as Linux's
    `update_lru_size` runs under the lruvec lock); a reader takes the same lock and sums
    every CPU's share, which may be negative alone (a page queued on one CPU and dequeued on
    another)."""

    active = Shared("L")
    inactive = Shared("L")


uvmexp = Uvmexp("uvmexp")


def resolve_queue_counters(proto: Protocol) -> int:
    """The kind `proto` runs: its knob, or the kernel's own when the knob is 0."""
    if proto.queue_counters != COUNTERS_KERNEL:
        return proto.queue_counters
    return COUNTERS_ATOMIC if proto.pageq_inside_queue_ops else COUNTERS_LOCKED


def uvmexp_init(proto: Protocol, ncpu: int = 1) -> None:
    """Reset every counter for a new world; pick the annotations of the protocol (`wired`;
    `active`/`inactive` by the kind of queue counter) and, for per-CPU queue counters, one
    zeroed share per CPU."""
    kind = uvm.queue_counters = resolve_queue_counters(proto)
    if kind == COUNTERS_ATOMIC:
        cls = UvmexpAtomicQueues if proto.wired_atomic else UvmexpAtomicQueuesPlainWired
    else:
        cls = Uvmexp if proto.wired_atomic else UvmexpPlainWired
    uvmexp.__class__ = cls
    d = uvmexp.__dict__
    for f in Uvmexp._shared_fields:
        d[f.name] = 0
    uvm.cpu_queue_counts = []
    if kind == COUNTERS_PERCPU:
        for i in range(ncpu):
            share = CpuQueueCounts(f"cpu{i}.queue_counts")
            share.__dict__.update(active=0, inactive=0)
            uvm.cpu_queue_counts.append(share)


@inline
def queue_counts() -> tuple[int, int]:
    """(active, inactive) as a reader sees them: the two counters, or every CPU's share
    summed (visible reads, the pageq lock held by the caller)."""
    if uvm.queue_counters != COUNTERS_PERCPU:
        return uvmexp.active, uvmexp.inactive
    active = inactive = 0
    for share in uvm.cpu_queue_counts:
        active += share.active
        inactive += share.inactive
    return active, inactive


def queue_counts_at_rest() -> tuple[int, int]:
    """`queue_counts()` without visible operations, for invariants and reports."""
    if uvm.queue_counters != COUNTERS_PERCPU:
        return peek(uvmexp, "active"), peek(uvmexp, "inactive")
    return (
        sum(peek(s, "active") for s in uvm.cpu_queue_counts),
        sum(peek(s, "inactive") for s in uvm.cpu_queue_counts),
    )


def preload_queue_count(field: str, n: int) -> None:
    """Count `n` pages put on queue `field` by a set-up at boot (no visible operation): the
    counter, or CPU 0's share."""
    obj = uvm.cpu_queue_counts[0] if uvm.queue_counters == COUNTERS_PERCPU else uvmexp
    obj.__dict__[field] += n
