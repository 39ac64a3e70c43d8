"""`pressure`: allocation beyond the free target, so the pagedaemon runs its scans.

CPU 0 is the pagedaemon: it sleeps on `uvm.pagedaemon` until the free count drops below the
free target, then runs `uvm_pageout` rounds (inactive scan freeing clean pages, active scan
deactivating).  The other CPUs read file pages in (allocate, activate, as `uvn_get`), from
files larger than memory; when `uvm_pagealloc` finds no page they `uvm_wait`: wake the
pagedaemon and sleep on `&uvmexp.free` with the fpageq lock as interlock.  Operations counted:
pages read in.
"""

from __future__ import annotations

import random

from uvmsim.machine import RW_WRITE, atomic_clearbits_int, kernel_work, poke, rw_enter, rw_exit
from uvmsim.machine.failure import InputError
from uvmsim.uvm.uvm_page import (
    uvm_lock_pageq_for_queue_op,
    uvm_pageactivate,
    uvm_pagealloc,
    uvm_pagelookup,
    uvm_unlock_pageq_for_queue_op,
)
from uvmsim.uvm.uvm_page_h import PG_BUSY, PG_FAKE
from uvmsim.uvm.uvm_pdaemon import uvm_pagedaemon, uvm_wait
from uvmsim.uvm.uvm_vnode import uvn_attach
from uvmsim.uvm.uvmexp import uvmexp
from uvmsim.workloads.base import Option, UvmWorkload, WorkloadContext
from uvmsim.workloads.build import PAGE, boot_world


class Pressure(UvmWorkload):
    def build(self, ctx: WorkloadContext) -> list:

        o = ctx.options
        if ctx.cpus < 2:
            raise InputError("workload pressure: needs at least 2 CPUs (cpu0 is the pagedaemon)")
        memory = o["memory"]
        boot_world(ctx.protocol, ctx.cpus, memory)
        poke(uvmexp, "freetarg", o["freetarg"])
        poke(uvmexp, "freemin", o["freetarg"] // 2)
        file_pages = o["file_pages"]
        engine = ctx.engine
        think = float(o["think"])

        def reader(i: int):
            rng = random.Random(ctx.seed * 15485863 + i)
            uvn = uvn_attach(f"file{i}", file_pages)
            lock = uvn.vmobjlock

            def cpu() -> None:
                while True:
                    kernel_work("user", None, rng.expovariate(1.0 / think) if think else 0)
                    off = rng.randrange(file_pages) * PAGE
                    rw_enter(lock, RW_WRITE)
                    pg = uvm_pagelookup(uvn, off)
                    if pg is None:
                        pg = uvm_pagealloc(uvn, off, None, 0)
                        if pg is None:
                            rw_exit(lock)
                            uvm_wait("pgread")
                            continue
                        kernel_work("vnode_io", pg)
                        atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_FAKE)
                    uvm_lock_pageq_for_queue_op()
                    uvm_pageactivate(pg)
                    uvm_unlock_pageq_for_queue_op()
                    rw_exit(lock)
                    engine.op_done()

            return cpu

        return [uvm_pagedaemon] + [reader(i) for i in range(1, ctx.cpus)]


PRESSURE = Pressure(
    "pressure",
    "CPUs read file pages beyond memory; cpu0 is the pagedaemon reclaiming clean pages",
    options=(
        Option("memory", int, 512, "managed pages", minimum=64),
        Option("freetarg", int, 48, "free target (pages)", minimum=8),
        Option("file_pages", int, 256, "pages per reader's file", minimum=1),
        Option("think", float, 20_000.0, "mean user cycles between reads"),
    ),
)
