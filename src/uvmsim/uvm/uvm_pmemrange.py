"""The free-page allocator (sys/uvm/uvm_pmemrange.c, uvm_percpu.h) under `uvm.fpageqlock`.

Pmemrange keeps free memory in ranges; the model keeps one list of free pages, each page
marked PQ_FREE and counted in uvmexp.free, all under the fpageq lock ([F]).  What the ranges
carry that matters here is their `use`: `uvm_pmr_init` raises it for every range inside a
machine-dependent constraint (`uvm_md_constraints`; on amd64 the ISA range below 16 MiB and
`dma_constraint`, memory below 4 GiB).  The model keeps one constrained range, the DMA one:
the first `dma_pages` pages of the world (a boot parameter, `uvm_boot(dma_share=...)`) have
`pmr_use` 1, the rest 0.  An allocation without a constraint takes pages of the lowest use
first, as pmemrange's use-sorted range list makes it; an allocation with a constraint
(`uvm_pglistalloc`: buffer cache, swap bounce pages) takes only pages inside it; pages with
`use > 0` bypass the per-CPU caches when freed (`uvm_pmr_cache_put`).

Per-CPU magazines (2024): each CPU has two magazines of up to 8 pages and an active index.
No lock protects them: only their own CPU touches them, at splvm, so an interrupt on the same
CPU cannot interleave.  Pages in a magazine have PQ_FREE clear, no owner, and are counted in
uvmexp.percpucaches, not uvmexp.free.  The kernel checks VALID_FLAGS only when a magazine is
flushed; the model also checks at put time (uvm-semantics.md I15).
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    IPL_VM,
    KASSERT,
    Shared,
    SharedObject,
    atomic_add_int,
    atomic_clearbits_int,
    atomic_dec_int,
    atomic_inc_int,
    atomic_setbits_int,
    atomic_sub_int,
    curcpu,
    kernel_work,
    peek,
    poke,
    sleep_on,
    splassert,
    splvm,
    splx,
    wakeup,
)
from uvmsim.machine.sites import inline
from uvmsim.uvm import uvm_page_h as up
from uvmsim.uvm.invariants import assert_model
from uvmsim.uvm.uvm import cpu_domain, uvm, uvm_lock_fpageq, uvm_unlock_fpageq
from uvmsim.uvm.uvmexp import uvmexp

# uvm_extern.h
UVM_PLA_WAITOK = 0x0001
UVM_PLA_NOWAIT = 0x0002
UVM_PLA_ZERO = 0x0004
UVM_PLA_TRYCONTIG = 0x0008
UVM_PLA_FAILOK = 0x0010
UVM_PLA_NOWAKE = 0x0020
UVM_PLA_USERESERVE = 0x0040

ENOMEM = 12

UVM_PMR_CACHEMAGSZ = 8


def VALID_FLAGS(flags: int) -> bool:
    """`VALID_FLAGS`: only PQ_FREE, PG_ZERO and pmap bits may be set on a free page."""
    return (flags & ~(up.PQ_FREE | up.PG_ZERO | up.PG_PMAPMASK)) == 0


class uvm_pmr_control(SharedObject):
    """`struct uvm_pmr_control` [F]: the free ranges (one list here).

    Model bookkeeping, not kernel state: `use0_from` is (the pool list it describes, a
    position before which none of its pages has range use 0), so that `_choose` need not
    walk the pool's leading DMA pages on every allocation; it is kept beside `free_pages`
    in the object's dict, so that a world snapshot restores both together.
    """

    free_pages = Shared("F", default=list)


class uvm_pmr_cache:
    """`struct uvm_pmr_cache` of one CPU: two magazines and the active index (CPU-local)."""

    def __init__(self, cpu: int):
        self.cpu = cpu
        self.magz: list[list] = [[], []]
        self.actv = 0


class uvm_constraint_range:
    """`struct uvm_constraint_range`: physical addresses [ucr_low, ucr_high) (immutable)."""

    __slots__ = ("name", "ucr_high", "ucr_low")

    def __init__(self, name: str, low: int, high: int):
        self.name = name
        self.ucr_low = low
        self.ucr_high = high

    def __contains__(self, pg: Any) -> bool:
        pa = peek(pg, "phys_addr")
        return self.ucr_low <= pa < self.ucr_high

    def __repr__(self) -> str:
        return f"{self.name}[0x{self.ucr_low:x}, 0x{self.ucr_high:x})"


NO_LIMIT = 1 << 62


def uvm_pmr_init(ncpu: int, dma_end: int = NO_LIMIT) -> None:
    """A new, empty allocator and one magazine pair per CPU (pages: `uvm_page_physload`).

    `dma_end` is the first physical address above `dma_constraint` (amd64: 4 GiB); pages
    below it are in a range of use 1.  `high_constraint` is everything above it, what
    `buf_flip_high` asks for.
    """
    uvm.pmr = uvm_pmr_control("pmr")
    uvm.cpu_caches = [uvm_pmr_cache(i) for i in range(ncpu)]
    uvm.no_constraint = uvm_constraint_range("no_constraint", 0, NO_LIMIT)
    uvm.dma_constraint = uvm_constraint_range("dma_constraint", 0, dma_end)
    uvm.high_constraint = uvm_constraint_range("high_constraint", dma_end, NO_LIMIT)


def uvm_page_physload(pages: list) -> None:
    """Boot: hand managed pages to the allocator (no visible operations; nothing runs yet)."""
    d = uvm.pmr.__dict__
    d["free_pages"] = d["free_pages"] + list(pages)
    for pg in pages:
        poke(pg, "pg_flags", peek(pg, "pg_flags") | up.PQ_FREE)
        poke(pg, "owner_state", "pmr")
        poke(pg, "pageq", uvm.pmr)
    uvm.pages.extend(pages)
    ue = uvmexp.__dict__
    ue["npages"] += len(pages)
    ue["free"] += len(pages)


@inline
def _mine() -> uvm_pmr_cache:
    """This CPU's cache; the caller runs at IPL_VM (asserted), as the kernel does."""
    splassert(IPL_VM)
    return uvm.cpu_caches[curcpu().index]


