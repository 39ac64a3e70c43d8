"""`struct uvm` (sys/uvm/uvm.h): the global page queues and the two page mutexes.

- `page_active`, `page_inactive` [Q]: the LRU queues (insert at tail, scan from head).
- `pageqlock`: spin mutex at IPL_VM; protects both queues, PQ_ACTIVE/PQ_INACTIVE and
  uvmexp.active/inactive.
- `fpageqlock`: spin mutex at IPL_VM; protects the pmemrange allocator, PQ_FREE pages,
  uvmexp.free/zeropages, and is the interlock for sleeping on free memory.
- Lock order: pageqlock before fpageqlock.

With the knob `lru_shards` (the peer designs only: FreeBSD's domains, Linux's lruvecs) the
queues and their lock come once per shard (`pagequeues`): a page's shard is its physical
domain, fixed; `pageqlock.<i>` guards shard i's two queues, and there is no global pageq
lock (`uvm.pageqlock` is None).  Unsharded, the one shard *is* `uvm.pageqlock`,
`uvm.page_active` and `uvm.page_inactive`, named as before.

The model keeps one `uvm` object per process and re-initialises it for every execution
(`uvm_world_init`), like a kernel booting: model code refers to `uvm.pageqlock` as the C does.
`uvm.proto` is the protocol (which variant of each hunk) the world runs.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    IPL_BIO,
    IPL_NONE,
    IPL_VM,
    Machine,
    Mutex,
    Shared,
    SharedObject,
    curcpu,
    inline,
    poke,
)
from uvmsim.machine.mutex import mtx_enter, mtx_leave
from uvmsim.protocols import Protocol


def _queue_lock(q: Any) -> Any:
    """[Q] of an LRU queue: the lock of its shard."""
    return q.__dict__["lock"]


class pglist(SharedObject):
    """A TAILQ of pages (`struct pglist`): the head is one shared field.

    Insertions and removals read the head then write it back, two visible operations, so an
    unlocked concurrent update of a queue is a lost update, as with the C TAILQ macros.  The
    annotation of `tqh` is the lock of the queue: [Q] for the LRU queues, the pageq lock of
    the queue's shard (`lock`, set by `pagequeues`).
    """

    tqh = Shared("Q", default=list)

    annotation_locks = {"Q": _queue_lock}


class pagequeues:
    """One shard's LRU queues and their lock: FreeBSD's `vm_pagequeue` pair of a domain, or
    Linux's `lruvec`; unsharded, OpenBSD's `uvm.page_active`/`page_inactive` under
    `uvm.pageqlock`.  Names: `pageqlock`, `page_active`, `page_inactive`, with `.<i>` when
    there are several."""

    def __init__(self, index: int, nshards: int):
        suffix = f".{index}" if nshards > 1 else ""
        self.index = index
        self.lock = Mutex(f"pageqlock{suffix}", IPL_VM, lock_class="pageqlock")
        self.active = pglist(f"page_active{suffix}")
        self.inactive = pglist(f"page_inactive{suffix}")
        self.active.__dict__["lock"] = self.lock
        self.inactive.__dict__["lock"] = self.lock


class privlist:
    """A caller-private pglist on the stack (e.g. uvn_flush's `dead`): no lock, no sharing."""

    def __init__(self, name: str):
        self.name = name
        self.pages: list = []


class uvm_t:
    """The global `struct uvm`, re-initialised per execution."""

    def __init__(self) -> None:
        self.proto: Protocol | None = None
        self.pagequeues = [pagequeues(0, 1)]
        self.nshards = 1
        # Unsharded: the one shard's lock and queues under their OpenBSD names; sharded (see
        # `uvm_world_init`) there is no global pageq lock and these are None.
        self.pageqlock: Any = self.pagequeues[0].lock
        self.fpageqlock = Mutex("fpageqlock", IPL_VM)
        self.aiodoned_lock = Mutex("aiodoned_lock", IPL_BIO)
        self.swap_data_lock = Mutex("uvm_swap_data_lock", IPL_VM)
        # KERNEL_LOCK (sys/kern/kern_lock.c): see uvm/kernel_lock.py.  IPL_NONE: it spins but
        # raises no IPL.
        self.kernel_lock = Mutex("kernel_lock", IPL_NONE)
        self.page_active: Any = self.pagequeues[0].active
        self.page_inactive: Any = self.pagequeues[0].inactive
        self.pages: list = []  # every managed page (vm_physmem), in physical order
        self.objects: list = []
        self.anons: list = []
        self.amaps: list = []
        self.pmaps: list = []
        self.pmr: Any = None
        self.ncpu = 1
        self.cpu_caches: list = []
        self.pdq: list = []  # per-CPU intent queues (uvm_pdpolicy_clock; `pdpol_intents`)
        # per-CPU (active, inactive) batch queues (vm_pqbatch; `pqbatch_atomic`)
        self.pqbatch: list = []
        # per-CPU folio batches per operation (mm_swap; `lru_batch`)
        self.lru_fbatch: list = []
        # the kind of queue counter (uvmexp.COUNTERS_*, resolved from the protocol's knob
        # `queue_counters`) and, for per-CPU counters, each CPU's share (uvmexp_init)
        self.queue_counters = 1
        self.cpu_queue_counts: list = []
        self.aio_done: Any = None
        self.swap: Any = None
        self.pagedaemon_chan = object()  # wait channel `&uvm.pagedaemon`
        self.model_checks = True


uvm = uvm_t()


def uvm_world_init(proto: Protocol, ncpu: int, dma_end: int | None = None) -> None:
    """Boot a fresh world for one execution: new locks, queues, counters, allocator.

    `dma_end`: the first physical address above `dma_constraint` (None: no limit, every
    page is DMA-reachable and constrained).
    """
    from uvmsim.uvm import uvm_pager, uvm_pdpolicy_clock, uvm_pmemrange, uvm_swap
    from uvmsim.uvm import uvmexp as uvmexp_mod

    uvm.__init__()
    uvm.proto = proto
    uvm.ncpu = ncpu
    if proto.lru_shards > 1:
        uvm.nshards = proto.lru_shards
        uvm.pagequeues = [pagequeues(i, proto.lru_shards) for i in range(proto.lru_shards)]
        uvm.pageqlock = uvm.page_active = uvm.page_inactive = None
    uvmexp_mod.uvmexp_init(proto, ncpu)
    uvm_pmemrange.uvm_pmr_init(ncpu, uvm_pmemrange.NO_LIMIT if dma_end is None else dma_end)
    uvm_pdpolicy_clock.uvmpdpol_init(ncpu)
    uvm_swap.uvm_swap_init()
    uvm_pager.uvm_pager_init()


def uvm_bind_machine(m: Machine, invariants: bool = True) -> None:
    """Tell the machine what the lock letters mean in this world, and arm the invariants."""
    from uvmsim.uvm import invariants as inv

    if uvm.pageqlock is not None:
        m.bind_annotation("L", uvm.pageqlock)
    else:
        # Sharded: the pagedaemon's [L] statistics are written under the lock of the shard
        # it scans (one writer: no lock letter applies); the queue counters are atomic.
        m.bind_annotation("L", lambda obj: None)
    m.bind_annotation("F", uvm.fpageqlock)
    if invariants:
        inv.arm(m)


def cpu_domain(index: int) -> int:
    """The shard (domain) CPU `index` belongs to: the CPUs split into `nshards` groups."""
    return index * uvm.nshards // uvm.ncpu


def page_domain(i: int, npages: int) -> int:
    """The shard of page `i` of `npages`: physical memory split into `nshards` ranges."""
    return i * uvm.nshards // npages


@inline
def pg_pagequeues(pg: Any) -> pagequeues:
    """The queues (and lock) of `pg`'s shard."""
    return uvm.pagequeues[pg.__dict__["shard"]]


@inline
def pageq_lock_of(pg: Any) -> Any:
    """The pageq lock guarding `pg`'s queue: `uvm.pageqlock`, or its shard's."""
    return pg_pagequeues(pg).lock


def scanned_pagequeues() -> pagequeues:
    """The queues the pagedaemon on this CPU is scanning: the one shard, or the shard its
    round is at (`uvm_pageout` sets it)."""
    if uvm.nshards == 1:
        return uvm.pagequeues[0]
    return curcpu().local["pagequeues"]


@inline
def current_pageq_lock() -> Any:
    """The lock `uvm_lock_pageq()` means: `uvm.pageqlock`; sharded, the lock of the shard the
    pagedaemon is scanning, and none for any other caller (the peers' kernels have no
    global LRU lock: their operations lock the page's shard themselves)."""
    if uvm.nshards == 1:
        return uvm.pageqlock
    pq = curcpu().local.get("pagequeues")
    return None if pq is None else pq.lock


@inline
def uvm_lock_pageq() -> None:
    """`uvm_lock_pageq()`: mtx_enter(&uvm.pageqlock) (sharded: see `current_pageq_lock`)."""
    lock = uvm.pageqlock  # None only when sharded
    if lock is None:
        lock = current_pageq_lock()
    if lock is not None:
        mtx_enter(lock)


@inline
def uvm_unlock_pageq() -> None:
    """`uvm_unlock_pageq()`: mtx_leave(&uvm.pageqlock) (sharded: see `current_pageq_lock`)."""
    lock = uvm.pageqlock  # None only when sharded
    if lock is None:
        lock = current_pageq_lock()
    if lock is not None:
        mtx_leave(lock)


@inline
def uvm_lock_fpageq() -> None:
    """`uvm_lock_fpageq()`: mtx_enter(&uvm.fpageqlock)."""
    mtx_enter(uvm.fpageqlock)


@inline
def uvm_unlock_fpageq() -> None:
    """`uvm_unlock_fpageq()`: mtx_leave(&uvm.fpageqlock)."""
    mtx_leave(uvm.fpageqlock)


# ---- TAILQ operations on the shared LRU queues (sys/queue.h) --------------------------------
# Each reads the head and writes it back (two visible steps); `pg.pageq` records, for the
# invariants only, which list the page's single `pageq` linkage is on.


@inline
def TAILQ_INSERT_TAIL(q: pglist, pg: Any) -> None:
    """Append `pg` to queue `q`."""
    head = q.tqh
    q.tqh = [*head, pg]
    poke(pg, "pageq", q)


@inline
def TAILQ_INSERT_AFTER(q: pglist, listelm: Any, pg: Any) -> None:
    """Insert `pg` right after `listelm` (which must be on `q`)."""
    head = q.tqh
    i = next(i for i, p in enumerate(head) if p is listelm)
    q.tqh = [*head[: i + 1], pg, *head[i + 1 :]]
    poke(pg, "pageq", q)


@inline
def TAILQ_REMOVE(q: pglist, pg: Any) -> None:
    """Unlink `pg` from queue `q`."""
    head = q.tqh
    # A page is on a queue at most once, and list.index finds it by identity (a page has no
    # __eq__).  Removing a page that is not there writes the queue unchanged: a racing
    # protocol may do that, and the invariants, not an exception, must report it.
    try:
        i = head.index(pg)
    except ValueError:
        q.tqh = [*head]
    else:
        q.tqh = head[:i] + head[i + 1 :]
    poke(pg, "pageq", None)


@inline
def TAILQ_FIRST(q: pglist) -> Any:
    """The first page of `q`, or None."""
    head = q.tqh
    return head[0] if head else None


@inline
def TAILQ_NEXT(q: pglist, pg: Any) -> Any:
    """The page after `pg` on `q`, or None (pg must be on q)."""
    head = q.tqh
    for i, p in enumerate(head):
        if p is pg:
            return head[i + 1] if i + 1 < len(head) else None
    return None
