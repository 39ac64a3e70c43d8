"""`build`: a build-like load (compiler processes faulting memory in, reading files, exiting).

Per CPU, processes are born, fault, and exit, one after the other:
- `faults` anonymous zero-fill faults per process, each after `think` cycles of user work
  and `kernel_other` cycles of kernel work outside the modelled paths: `uvm_fault_upper`
  allocates (per-CPU magazine or pmemrange: the fpageq lock), zeroes, maps and activates
  (pageq lock) the page;
- every `file_every`-th fault is instead a read fault on a page of one of `files` files,
  already resident (`uvm_fault_lower`: object lock, pageq lock to activate, map);
- the exit unmaps everything and drops the amap: every anon page is freed (`uvm_anfree` ->
  `uvm_pagefree`: the pageq lock around it before the diff, only to dequeue after it; the
  page goes to the magazine or to pmemrange).

Operations counted: faults and exits.  Free parameters (`think` per build kind,
`kernel_other`, `pmr_work`) are fitted to calibration.md §1 by
`uvmsim.runs.calibration`; `kind` picks the kernel-build or the libLLVM-build `think`.
"""

from __future__ import annotations

import random
from typing import Any

from uvmsim.machine import kernel_work, peek, poke
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import pg_pagequeues, uvm
from uvmsim.uvm.uvm_amap import amap_unref, vm_amap
from uvmsim.uvm.uvm_fault import fault_entry, uvm_fault_lower, uvm_fault_upper
from uvmsim.uvm.uvm_init import uvm_boot
from uvmsim.uvm.uvm_page_h import PG_CLEAN, PG_TABLED, PQ_ACTIVE
from uvmsim.uvm.uvm_vnode import uvn_attach
from uvmsim.uvm.uvmexp import preload_queue_count, uvmexp
from uvmsim.workloads.base import Option, UvmWorkload, WorkloadContext

PAGE = 4096

# The free parameters, as uvmsim.runs.calibration last fitted them to calibration.md §1.
# Simulated vs published, OPS=6000, seed 1: C1 -9.5%, C2 +10.5%, C3 +1.1%, C4 -1.4%, C5 -4.7%.
FITTED = {
    "think_kernel": 250_000.0,
    "think_libllvm": 450_000.0,
    "kernel_other": 141_250.0,
    "pmr_work": 13_500.0,
}


def boot_world(protocol: Any, cpus: int, pages: int) -> list:
    """A fresh UVM world with `pages` managed pages (no set-up run: allocation happens live)."""
    return uvm_boot(protocol, cpus, pages)


def resident_file(name: str, npages: int, resident: set[int] | None = None) -> Any:
    """A file whose pages (those in `resident`, by default all) are resident, active and
    clean, as after earlier reads; the others are read in by the first fault on them.

    Built directly (no machine runs before a timed run), with the same bookkeeping
    `uvm_pagealloc` + `uvm_pageactivate` would leave.
    """

    uvn = uvn_attach(name, npages)
    pool = peek(uvm.pmr, "free_pages")
    indices = range(npages) if resident is None else sorted(resident)
    for i in indices:
        pg = pool.pop()
        poke(pg, "pg_flags", PG_CLEAN | PQ_ACTIVE | PG_TABLED)
        poke(pg, "uobject", uvn)
        poke(pg, "offset", i * PAGE)
        poke(pg, "owner_state", "allocated")
        poke(uvn, "memt", {**peek(uvn, "memt"), i * PAGE: pg})
        poke(uvn, "uo_npages", peek(uvn, "uo_npages") + 1)
        active = pg_pagequeues(pg).active  # its shard's (`lru_shards`), else uvm.page_active
        peek(active, "tqh").append(pg)
        poke(pg, "pageq", active)

    poke(uvmexp, "free", peek(uvmexp, "free") - len(indices))
    preload_queue_count("active", len(indices))
    return uvn