@inline
def _took(pg: Any) -> None:
    """Model bookkeeping: the page left the free pool or a magazine for its caller."""
    d = pg.__dict__
    d["owner_state"] = "allocated"
    d["gen"] += 1
    d["pageq"] = None


def _choose(pool: list, count: int, constraint: Any) -> list[int] | None:
    """Positions in `pool` of the `count` free pages a request takes: inside `constraint`,
    lowest range use first, pool order within a use; None if fewer fit.

    Use 0 is the lowest there is, so once `count` fitting pages of use 0 are found the
    search stops (the common case: a build's pool is thousands of pages long and a request
    wants one or eight).
    """
    if constraint is None:
        constraint = uvm.no_constraint
    if uvm.nshards > 1:
        return _choose_local(pool, count, constraint)
    low, high = constraint.ucr_low, constraint.ucr_high
    # Two passes giving the positions of one "by use, then pool order" pass.  First use 0,
    # from the first position that can hold a page of use 0 (`_use0_from`: the pool's
    # leading DMA pages are skipped); it finds every fitting page of use 0.  Only when those
    # are too few, the other uses: use 1, the next lowest there can be, ends the pass as
    # soon as it makes up the count; higher uses (none in the model's worlds) come last.
    first: list[int] = []
    for i in range(_use0_from(pool), len(pool)):
        d = pool[i].__dict__
        if d["pmr_use"] == 0 and low <= d["phys_addr"] < high:
            first.append(i)
            if len(first) == count:
                return first
    short = count - len(first)
    ones: list[int] = []
    higher: dict[int, list[int]] = {}
    for i, pg in enumerate(pool):
        d = pg.__dict__
        use = d["pmr_use"]
        if use == 0 or not low <= d["phys_addr"] < high:
            continue
        if use == 1:
            ones.append(i)
            if len(ones) == short:
                return first + ones
        else:
            higher.setdefault(use, []).append(i)
    fits = first + ones + [i for use in sorted(higher) for i in higher[use]]
    return fits[:count] if len(fits) >= count else None


def _use0_from(pool: list) -> int:
    """A position of `pool` before which no page has range use 0 (the first page of use 0
    when computed here), from `uvm.pmr.use0_from` when that describes this very list."""
    d = uvm.pmr.__dict__
    cached = d.get("use0_from")
    if cached is not None and cached[0] is pool:
        return cached[1]
    k = next((i for i, pg in enumerate(pool) if pg.__dict__["pmr_use"] == 0), len(pool))
    d["use0_from"] = (pool, k)
    return k


