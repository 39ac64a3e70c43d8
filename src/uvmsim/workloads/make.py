"""`make`: a finite `make -jN` build, reported as `time(1)` would.

`jobs` compile jobs wait in a queue; `parallel` of them run at a time, one per CPU (the CPUs
beyond it stay idle), each as a new process:

- fork and exec: a new pmap and amap;
- the compiler's text: faults on a shared, mostly resident executable (`residency` of its
  pages resident; the others are read in by the fault), through the mapping with MADV_NORMAL
  fault-ahead, so every fault also maps up to 3 resident pages before and 4 after it, each
  activated under its own pageqlock round trip (uvm_fault.c 1.171);
- its data: `pages` zero-fill anon faults (heap, stack), `think` user cycles apart on
  average, each with `kernel_other` cycles of kernel work outside the modelled paths;
- its output: a buffer-cache buffer of `obj_pages` pages written (buf_alloc_pages under the
  kernel lock); the buffer cache keeps the last `bufcache` buffers and gives back the oldest
  (buf_free_pages), moving every `flip_every`-th to high memory first (buf_flip_high);
- exit: the mappings removed and the amap dropped: every anon page freed (uvm_anfree).

When the last compile job has finished, the CPU that finished it links: one job of
`link_pages` pages, alone.  Operations counted: faults (a rate that settles within a few
jobs per CPU, where jobs completed would not).

The build is scaled: a job faults `pages` pages where a real compiler touches thousands, so
the simulated build is shorter than the real one by their ratio (`real_pages / pages`),
which `time_scaled` applies to report what the full build would take.  The per-fault rates
(user cycles per fault, kernel work per fault, frees per fault) are the real ones, which is
what lock contention depends on.  The parameters of each kind and their sources:
docs/simulator.md ("The make build family").
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, replace
from typing import Any

from uvmsim.machine import kernel_work
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm
from uvmsim.uvm.uvm_amap import amap_unref, vm_amap
from uvmsim.uvm.uvm_fault import MADV_NORMAL, fault_range, uvm_fault_lower, uvm_fault_upper
from uvmsim.uvm.vfs_biomem import bufcache_alloc, bufcache_flip_high, bufcache_free
from uvmsim.workloads.base import Option, UvmWorkload, WorkloadContext
from uvmsim.workloads.build import boot_world, resident_file


@dataclass(frozen=True)
class BuildKind:
    """One real build, as the make workload runs it (sources: docs/simulator.md)."""

    jobs: int  # compilation units
    real_pages: int  # pages a real compile job touches (its resident set)
    user_seconds: float  # published user time of the whole build at N = 16 (C1, C3)
    text_pages: int  # the compiler's executable, in pages
    link_factor: int  # the link job's size, in compile jobs of the full build

    def think(self, hz: float) -> float:
        """User cycles per fault at `hz`: a job's user time over the faults it takes (one per
        page it touches, and one on the compiler's text every TEXT_EVERY pages)."""
        return hz * self.user_seconds / self.jobs / (self.real_pages * FAULTS_PER_PAGE)


TEXT_EVERY = 8  # a job's data pages per fault on the compiler's text
FAULTS_PER_PAGE = (TEXT_EVERY + 1) / TEXT_EVERY

FIT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_fit.json")
"""Written by `python -m uvmsim.runs.calibrate_make`: the fitted parameters, the in-sample and
leave-one-out errors."""

# Where the fit starts (and what a checkout without make_fit.json uses).
_START = {"kernel_other": 88_000, "pmr_work": 8_300, "llvm_pages": 81_000}


def fitted() -> dict[str, float]:
    """The fitted free parameters: kernel_other, pmr_work, llvm_pages."""
    try:
        with open(FIT_FILE) as fh:
            return dict(json.load(fh)["params"])
    except FileNotFoundError:
        return dict(_START)


KINDS: dict[str, BuildKind] = {
    # amd64 GENERIC.MP: about 1,400 C files; cc1 on a kernel file peaks near 30 MiB.
    "kernel": BuildKind(
        jobs=1400, real_pages=7680, user_seconds=684.18, text_pages=2048, link_factor=8
    ),
    # libLLVM: 65 component libraries (gnu/usr.bin/clang/libLLVM/Makefile), about 2,300
    # C++ files; clang on an LLVM file peaks near 200 MiB.
    "libllvm": BuildKind(
        jobs=2300, real_pages=51200, user_seconds=21805.35, text_pages=12288, link_factor=20
    ),
}


