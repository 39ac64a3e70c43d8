"""Swap (sys/uvm/uvm_swap.c), as far as the page layer's locking needs it.

Swap slots are allocated and freed under `uvm_swap_data_lock` (an IPL_VM mutex in the model;
the kernel also uses it for the swap device lists).  Reads and writes are I/O: a visible step
of work, synchronous, or (writes) asynchronous with completion through the aiodone daemon.
Encrypted swap writes go through bounce pages allocated from pmemrange and freed with
`uvm_swap_freepages` afterwards.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import Shared, SharedObject, kernel_work, mtx_enter, mtx_leave, peek
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq

VM_PAGER_OK = 0
VM_PAGER_BAD = 1
VM_PAGER_ERROR = 4
VM_PAGER_PEND = 3
VM_PAGER_AGAIN = 5


class swapdev(SharedObject):
    """The swap device: slot allocation state under uvm_swap_data_lock."""

    next_slot = Shared("")
    nfree = Shared("")
    bad = Shared("", default=list)


def uvm_swap_init(
    nslots: int, encrypt: bool = False, read_error: bool = False, write_async: bool = False
) -> None:
    """Configure swap for this world (a scenario parameter)."""
    sw = swapdev("swapdev")
    d = sw.__dict__
    d["next_slot"] = 1
    d["nfree"] = nslots
    d["encrypt"] = encrypt
    d["read_error"] = read_error
    d["write_async"] = write_async
    uvm.swap = sw


def uvm_swap_alloc(npages: int) -> int:
    """`uvm_swap_alloc`: `npages` contiguous slots, or 0 if swap is full."""
    sw = uvm.swap
    mtx_enter(uvm.swap_data_lock)
    if sw.nfree < npages:
        mtx_leave(uvm.swap_data_lock)
        return 0
    slot = sw.next_slot
    sw.next_slot = slot + npages
    sw.nfree = sw.nfree - npages
    mtx_leave(uvm.swap_data_lock)
    return slot


def uvm_swap_free(slot: int, npages: int) -> None:
    """`uvm_swap_free`: give slots back."""
    sw = uvm.swap
    mtx_enter(uvm.swap_data_lock)
    sw.nfree = sw.nfree + npages
    mtx_leave(uvm.swap_data_lock)


def uvm_swap_markbad(slot: int, npages: int) -> None:
    """`uvm_swap_markbad`: remember slots as unusable."""
    sw = uvm.swap
    mtx_enter(uvm.swap_data_lock)
    sw.bad = [*sw.bad, slot]
    mtx_leave(uvm.swap_data_lock)


def uvm_swap_full() -> bool:
    """`uvm_swapisfull`."""
    return peek(uvm.swap, "nfree") == 0


def uvm_swap_get(pg: Any, slot: int) -> int:
    """`uvm_swap_get` (synchronous read): VM_PAGER_OK, or VM_PAGER_ERROR on a read error."""
    kernel_work("swap_io", pg)
    return VM_PAGER_ERROR if peek(uvm.swap, "read_error") else VM_PAGER_OK


def uvm_swap_put(slot: int, pps: list, flags: int) -> int:
    """`uvm_swap_put`: write `pps` to `slot`; VM_PAGER_PEND when asynchronous.

    With encrypted swap the data goes through freshly allocated bounce pages, freed with
    `uvm_swap_freepages` once the I/O is done.
    """
    from uvmsim.machine import atomic_setbits_int
    from uvmsim.uvm import uvm_pmemrange as pmr
    from uvmsim.uvm.uvm_page_h import PG_BUSY

    sw = uvm.swap.__dict__
    bounce: list = []
    if sw["encrypt"] and pmr.uvm_pglistalloc(len(pps), pmr.UVM_PLA_NOWAIT, bounce) == 0:
        for bp in bounce:
            atomic_setbits_int(bp, "pg_flags", PG_BUSY)
    kernel_work("swap_io", pps[0] if pps else None)
    if bounce:
        uvm_swap_freepages(bounce)
    if sw["write_async"]:
        from uvmsim.uvm.uvm_pager import uvm_aio_queue

        uvm_aio_queue(list(pps))
        return VM_PAGER_PEND
    return VM_PAGER_OK


def uvm_swap_freepages(pps: list) -> None:
    """`uvm_swap_freepages`: free bounce pages after swap I/O.

    They are private, never queued or owned; before the diff the loop ran inside the pageq
    lock (switch `swap_freepages_unlocked`).
    """
    from uvmsim.uvm.uvm_page import uvm_pagefree

    unlocked = uvm.proto.swap_freepages_unlocked
    if not unlocked:
        uvm_lock_pageq()
    for pg in pps:
        uvm_pagefree(pg)
    if not unlocked:
        uvm_unlock_pageq()
