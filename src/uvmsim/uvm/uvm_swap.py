"""Swap (sys/uvm/uvm_swap.c 1.173 before the seed diff, 1.174 with it; read in 1.176).

One swap device of `nslots` page slots (drum slots 1..nslots; 0 means "no slot").  Slots
are allocated and freed under `uvm_swap_data_lock` (an IPL_VM mutex, `[S]` in uvmexp.h) and,
as in the kernel, with the kernel lock held: `uvm_swap_alloc` asserts it (its only caller is
the pagedaemon, which runs under it), `uvm_swap_free` takes it (recursively).  `uvm_swap_io`
asserts it too: `uvm_swap_get` takes it around the read, the pagedaemon holds it for writes.

Writes from the pagedaemon are always asynchronous (`uvm_pager_put` passes no PGO_SYNCIO):
`uvm_swap_io` returns VM_PAGER_PEND once the write is started, or VM_PAGER_AGAIN before any
I/O when a NOWAIT resource is missing (a buf from `bufpool`, pager KVA for a cluster, bounce
pages).  Reads are synchronous.  With swap encryption (on by default, `uvm_doswapencrypt`)
every write goes through bounce pages from `dma_constraint`: the data is encrypted into them,
the originals are unbusied and marked clean at once (`uvm_pager_dropcluster` with
PGO_PDFREECLUST), and the aiodone daemon later frees only the bounce pages (they carry
PQ_ENCRYPT, "this just tells async callbacks to free").  Without encryption a write bounces
only when a page is outside `dma_constraint`; otherwise the originals stay busy until the
aiodone daemon runs `uvm_aio_aiodone_pages` on them.

The swap world's parameters (`uvm_swap_init`) are model knobs, not kernel state: the size,
encryption, a read error, a fragmented device (every other slot taken, so no cluster finds
contiguous slots and `uvm_swap_alloc` falls back to one slot), and injected failures of the
NOWAIT allocations (`bufpool_fail`, `mapin_fail`, `bounce_fail`: how many such calls fail).
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    IPL_VM,
    KASSERT,
    Mutex,
    Shared,
    SharedObject,
    atomic_dec_int,
    atomic_inc_int,
    atomic_setbits_int,
    curcpu,
    kernel_work,
    mtx_enter,
    mtx_leave,
    peek,
    poke,
    sleep_on,
    wakeup,
)
from uvmsim.uvm.kernel_lock import (
    KERNEL_ASSERT_LOCKED,
    KERNEL_LOCK,
    KERNEL_UNLOCK,
    kernel_lock_acquire_count,
    kernel_lock_release_all,
    kl_biowait,
)
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvmexp import uvmexp

# uvm_pager.h result codes
VM_PAGER_OK = 0
VM_PAGER_BAD = 1
VM_PAGER_AGAIN = 2
VM_PAGER_PEND = 3
VM_PAGER_ERROR = 4
VM_PAGER_UNLOCK = 5
VM_PAGER_REFAULT = 6

SWSLOT_BAD = -1
SWCLUSTPAGES = 16  # MAXBSIZE >> PAGE_SHIFT: the pagedaemon's swap cluster

# struct buf b_flags (sys/buf.h), as far as swap I/O uses them
B_WRITE = 0x0000
B_READ = 0x0008
B_ASYNC = 0x0004

PGO_SYNCIO = 0x002  # uvm_pager.h (uvm_pager.py imports this module)


class swapdev(SharedObject):
    """`struct swapdev` of the one device: which slots are in use, under uvm_swap_data_lock.

    `swd_inuse` is the device's blist as one bit per slot (slot s is index s-1).  The
    kernel's `[S]` (uvm_swap_data_lock) is spelled `o` here, resolved to that mutex: the
    machine's lock letters are L/Q/F/o.
    """

    swd_inuse = Shared("o", default=tuple)
    swd_npginuse = Shared("o")
    swd_npgbad = Shared("o")

    annotation_locks = {"o": lambda sw: uvm.swap_data_lock}


class swapbuf:
    """The `struct buf` of one swap write: its pages (the bounce pages if it bounced), how
    many, whether the pagedaemon issued it (B_PDAEMON), and its error.  Private to the
    thread that holds it, so plain Python state."""

    __slots__ = ("b_error", "npages", "pages", "pdaemon")

    def __init__(self, pages: list, pdaemon: bool):
        self.pages = list(pages)
        self.npages = len(pages)
        self.pdaemon = pdaemon
        self.b_error = 0


def uvm_swap_init(
    nslots: int = 64,
    encrypt: bool = True,
    read_error: bool = False,
    fragmented: bool = False,
    bufpool_fail: int = 0,
    mapin_fail: int = 0,
    bounce_fail: int = 0,
) -> None:
    """`uvm_swap_init` + `swapmount` for this world: one enabled device of `nslots` slots.

    The OOM set (`oompps`, SWCLUSTPAGES pages the kernel takes from `dma_constraint` at boot
    so that the pagedaemon can always bounce) is kept outside the world's managed pages, so
    that a scenario's page count is what it says.  See the module docstring for the knobs.
    """
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, vm_page

    sw = swapdev("swapdev")
    inuse = [False] * nslots
    if fragmented:
        for i in range(1, nslots, 2):
            inuse[i] = True  # held by swap-backed pages elsewhere in the system
    d = sw.__dict__
    d["swd_inuse"] = tuple(inuse)
    d["swd_npginuse"] = sum(inuse)
    d["swd_npgbad"] = 0
    d["encrypt"] = encrypt
    d["read_error"] = read_error
    d["bufpool_fail"] = bufpool_fail
    d["mapin_fail"] = mapin_fail
    d["bounce_fail"] = bounce_fail
    d["oommtx"] = Mutex("oommtx", IPL_VM)
    d["oom"] = 0
    d["oompps"] = [
        vm_page(f"oom{i}", phys_addr=(1 << 40) + i * PAGE_SIZE, pmr_use=1)
        for i in range(SWCLUSTPAGES)
    ]
    for pg in d["oompps"]:
        poke(pg, "owner_state", "allocated")
        poke(pg, "pg_flags", PG_BUSY)
    uvm.swap = sw
    ue = uvmexp.__dict__
    ue["nswapdev"] = 1
    ue["swpages"] = nslots
    ue["swpginuse"] = sum(inuse)


def _inject(knob: str) -> bool:
    """Consume one injected failure of `knob` (model bookkeeping, not a visible step)."""
    d = uvm.swap.__dict__
    if d[knob] > 0:
        d[knob] -= 1
        return True
    return False


def _pagedaemon() -> bool:
    """`curproc == uvm.pagedaemon_proc`."""
    return bool(curcpu().local.get("pagedaemon"))


def uvm_swap_alloc(nslots: int, lessok: bool) -> tuple[int, int]:
    """`uvm_swap_alloc` (uvm_swap.c 1.176): `nslots` contiguous slots; (first slot, count).

    Kernel lock held (asserted); takes uvm_swap_data_lock.  When no run of `nslots` free
    slots exists and `lessok`, it tries again for a single slot (a fallback the kernel
    itself marks as provisional): that is how the pagedaemon ends up with a one-page
    cluster.  (0, 0) when swap is full.
    """
    if uvmexp.nswapdev < 1:
        return 0, 0
    KERNEL_ASSERT_LOCKED()
    sw = uvm.swap
    mtx_enter(uvm.swap_data_lock)
    while True:
        inuse = sw.swd_inuse
        run = 0
        for i, used in enumerate(inuse):
            run = 0 if used else run + 1
            if run == nslots:
                first = i - nslots + 1
                sw.swd_inuse = inuse[:first] + (True,) * nslots + inuse[i + 1 :]
                sw.swd_npginuse = sw.swd_npginuse + nslots
                uvmexp.swpginuse = uvmexp.swpginuse + nslots
                mtx_leave(uvm.swap_data_lock)
                return first + 1, nslots
        if nslots > 1 and lessok:
            nslots = 1
            continue
        mtx_leave(uvm.swap_data_lock)
        return 0, 0


def uvm_swap_free(startslot: int, nslots: int) -> None:
    """`uvm_swap_free` (uvm_swap.c 1.176): give slots back.

    SWSLOT_BAD is ignored.  Takes the kernel lock (recursively if held) and
    uvm_swap_data_lock.
    """
    if startslot == SWSLOT_BAD:
        return
    KERNEL_LOCK()
    sw = uvm.swap
    mtx_enter(uvm.swap_data_lock)
    KASSERT(sw.swd_npginuse >= nslots, "sdp->swd_npginuse >= nslots")
    inuse = sw.swd_inuse
    first = startslot - 1
    sw.swd_inuse = inuse[:first] + (False,) * nslots + inuse[first + nslots :]
    sw.swd_npginuse = sw.swd_npginuse - nslots
    uvmexp.swpginuse = uvmexp.swpginuse - nslots
    mtx_leave(uvm.swap_data_lock)
    KERNEL_UNLOCK()


def uvm_swap_markbad(startslot: int, nslots: int) -> None:
    """`uvm_swap_markbad`: count slots as bad (they are never freed); uvm_swap_data_lock."""
    sw = uvm.swap
    mtx_enter(uvm.swap_data_lock)
    sw.swd_npgbad = sw.swd_npgbad + nslots
    mtx_leave(uvm.swap_data_lock)


def uvm_swapisfilled() -> bool:
    """`uvm_swapisfilled`: fewer free slots than one cluster (uvm_swap_data_lock)."""
    mtx_enter(uvm.swap_data_lock)
    result = uvmexp.swpginuse + SWCLUSTPAGES >= uvmexp.swpages
    mtx_leave(uvm.swap_data_lock)
    return result


def uvm_swapisfull() -> bool:
    """`uvm_swapisfull`: pages living only in swap are 99% of it (uvm_swap_data_lock)."""
    mtx_enter(uvm.swap_data_lock)
    result = peek(uvmexp, "swpgonly") >= uvmexp.swpages * 99 // 100
    mtx_leave(uvm.swap_data_lock)
    return result


def uvm_swap_get(pg: Any, slot: int, flags: int = PGO_SYNCIO) -> int:
    """`uvm_swap_get` (uvm_swap.c 1.176): read one page from `slot`, synchronously.

    A SWSLOT_BAD slot fails at once.  The read runs under the kernel lock (taken here);
    once it succeeded the page no longer lives only in swap: `uvmexp.swpgonly` drops by one
    (atomically, after the kernel lock is released, without a KASSERT).  A failed read
    leaves it as it was.
    """
    atomic_inc_int(uvmexp, "nswget")
    KASSERT(flags & PGO_SYNCIO, "flags & PGO_SYNCIO")
    if slot == SWSLOT_BAD:
        return VM_PAGER_ERROR
    KERNEL_LOCK()
    result = uvm_swap_io([pg], slot, 1, B_READ)
    KERNEL_UNLOCK()
    if result in (VM_PAGER_OK, VM_PAGER_PEND):
        atomic_dec_int(uvmexp, "swpgonly")
    return result


def uvm_swap_put(slot: int, pps: list, flags: int) -> int:
    """`uvm_swap_put`: write `pps` to slots from `slot`; asynchronous unless PGO_SYNCIO."""
    return uvm_swap_io(pps, slot, len(pps), B_WRITE | (0 if flags & PGO_SYNCIO else B_ASYNC))


def uvm_swap_io(pps: list, startslot: int, npages: int, flags: int) -> int:
    """`uvm_swap_io` (uvm_swap.c 1.176): one swap read or write; kernel lock held.

    Returns VM_PAGER_AGAIN before starting anything when the NOWAIT (async or pagedaemon)
    `pool_get(&bufpool)` fails, when a cluster cannot be mapped in without waiting, or when
    bounce pages or their mapping are missing (the pagedaemon falls back to the OOM set,
    so bounce allocation never fails for it).  An async write returns VM_PAGER_PEND once
    started; a read waits for the disk (sleeping without the kernel lock) and returns OK
    or ERROR.  A bounced write (encryption, or a page outside `dma_constraint`) encrypts or
    copies into the bounce pages, marks them PQ_ENCRYPT and unbusies the originals now
    (`uvm_pager_dropcluster`, PGO_PDFREECLUST); the buffer then carries the bounce pages.
    A bounced read copies out of the bounce pages and frees them here.  Pager KVA for one
    page is amd64's direct map, which cannot fail.
    """
    from uvmsim.uvm.uvm_page_h import PQ_ENCRYPT
    from uvmsim.uvm.uvm_pager import PGO_PDFREECLUST, uvm_aio_biodone, uvm_pager_dropcluster

    KERNEL_ASSERT_LOCKED()
    sw = uvm.swap.__dict__
    write = not flags & B_READ
    is_async = bool(flags & B_ASYNC)
    pdaemon = _pagedaemon()
    if (is_async or pdaemon) and _inject("bufpool_fail"):
        return VM_PAGER_AGAIN  # pool_get(&bufpool, PR_NOWAIT) returned NULL
    if is_async and npages > 1 and _inject("mapin_fail"):
        return VM_PAGER_AGAIN  # uvm_pagermapin without UVMPAGER_MAPIN_WAITOK
    encrypt = write and sw["encrypt"]
    if sw["encrypt"]:
        mtx_enter(uvm.swap_data_lock)  # swapdrum_getsdp
        mtx_leave(uvm.swap_data_lock)
    # Writes always bounce through the encryption; otherwise a page outside dma_constraint.
    bounce = encrypt or any(pg not in uvm.dma_constraint for pg in pps)
    tpps: list = []
    if bounce:
        from uvmsim.uvm.uvm_pmemrange import UVM_PLA_NOWAIT, UVM_PLA_WAITOK

        tpps = uvm_swap_allocpages(npages, UVM_PLA_NOWAIT if is_async else UVM_PLA_WAITOK)
        if tpps is None:
            return VM_PAGER_AGAIN
        if is_async and npages > 1 and _inject("mapin_fail"):
            uvm_swap_freepages(tpps)
            return VM_PAGER_AGAIN
    if write and bounce:
        for tpg in tpps:
            kernel_work("pagecopy", tpg)  # swap_encrypt (or memcpy) into the bounce page
            atomic_setbits_int(tpg, "pg_flags", PQ_ENCRYPT)
        uvm_pager_dropcluster(None, None, pps, PGO_PDFREECLUST)
    if not write:
        is_async = False
    if is_async:
        # VOP_STRATEGY starts the write; the disk's interrupt (uvm_aio_biodone) queues the
        # buffer for the aiodone daemon.  The model completes it at once.
        uvm_aio_biodone(swapbuf(tpps if bounce else pps, pdaemon))
        return VM_PAGER_PEND
    kl_biowait("swap_io", pps[0])
    result = VM_PAGER_ERROR if sw["read_error"] else VM_PAGER_OK
    if not write and result == VM_PAGER_OK:
        for pg in pps:
            if sw["encrypt"] or bounce:
                kernel_work("pagecopy", pg)  # swap_decrypt, or the copy out of the bounce
    if not write and bounce:
        uvm_swap_freepages(tpps)
    return result


def uvm_swap_allocpages(npages: int, flags: int) -> list | None:
    """`uvm_swap_allocpages`: `npages` busy bounce pages from `dma_constraint`, or None.

    When the allocation fails the pagedaemon takes the OOM set instead, sleeping on `oom`
    while another write still uses it; anyone else gets None.  (The kernel checks the OOM
    set under `oommtx` holding the kernel lock and drops it only if it sleeps; the model
    drops it before re-taking `oommtx` for the sleep, so that the mutexes nest.)
    """
    from uvmsim.uvm.uvm_page_h import PG_BUSY
    from uvmsim.uvm.uvm_pmemrange import ENOMEM, UVM_PLA_NOWAIT, uvm_pglistalloc

    sw = uvm.swap
    while True:
        pgl: list = []
        if flags & UVM_PLA_NOWAIT and _inject("bounce_fail"):
            error = ENOMEM
        else:
            error = uvm_pglistalloc(npages, flags, pgl, uvm.dma_constraint)
        if error and _pagedaemon():
            oommtx = peek(sw, "oommtx")
            mtx_enter(oommtx)
            if peek(sw, "oom"):
                mtx_leave(oommtx)
                saved = kernel_lock_release_all()
                mtx_enter(oommtx)
                if peek(sw, "oom"):
                    sleep_on(sw, oommtx, "oom")
                else:
                    mtx_leave(oommtx)
                kernel_lock_acquire_count(saved)
                continue
            poke(sw, "oom", 1)
            pps = list(peek(sw, "oompps")[:npages])
            for pg in pps:
                atomic_setbits_int(pg, "pg_flags", PG_BUSY)
            mtx_leave(oommtx)
            return pps
        if error:
            return None
        for pg in pgl:
            atomic_setbits_int(pg, "pg_flags", PG_BUSY)
        return pgl


def uvm_swap_freepages(pps: list) -> None:
    """`uvm_swap_freepages` (uvm_swap.c 1.173/1.174): free the bounce pages of a swap I/O.

    The OOM set is only cleaned and handed back (`oom = 0`, wakeup).  Other bounce pages
    are private, never tabled or queued; before the diff the free loop ran inside one pageq
    lock round trip (switch `swap_freepages_unlocked`).  They come from `dma_constraint`,
    so each free bypasses the per-CPU magazines (one fpageq acquisition per page).
    Callers: the aiodone daemon for a bounced async write (PQ_ENCRYPT), `uvm_swap_io` for a
    bounced read and for a bounce mapping failure.
    """
    from uvmsim.uvm.uvm_page import uvm_pageclean, uvm_pagefree

    sw = uvm.swap
    oompps = peek(sw, "oompps")
    if pps and pps[0] is oompps[0]:
        for pg in pps:
            uvm_pageclean(pg)
        oommtx = peek(sw, "oommtx")
        mtx_enter(oommtx)
        KASSERT(peek(sw, "oom") == 1, "oom == 1")
        poke(sw, "oom", 0)
        mtx_leave(oommtx)
        wakeup(sw)
        return
    unlocked = uvm.proto.swap_freepages_unlocked
    if not unlocked:
        uvm_lock_pageq()
    for pg in pps:
        uvm_pagefree(pg)
    if not unlocked:
        uvm_unlock_pageq()
