"""Booting a world (sys/uvm/uvm_init.c `uvm_init`, reduced to what the model keeps).

One function for every harness: the checker's scenarios and the simulator's workloads boot
the same way, so a world differs only by what a harness then does with it.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine.shared import reset_names
from uvmsim.uvm import uvm_pmemrange
from uvmsim.uvm.uvm import uvm_world_init
from uvmsim.uvm.uvm_page_h import PAGE_SIZE, vm_page
from uvmsim.uvm.uvm_swap import uvm_swap_init


def uvm_boot(proto: Any, ncpu: int, npages: int, *, swap: dict | None = None) -> list[vm_page]:
    """A fresh world for `proto` on `ncpu` CPUs with `npages` managed pages, all free.

    Object names restart (so two boots name their objects alike, which replay and DPOR rely
    on); the counters, queues, allocator and pager are new; the swap device has 64 slots
    (`swap`, when given, re-initialises it with those parameters, e.g. `encrypt`).  Returns
    the pages, `pg0` .. `pg<npages-1>`, physically contiguous from address 0.
    """
    reset_names()
    uvm_world_init(proto, ncpu)
    if swap is not None:
        uvm_swap_init(nslots=64, **swap)
    pages = [vm_page(f"pg{i}", phys_addr=i * PAGE_SIZE) for i in range(npages)]
    uvm_pmemrange.uvm_page_physload(pages)
    return pages