class Build(UvmWorkload):
    def resolve(self, opts: dict) -> dict:
        """Options with the fitted values filled in where the user gave none."""
        o = dict(opts)
        if not o["think"]:
            o["think"] = FITTED[f"think_{o['kind']}"]
        if o["kernel_other"] < 0:
            o["kernel_other"] = int(FITTED["kernel_other"])
        if o["pmr_work"] < 0:
            o["pmr_work"] = int(FITTED["pmr_work"])
        return o

    def costs(self, opts: dict) -> dict[str, int]:
        o = self.resolve(opts)
        overrides = {"kernel_other": int(o["kernel_other"]), "pmr_work": int(o["pmr_work"])}
        for key in ("line_transfer", "handoff"):
            if o[key] >= 0:
                overrides[key] = int(o[key])
        return overrides

    def build(self, ctx: WorkloadContext) -> list:

        o = self.resolve(ctx.options)
        faults, file_every = o["faults"], o["file_every"]
        think = float(o["think"])
        nfiles = o["files"] or 2 * ctx.cpus
        npages = ctx.cpus * (faults + 2 * 16 + 4) + nfiles * o["file_pages"] + 64
        boot_world(ctx.protocol, ctx.cpus, npages)

        files = [resident_file(f"file{j}", o["file_pages"]) for j in range(nfiles)]
        engine = ctx.engine

        def make(i: int):
            rng = random.Random(ctx.seed * 7919 + i)
            pm = _pmap.pmap(f"proc{i}")
            uvm.pmaps.append(pm)

            def cpu() -> None:
                gen = 0
                while True:
                    amap = vm_amap(f"amap{i}.{gen}")
                    gen += 1
                    for n in range(faults):
                        kernel_work("user", None, rng.expovariate(1.0 / think) if think else 0)
                        kernel_work("kernel_other")
                        if file_every and n % file_every == file_every - 1:
                            j = rng.randrange(nfiles)
                            off = rng.randrange(o["file_pages"]) * PAGE
                            e = fault_entry(
                                pmap=pm,
                                va=0x4000_0000 + j * (1 << 24) + off,
                                uobj=files[j],
                                offset=off,
                                prot=_pmap.PROT_READ,
                            )
                            uvm_fault_lower(e)
                        else:
                            e = fault_entry(pmap=pm, va=0x1000 + n * PAGE, amap=amap, slot=n)
                            uvm_fault_upper(e)
                        engine.op_done()
                    _pmap.pmap_remove(pm, 0, 1 << 40)
                    amap_unref(amap)
                    uvm.amaps.remove(amap)
                    engine.op_done()

            return cpu

        return [make(i) for i in range(ctx.cpus)]


BUILD = Build(
    "build",
    "processes fault anon pages in (zero-fill), read file pages, exit (free everything)",
    options=(
        Option(
            "kind",
            str,
            "kernel",
            "which fitted build: kernel or libllvm",
            choices=("kernel", "libllvm"),
        ),
        Option("think", float, 0.0, "mean user cycles before a fault (0: the fitted value)"),
        Option(
            "kernel_other",
            int,
            -1,
            "kernel cycles per fault outside the modelled paths (-1: fitted)",
            minimum=-1,
        ),
        Option(
            "pmr_work",
            int,
            -1,
            "pmemrange tree work per fpageq critical section, cycles (-1: fitted)",
            minimum=-1,
        ),
        Option(
            "line_transfer",
            int,
            -1,
            "cache-line transfer cost, cycles (-1: cost table)",
            minimum=-1,
        ),
        Option("handoff", int, -1, "mutex hand-off cost c, cycles (-1: cost table)", minimum=-1),
        Option("faults", int, 16, "faults per process before it exits", minimum=1),
        Option("file_every", int, 4, "every n-th fault reads a file page (0: never)"),
        Option("files", int, 0, "files read by the processes (0: two per CPU)"),
        Option("file_pages", int, 16, "resident pages of each file", minimum=1),
    ),
)
