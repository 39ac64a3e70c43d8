"""`flush`: file pages read in, then flushed and freed by uvn_flush (review question R4).

Per CPU, its own file: after `think` cycles of user work, `pages` pages are read in (each
allocated with `uvm_pagealloc` under the object lock and activated under the pageq lock, as
`uvn_get` would leave them), then `uvn_flush(PGO_FREE)` frees them all (`PGO_CLEANIT |
PGO_SYNCIO` too, with a write of each dirty page, when `dirty` > 0).  Before the diff the freed
pages are collected on a dead list and returned to pmemrange with one `uvm_pglistfree` (one
fpageq acquisition per flush); after it each page is `uvm_pagefree`d to this CPU's magazine
(an fpageq acquisition only per magazine flush), or, without magazines, straight to pmemrange
(one fpageq acquisition per page).  Operations counted: reads and flushes.
"""

from __future__ import annotations

import random

from uvmsim.machine import RW_WRITE, atomic_clearbits_int, kernel_work, rw_enter, rw_exit
from uvmsim.uvm.uvm_page import (
    uvm_lock_pageq_for_queue_op,
    uvm_pageactivate,
    uvm_pagealloc,
    uvm_unlock_pageq_for_queue_op,
)
from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_CLEAN, PG_FAKE
from uvmsim.uvm.uvm_pager import PGO_CLEANIT, PGO_FREE, PGO_SYNCIO
from uvmsim.uvm.uvm_vnode import uvn_attach, uvn_flush
from uvmsim.workloads.base import Option, UvmWorkload, WorkloadContext
from uvmsim.workloads.build import PAGE, boot_world


class Flush(UvmWorkload):
    def build(self, ctx: WorkloadContext) -> list:

        o = ctx.options
        npages, think, dirty = o["pages"], float(o["think"]), o["dirty"]
        boot_world(ctx.protocol, ctx.cpus, ctx.cpus * (npages + 2 * 16 + 4) + 64)
        engine = ctx.engine

        def make(i: int):
            rng = random.Random(ctx.seed * 104729 + i)
            uvn = uvn_attach(f"file{i}", npages)
            lock = uvn.vmobjlock

            def cpu() -> None:
                flags = PGO_FREE | (PGO_CLEANIT | PGO_SYNCIO if dirty else 0)
                while True:
                    kernel_work("user", None, rng.expovariate(1.0 / think) if think else 0)
                    rw_enter(lock, RW_WRITE)
                    for n in range(npages):
                        pg = uvm_pagealloc(uvn, n * PAGE, None, 0)
                        uvm_lock_pageq_for_queue_op()
                        uvm_pageactivate(pg)
                        uvm_unlock_pageq_for_queue_op()
                        clear = PG_BUSY | PG_FAKE | (PG_CLEAN if n < dirty else 0)
                        atomic_clearbits_int(pg, "pg_flags", clear)
                    rw_exit(lock)
                    engine.op_done()
                    rw_enter(lock, RW_WRITE)
                    uvn_flush(uvn, 0, npages * PAGE, flags)
                    rw_exit(lock)
                    engine.op_done()

            return cpu

        return [make(i) for i in range(ctx.cpus)]


FLUSH = Flush(
    "flush",
    "read a file's pages in, then uvn_flush(PGO_FREE) them (R4: batched vs per-page free)",
    options=(
        Option("pages", int, 16, "pages per file read and flushed", minimum=1),
        Option("dirty", int, 0, "of them dirty (written back before the free)"),
        Option("think", float, 20_000.0, "mean user cycles between reads"),
    ),
)
