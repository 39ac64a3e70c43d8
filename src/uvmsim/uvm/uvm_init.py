"""Booting a world (sys/uvm/uvm_init.c `uvm_init`, reduced to what the model keeps).

One function for every harness: the checker's scenarios and the simulator's workloads boot
the same way, so a world differs only by what a harness then does with it.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine.shared import reset_names
from uvmsim.uvm import uvm_pmemrange
from uvmsim.uvm.uvm import page_domain, uvm, uvm_world_init
from uvmsim.uvm.uvm_page_h import PAGE_SIZE, vm_page
from uvmsim.uvm.uvm_swap import uvm_swap_init

# amd64 with 16 GiB of memory: the quarter below 4 GiB is inside dma_constraint.
DEFAULT_DMA_SHARE = 0.25


def uvm_boot(
    proto: Any,
    ncpu: int,
    npages: int,
    *,
    swap: dict | None = None,
    dma_share: float = DEFAULT_DMA_SHARE,
) -> list[vm_page]:
    """A fresh world for `proto` on `ncpu` CPUs with `npages` managed pages, all free.

    Object names restart (so two boots name their objects alike, which replay and DPOR rely
    on); the counters, queues, allocator and pager are new; the swap device has its default
    parameters unless `swap` gives others (`uvm_swap_init`: slots, encryption, injected
    failures).  `dma_share` is the part of memory inside `dma_constraint` (amd64: below
    4 GiB), from physical address 0: those pages are in a pmemrange of use 1, bypass the
    per-CPU magazines when freed and are the only ones the buffer cache and swap bounce
    buffers may use.  1.0 is a machine with at most 4 GiB.  Returns the pages, `pg0` ..
    `pg<npages-1>`, physically contiguous from address 0.
    """
    if not 0.0 <= dma_share <= 1.0:
        raise ValueError(f"dma_share must be in [0, 1], got {dma_share!r}")
    reset_names()
    dma_pages = int(npages * dma_share + 0.5)
    uvm_world_init(proto, ncpu, dma_pages * PAGE_SIZE if dma_pages < npages else None)
    if swap is not None:
        uvm_swap_init(**swap)
    pages = [
        vm_page(f"pg{i}", phys_addr=i * PAGE_SIZE, pmr_use=1 if i < dma_pages else 0)
        for i in range(npages)
    ]
    if uvm.nshards > 1:
        for i, pg in enumerate(pages):
            pg.__dict__["shard"] = page_domain(i, npages)
    uvm_pmemrange.uvm_page_physload(pages)
    return pages