def _keep_use0_from(old: list, new: list, taken: list[int] | None) -> None:
    """`new` replaces `old` as the pool: `old` less the positions `taken`, or (None) `old`
    with pages appended.  `use0_from` only needs to be a position before which no page has
    use 0: taking pages in front of it moves it down by as many, appending leaves it."""
    d = uvm.pmr.__dict__
    cached = d.get("use0_from")
    if cached is None or cached[0] is not old:
        return
    k = cached[1]
    if taken is not None:
        k -= sum(1 for i in taken if i < k)
    d["use0_from"] = (new, k)


def _choose_local(pool: list, count: int, constraint: Any) -> list[int] | None:
    """`_choose` with `lru_shards`: within a range use, the pages of this CPU's domain first,
    then the other domains'.  OpenBSD's pmemrange knows no domains; this is FreeBSD's
    default, first-touch policy (sys/kern/kern_cpuset.c `domainset_zero`), whose iterator
    starts at the running CPU's domain and falls back to the others in turn
    (sys/vm/vm_domainset.c `vm_domainset_iter_phase_first`/`_next`, freebsd-src as stored
    in the index), and Linux's local-node allocation (its default memory policy, not
    read here)."""
    low, high = constraint.ucr_low, constraint.ucr_high
    mine = cpu_domain(curcpu().index)
    ranked: dict[tuple[int, bool], list[int]] = {}
    for i, pg in enumerate(pool):
        d = pg.__dict__
        if low <= d["phys_addr"] < high:
            ranked.setdefault((d["pmr_use"], d["shard"] != mine), []).append(i)
    fits = [i for key in sorted(ranked) for i in ranked[key]]
    return fits[:count] if len(fits) >= count else None


def uvm_pmr_getpages(count: int, flags: int, result: list, constraint: Any = None) -> int:
    """`uvm_pmr_getpages` (uvm_pmemrange.c 1.77): take `count` free pages into `result`.

    Returns 0, or ENOMEM.  Takes only the fpageq lock.  Wakes the pagedaemon below the free
    targets; refuses to dip into the kernel reserve without UVM_PLA_USERESERVE and into the
    pagedaemon reserve unless it may wait (UVM_PLA_WAITOK: sleep on &uvmexp.free with fpageq
    as interlock, then retry).  Pages come from inside `constraint` (None: anywhere), from
    the ranges of lowest use first.  Each page leaves with PQ_FREE and PG_ZERO clear and
    (1.77) KASSERTed ownerless.  (The kernel re-takes fpageq once per PG_ZERO page handed
    out; the model has no zeroed free pages, so it never does.)
    """
    KASSERT(count > 0, "count > 0")
    KASSERT(
        ((flags & UVM_PLA_WAITOK) == 0) != ((flags & UVM_PLA_NOWAIT) == 0),
        "(flags & UVM_PLA_WAITOK) == 0 ^ (flags & UVM_PLA_NOWAIT) == 0",
    )
    KASSERT(not result, "TAILQ_EMPTY(result)")
    while True:
        uvm_lock_fpageq()
        free = uvmexp.free
        if free - count < uvmexp.freemin or free - count < uvmexp.freetarg:
            wakeup(uvm.pagedaemon_chan)
        if free <= uvmexp.reserve_kernel + count and not flags & UVM_PLA_USERESERVE:
            uvm_unlock_fpageq()
            return ENOMEM
        pool = uvm.pmr.free_pages
        chosen = _choose(pool, count, constraint)
        if chosen is None:
            if flags & UVM_PLA_WAITOK and not flags & UVM_PLA_FAILOK:
                # uvm_wait_pla: sleep until pages are freed (fpageq is the interlock).
                wakeup(uvm.pagedaemon_chan)
                sleep_on(uvmexp, uvm.fpageqlock, "pmrwait")
                continue
            if not flags & UVM_PLA_NOWAKE:
                wakeup(uvm.pagedaemon_chan)
            uvm_unlock_fpageq()
            return ENOMEM
        kernel_work("pmr_work")  # the address/size tree search the model does not have
        taken = [pool[i] for i in chosen]
        rest = list(pool)
        for i in sorted(chosen, reverse=True):
            del rest[i]
        _keep_use0_from(pool, rest, chosen)
        uvm.pmr.free_pages = rest
        uvmexp.free = free - count
        for pg in taken:
            _took(pg)
        uvm_unlock_fpageq()
        break
    for pg in taken:
        atomic_clearbits_int(pg, "pg_flags", up.PG_PMAPMASK)
        if flags & UVM_PLA_ZERO:
            from uvmsim.uvm.uvm_page import uvm_pagezero

            uvm_pagezero(pg)
        atomic_clearbits_int(pg, "pg_flags", up.PG_ZERO | up.PQ_FREE)
        KASSERT(pg.uobject is None, "pg->uobject == NULL")
        KASSERT(pg.uanon is None, "pg->uanon == NULL")
        result.append(pg)
    return 0