class Make(UvmWorkload):
    """A finite build of `jobs` jobs (see the module docstring)."""

    def finite(self, opts: dict[str, Any]) -> bool:
        """A build ends, unless it is endless (jobs -1): then --ops bounds it."""
        return opts["jobs"] >= 0

    def kind(self, opts: dict[str, Any]) -> BuildKind:
        k = KINDS[opts["kind"]]
        if opts.get("real_pages"):
            k = replace(k, real_pages=opts["real_pages"])
        elif opts["kind"] == "libllvm":  # its job size is a fitted parameter
            k = replace(k, real_pages=round(fitted()["llvm_pages"]))
        return k

    def resolve(self, opts: dict[str, Any], hz: float = 3e9) -> dict[str, Any]:
        """Options with the kind's values where the user gave none (0 or a negative)."""
        k = self.kind(opts)
        o = dict(opts)
        if not o["jobs"]:
            o["jobs"] = k.jobs
        if not o["think"]:
            o["think"] = k.think(hz)
        fit = fitted()
        if o["kernel_other"] < 0:
            o["kernel_other"] = round(fit["kernel_other"])
        if o["pmr_work"] < 0:
            o["pmr_work"] = round(fit["pmr_work"])
        return o

    def costs(self, opts: dict[str, Any]) -> dict[str, int]:
        o = self.resolve(opts)
        return {"kernel_other": int(o["kernel_other"]), "pmr_work": int(o["pmr_work"])}

    def time_scale(self, opts: dict[str, Any]) -> float:
        """How much longer the real build runs than the simulated one."""
        return self.kind(opts).real_pages / opts["pages"]

    def build(self, ctx: WorkloadContext) -> list:
        o = self.resolve(ctx.options, ctx.cycles_per_second)
        k = self.kind(o)
        n = min(o["parallel"] or ctx.cpus, ctx.cpus)
        pages, think = o["pages"], float(o["think"])
        endless = o["jobs"] < 0
        jobs = 1 << 62 if endless else o["jobs"]
        # The link is as large, relative to the whole build, as in the real one: a build of
        # fewer jobs (a quicker simulation) links proportionally less.  An endless build
        # (steady state, stopped by --ops) never links.
        link_pages = 0 if endless else max(pages, round(pages * k.link_factor * jobs / k.jobs))
        text_pages = min(k.text_pages, max(64, pages * 4))
        live_bufs = o["bufcache"]
        npages = (
            n * (pages * 2 + 64)
            + link_pages
            + text_pages
            + (live_bufs + n) * o["obj_pages"] * 2
            + 256
        )
        boot_world(ctx.protocol, ctx.cpus, npages)
        rng0 = random.Random(ctx.seed * 104_729 + 7)
        resident = set(rng0.sample(range(text_pages), round(text_pages * o["residency"])))
        text = resident_file("cc", text_pages, resident)
        queue = {"next": 0, "done": 0, "written": 0}
        buffers: list = []
        engine = ctx.engine

        def write_object(number: int) -> None:
            buffers.append(bufcache_alloc(f"obj{number}", o["obj_pages"]))
            queue["written"] += 1
            while len(buffers) > live_bufs:
                old = buffers.pop(0)
                if o["flip_every"] and queue["written"] % o["flip_every"] == 0:
                    bufcache_flip_high(old)
                bufcache_free(old)

        def job(number: int, size: int, rng: random.Random) -> None:
            """fork+exec, one fault per page (and one on the compiler's text every
            TEXT_EVERY pages), write the object, exit."""
            pm = _pmap.pmap(f"proc{number}")
            uvm.pmaps.append(pm)
            amap = vm_amap(f"amap{number}")
            for slot in range(size):
                for text_fault in (True, False) if slot % TEXT_EVERY == 7 else (False,):
                    kernel_work("user", None, rng.expovariate(1.0 / think) if think else 0)
                    kernel_work("kernel_other")
                    engine.op_done()  # a fault: the operation a build's rate is counted in
                    if not text_fault:
                        uvm_fault_upper(fault_range(pm, 0x1000_0000, size, slot, amap=amap))
                        continue
                    e = fault_range(
                        pm,
                        0x4000_0000,
                        text_pages,
                        rng.randrange(text_pages),
                        uobj=text,
                        prot=_pmap.PROT_READ,
                        advice=MADV_NORMAL,
                    )
                    if not _pmap.pmap_extract(pm, e.va):
                        uvm_fault_lower(e)
            write_object(number)
            _pmap.pmap_remove(pm, 0, 1 << 40)
            amap_unref(amap)
            uvm.amaps.remove(amap)
            uvm.pmaps.remove(pm)

        def make_cpu(cpu: int):
            rng = random.Random(ctx.seed * 7919 + cpu)

            def run() -> None:
                # The job queue is make's: plain Python state, taken in the order the engine
                # runs the CPUs (deterministic for a seed).
                while queue["next"] < jobs:
                    number = queue["next"]
                    queue["next"] += 1
                    # lognormal with mean 1: `pages` is the mean job size
                    sigma = o["spread"]
                    size = max(8, round(rng.lognormvariate(-sigma * sigma / 2, sigma) * pages))
                    job(number, size, rng)
                    queue["done"] += 1
                    if queue["done"] == jobs:
                        job(jobs, link_pages, rng)  # the link, alone, after the last job

            return run

        return [make_cpu(i) if i < n else _idle for i in range(ctx.cpus)]


def _idle() -> None:
    """A CPU make has no job for (make -jN on more CPUs than N)."""


MAKE = Make(
    "make",
    "a finite make -jN build: compile jobs (exec, compiler text with fault-ahead, zero-fill "
    "data, an object written through the buffer cache, exit), then a serial link",
    options=(
        Option("kind", str, "kernel", "which build: kernel or libllvm", choices=tuple(KINDS)),
        Option(
            "jobs",
            int,
            0,
            "compile jobs (0: the kind's; -1: endless, no link, stop with --ops)",
            minimum=-1,
        ),
        Option("parallel", int, 0, "make -j: jobs at once (0: one per CPU)", minimum=0),
        Option("pages", int, 48, "mean pages a simulated job touches", minimum=8),
        Option("real_pages", int, 0, "pages a real compile job touches (0: the kind's)"),
        Option("spread", float, 0.5, "lognormal spread of job sizes (sigma)"),
        Option("residency", float, 1.0, "share of the compiler's text resident at the start"),
        Option("obj_pages", int, 4, "pages of each object file written through the buffer cache"),
        Option("bufcache", int, 64, "object buffers the buffer cache keeps", minimum=1),
        Option("flip_every", int, 4, "every n-th buffer given back is flipped high first"),
        Option("think", float, 0.0, "mean user cycles per fault (0: the kind's)"),
        Option(
            "kernel_other",
            int,
            -1,
            "kernel cycles per fault outside the modelled paths (-1: fitted)",
            minimum=-1,
        ),
        Option(
            "pmr_work", int, -1, "pmemrange tree work per fpageq section (-1: fitted)", minimum=-1
        ),
    ),
)
