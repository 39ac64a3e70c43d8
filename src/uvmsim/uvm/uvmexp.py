"""`struct uvmexp` (sys/uvm/uvmexp.h): the page counters with their lock annotations.

Legend (uvmexp.h): [L] uvm.pageqlock, [F] uvm.fpageqlock, [a] atomic operations, [I]
immutable after creation.  `wired` is unannotated before the seed diff (plain ++/-- under the
pageq lock) and [a] after it (uvmexp.h hunk, @@ -61,7): the class of the one `uvmexp` object is
chosen per protocol.
"""

from __future__ import annotations

from uvmsim.machine import Shared, SharedObject
from uvmsim.protocols import Protocol


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


uvmexp = Uvmexp("uvmexp")


def uvmexp_init(proto: Protocol) -> None:
    """Reset every counter for a new world; pick the annotations of the protocol (`wired`;
    `active`/`inactive`)."""
    if proto.pageq_inside_queue_ops:
        cls = UvmexpAtomicQueues if proto.wired_atomic else UvmexpAtomicQueuesPlainWired
    else:
        cls = Uvmexp if proto.wired_atomic else UvmexpPlainWired
    uvmexp.__class__ = cls
    d = uvmexp.__dict__
    for f in Uvmexp._shared_fields:
        d[f.name] = 0