def uvm_pmr_getone(flags: int) -> Any:
    """`uvm_pmr_getone`: one page through `uvm_pmr_getpages`, or None."""
    result: list = []
    if uvm_pmr_getpages(1, flags, result) != 0:
        return None
    return result[0]


def uvm_pglistalloc(npages: int, flags: int, result: list, where: Any = None) -> int:
    """`uvm_pglistalloc` (uvm_page.c): `uvm_pmr_getpages` inside the constraint `where`.

    UVM_PLA_USERESERVE is forced; the per-CPU magazines are never used.  The buffer cache
    and swap bounce pages pass `dma_constraint`, flips to high memory `high_constraint`.
    """
    return uvm_pmr_getpages(npages, flags | UVM_PLA_USERESERVE, result, where)


@inline
def _free_flags(pg: Any) -> int:
    """The flags the allocator's checks look at.  With `pdpol_intents` the LRU bits are the
    page-replacement policy's (NetBSD keeps them in `pqflags`, which its allocator never
    looks at): a freed page may keep them until its dequeue intent is realized, which the
    invariants check (uvm/invariants.py)."""
    flags = pg.pg_flags
    if uvm.proto.pdpol_intents:
        flags &= ~up.PQ_LRU
    return flags


@inline
def _check_free(pg: Any) -> None:
    """The per-page checks of uvm_pmr_freepages/uvm_pmr_freepageq (1.77), then PQ_FREE."""
    KASSERT(pg.uobject is None, "pg->uobject == NULL")
    KASSERT(pg.uanon is None, "pg->uanon == NULL")
    flags = _free_flags(pg)
    KASSERT(
        (flags & up.PQ_FREE) == 0 and VALID_FLAGS(flags),
        f"(pg->pg_flags & PQ_FREE) == 0 && VALID_FLAGS(pg->pg_flags) "
        f"[Flags: {up.flag_names(flags)}, will panic now.]",
    )
    atomic_setbits_int(pg, "pg_flags", up.PQ_FREE)
    atomic_clearbits_int(pg, "pg_flags", up.PG_ZERO)


@inline
def _insert_free(pages: list) -> None:
    """Under fpageq: put `pages` back in the free pool and wake whoever waits for memory."""
    for pg in pages:
        assert_model(
            peek(pg, "owner_state") != "pmr",
            f"double free: {pg.name} put into pmemrange while already there",
        )
    kernel_work("pmr_work")  # inserting and coalescing ranges in the trees
    pool = uvm.pmr.free_pages
    new = pool + list(pages)
    _keep_use0_from(pool, new, None)
    uvm.pmr.free_pages = new
    uvmexp.free = uvmexp.free + len(pages)
    for pg in pages:
        d = pg.__dict__
        d["owner_state"] = "pmr"
        d["pageq"] = uvm.pmr
    wakeup(uvmexp)


def uvm_pmr_freepages(pages: list) -> None:
    """`uvm_pmr_freepages(pg, count)`: free a run of cleaned pages; takes fpageq."""
    for pg in pages:
        _check_free(pg)
    uvm_lock_fpageq()
    _insert_free(pages)
    uvm_unlock_fpageq()


def uvm_pmr_freepageq(pgl: list) -> None:
    """`uvm_pmr_freepageq`: free a list of cleaned pages; takes fpageq (even for an empty list)."""
    for pg in pgl:
        _check_free(pg)
    uvm_lock_fpageq()
    _insert_free(pgl)
    uvm_unlock_fpageq()


# ---- per-CPU magazines ------------------------------------------------------------------------


