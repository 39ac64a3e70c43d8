"""The buffer cache's pages (sys/kern/vfs_biomem.c 1.53, and the vfs_bio.c callers).

A buffer's pages belong to a dummy `bufcache` object (`bp->b_uobj`), are wired by hand
(`wire_count` 1, never counted in uvmexp.wired) and are never on a page queue.  The buffer
cache runs under the kernel lock (its callers are VFS paths that hold it) at IPL_BIO; the
model's entry points (`bufcache_*`) take both as those callers would, and the vfs_biomem.c
functions assert them.  Pages come from `dma_constraint` unless a flip moves them to high
memory (`buf_flip_high`) or back (`buf_flip_dma`).  `bufbackoff` (shrinking the cache to
make room) is not modelled: a NOWAIT allocation that fails goes straight to the WAITOK try
where the kernel allows one.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    IPL_BIO,
    KASSERT,
    Shared,
    SharedObject,
    panic,
    poke,
    splassert,
    splbio,
    splx,
)
from uvmsim.uvm.kernel_lock import KERNEL_ASSERT_LOCKED, KERNEL_LOCK, KERNEL_UNLOCK
from uvmsim.uvm.uvm import uvm
from uvmsim.uvm.uvm_object import uvm_obj_free, uvm_obj_init, uvm_object
from uvmsim.uvm.uvm_page import uvm_pagealloc_multi, uvm_pagelookup, uvm_pagerealloc_multi
from uvmsim.uvm.uvm_page_h import PAGE_SIZE
from uvmsim.uvm.uvm_pmemrange import (
    UVM_PLA_NOWAIT,
    UVM_PLA_NOWAKE,
    UVM_PLA_WAITOK,
)


class buf(SharedObject):
    """`struct buf`, the fields the page layer sees [K]: its size and whether its pages are
    in DMA-reachable memory (B_DMA); `b_uobj` is its page object."""

    b_bufsize = Shared("K")
    b_dma = Shared("K")

    def __init__(self, name: str):
        super().__init__(name)
        uobj = uvm_object(f"{name}.b_uobj")
        poke(self, "b_uobj", uobj)


def buf_alloc_pages(bp: buf, size: int) -> None:
    """`buf_alloc_pages` (vfs_biomem.c 1.53): give a buffer `size` bytes of pages.

    Kernel lock held, IPL_BIO.  The buffer's object is initialised as a bufcache object,
    then `uvm_pagealloc_multi` (NOWAIT|NOWAKE, then once WAITOK) fills it from
    `dma_constraint`: one fpageq acquisition, no pageq lock.  The buffer is B_DMA.
    """
    KERNEL_ASSERT_LOCKED()
    splassert(IPL_BIO)
    KASSERT(size % PAGE_SIZE == 0, "round_page(size) == size")
    uobj = bp.__dict__["b_uobj"]
    uvm_obj_init(uobj, "bufcache", 1)
    if (
        uvm_pagealloc_multi(uobj, 0, size, UVM_PLA_NOWAIT | UVM_PLA_NOWAKE) != 0
        and uvm_pagealloc_multi(uobj, 0, size, UVM_PLA_WAITOK) != 0
    ):
        panic("buf_alloc_pages: failed to allocate pages")
    bp.b_bufsize = size
    bp.b_dma = True


def buf_free_pages(bp: buf) -> None:
    """`buf_free_pages` (vfs_biomem.c 1.53): give a buffer's pages back.

    Kernel lock held, IPL_BIO.  Each page is unwired by hand (KASSERT wire_count 1; not
    counted in uvmexp.wired), then `uvm_obj_free` cleans them all (before the diff each
    inside its own pageq lock round trip, switch `obj_free_unlocked`) and frees them with
    one `uvm_pglistfree`: one fpageq acquisition, no magazines.
    """
    KERNEL_ASSERT_LOCKED()
    splassert(IPL_BIO)
    uobj = bp.__dict__["b_uobj"]
    for i in range(bp.b_bufsize // PAGE_SIZE):
        pg = uvm_pagelookup(uobj, i * PAGE_SIZE)
        KASSERT(pg is not None, "pg != NULL")
        KASSERT(pg.wire_count == 1, "pg->wire_count == 1")
        pg.wire_count = 0
        poke(pg, "hand_wired", False)
    uvm_obj_free(uobj)
    bp.b_bufsize = 0


def buf_realloc_pages(bp: buf, where: Any, flags: int) -> int:
    """`buf_realloc_pages` (vfs_biomem.c 1.53): move a buffer's pages into `where`.

    Kernel lock held, IPL_BIO.  `uvm_pagerealloc_multi` with NOWAIT|NOWAKE; if that fails
    and the caller allows it, once more WAITOK.  B_DMA then says whether the new pages are
    DMA-reachable.  Returns 0 or the error.
    """
    KERNEL_ASSERT_LOCKED()
    splassert(IPL_BIO)
    uobj = bp.__dict__["b_uobj"]
    size = bp.b_bufsize
    error = uvm_pagerealloc_multi(uobj, 0, size, UVM_PLA_NOWAIT | UVM_PLA_NOWAKE, where)
    if error and flags & UVM_PLA_WAITOK:
        error = uvm_pagerealloc_multi(uobj, 0, size, UVM_PLA_WAITOK, where)
    if not error:
        bp.b_dma = where is uvm.dma_constraint
    return error


def buf_flip_high(bp: buf) -> int:
    """`buf_flip_high` (vfs_bio.c): move a DMA buffer's pages to high memory (NOWAIT).

    The pages it leaves are DMA pages (a range of use > 0), so each free bypasses the
    per-CPU magazines: one fpageq acquisition per page.
    """
    KASSERT(bp.b_dma, "ISSET(bp->b_flags, B_DMA)")
    return buf_realloc_pages(bp, uvm.high_constraint, UVM_PLA_NOWAIT)


def buf_flip_dma(bp: buf) -> int:
    """`buf_flip_dma` (vfs_bio.c): bring a buffer's pages back into DMA memory (WAITOK).

    The pages it leaves are high pages: their frees go to this CPU's magazine.
    """
    KASSERT(not bp.b_dma, "!ISSET(bp->b_flags, B_DMA)")
    return buf_realloc_pages(bp, uvm.dma_constraint, UVM_PLA_WAITOK)


# ---- entry points: a VFS caller of the buffer cache, under the kernel lock at splbio -----


def bufcache_alloc(name: str, npages: int) -> buf:
    """A buffer of `npages` pages, as `buf_get` makes one (kernel lock, splbio)."""
    KERNEL_LOCK()
    s = splbio()
    bp = buf(name)
    buf_alloc_pages(bp, npages * PAGE_SIZE)
    splx(s)
    KERNEL_UNLOCK()
    return bp


def bufcache_free(bp: buf) -> None:
    """A buffer given back, as `buf_put` does (kernel lock, splbio): `buf_free_pages`."""
    KERNEL_LOCK()
    s = splbio()
    buf_free_pages(bp)
    splx(s)
    KERNEL_UNLOCK()


def bufcache_flip_high(bp: buf) -> int:
    """The cleaner moving a buffer to high memory (kernel lock, splbio): `buf_flip_high`."""
    KERNEL_LOCK()
    s = splbio()
    error = buf_flip_high(bp)
    splx(s)
    KERNEL_UNLOCK()
    return error


def bufcache_flip_dma(bp: buf) -> int:
    """A buffer needed for I/O again (kernel lock, splbio): `buf_flip_dma`."""
    KERNEL_LOCK()
    s = splbio()
    error = buf_flip_dma(bp)
    splx(s)
    KERNEL_UNLOCK()
    return error