def uvm_pmr_cache_alloc(mag: list) -> int:
    """`uvm_pmr_cache_alloc`: refill an empty magazine with 8 pages (NOWAIT|NOWAKE); -1 if none."""
    splassert(IPL_VM)
    KASSERT(not mag, "upci->upci_npages == 0")
    result: list = []
    if uvm_pmr_getpages(UVM_PMR_CACHEMAGSZ, UVM_PLA_NOWAIT | UVM_PLA_NOWAKE, result) != 0:
        return -1
    for pg in result:
        poke(pg, "owner_state", "magazine")
    mag.extend(result)
    atomic_add_int(uvmexp, "percpucaches", len(result))
    return 0


def uvm_pmr_cache_get(flags: int) -> Any:
    """`uvm_pmr_cache_get`: a page from this CPU's magazines, refilling one on a miss.

    A hit (`pcphit`) pops the active magazine; an empty active magazine switches to the other
    one; both empty is a miss (`pcpmiss`): refill, or fall back to `uvm_pmr_getone`.
    """
    s = splvm()
    upc = _mine()
    mag = upc.magz[upc.actv]
    if not mag:
        other = upc.magz[1 - upc.actv]
        if not other:
            atomic_inc_int(uvmexp, "pcpmiss")
            if uvm_pmr_cache_alloc(other) != 0:
                splx(s)
                return uvm_pmr_getone(flags)
        upc.actv = 1 - upc.actv
        mag = other
    else:
        atomic_inc_int(uvmexp, "pcphit")
    pg = mag.pop()
    _took(pg)
    atomic_dec_int(uvmexp, "percpucaches")
    splx(s)
    if flags & UVM_PLA_ZERO:
        from uvmsim.uvm.uvm_page import uvm_pagezero

        uvm_pagezero(pg)
    return pg


def uvm_pmr_cache_free(mag: list) -> int:
    """`uvm_pmr_cache_free`: flush a whole magazine to pmemrange (one fpageq acquisition)."""
    splassert(IPL_VM)
    pgl = list(mag)
    mag.clear()
    uvm_pmr_freepageq(pgl)
    atomic_sub_int(uvmexp, "percpucaches", len(pgl))
    return len(pgl)


def uvm_pmr_cache_put(pg: Any) -> None:
    """`uvm_pmr_cache_put`: free a cleaned page into this CPU's magazine.

    Pages of constrained ranges (`use > 0`) bypass the cache (`uvm_pmr_freepages`).  A full
    active magazine makes the other one active, flushing it first if it holds pages.
    """
    if pg.pmr_use > 0:
        uvm_pmr_freepages([pg])
        return
    flags = _free_flags(pg)
    assert_model(
        VALID_FLAGS(flags) and pg.uobject is None and pg.uanon is None and pg.wire_count == 0,
        f"{pg.name} put in a per-CPU magazine with flags {up.flag_names(flags)}, "
        f"owner {peek(pg, 'uobject') or peek(pg, 'uanon')}, wire_count "
        f"{peek(pg, 'wire_count')}: it would sit there unchecked until a flush",
    )
    assert_model(
        peek(pg, "owner_state") == "allocated",
        f"double free: {pg.name} put in a magazine while already free ({peek(pg, 'owner_state')})",
    )
    s = splvm()
    upc = _mine()
    mag = upc.magz[upc.actv]
    if len(mag) >= UVM_PMR_CACHEMAGSZ:
        upc.actv = 1 - upc.actv
        mag = upc.magz[upc.actv]
        if mag:
            uvm_pmr_cache_free(mag)
        KASSERT(not mag, "upci->upci_npages == 0")
    mag.append(pg)
    d = pg.__dict__
    d["owner_state"] = "magazine"
    d["pageq"] = None
    atomic_inc_int(uvmexp, "percpucaches")
    splx(s)


def uvm_pmr_cache_drain() -> int:
    """`uvm_pmr_cache_drain` (uvm_pmemrange.c 1.77): flush both magazines of this CPU.

    Returns the pages freed.  Both magazines go through `uvm_pmr_cache_free` whether or
    not they hold pages, so the fpageq lock is taken twice even when both are empty.
    """
    s = splvm()
    upc = _mine()
    freed = 0
    for mag in upc.magz:
        freed += uvm_pmr_cache_free(mag)
    splx(s)
    return freed
