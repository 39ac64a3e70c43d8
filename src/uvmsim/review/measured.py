"""The questions the simulator answers (R4, R8): figures, and a control that shows the
measurement tells apart what it claims to.

R4 counts fpageq round trips of uvn_flush's own frees at their call site (the flush alone on
one CPU, `measure-flush`), beside the whole flush workload's figure (which includes reading
the pages back in).  R8 measures pageqlock spin and throughput of the build workload at every
CPU count and summarises all of them, not the most favourable one.
"""

from __future__ import annotations

import time
from typing import Any

from uvmsim.protocols import Protocol
from uvmsim.review.checks import measure
from uvmsim.review.evidence import lock_taken_under, sample
from uvmsim.review.verdict import Bounds, Context, Control, Verdict
from uvmsim.scenarios.controls import FLUSH_PAGES
from uvmsim.workloads.make import FAULTS_PER_PAGE, KINDS


def _own_frees(ctx: Context, proto: Protocol) -> int:
    """fpageq acquisitions with uvn_flush on the stack, for one flush of FLUSH_PAGES pages."""
    (n,) = lock_taken_under(sample(proto, "measure-flush", 1), "fpageqlock", "uvn_flush")
    return n


def r4(ctx: Context) -> Verdict:
    t0 = time.monotonic()
    b = ctx.bounds
    nomag = ctx.protocol.variant(f"{ctx.protocol.name}~nocache", percpu_magazines=False)
    rows = {}
    for proto in (ctx.baseline, ctx.protocol, nomag):
        ctx.note(f"R4: flush on {proto.name}")
        r = measure("flush", proto, 16, b.sim_ops, options={"pages": 16})
        f = r.locks.get("fpageqlock", {})
        flushes = max(1, r.ops // 2)
        rows[proto.name] = {
            "own_frees_fpageq": _own_frees(ctx, proto),
            "fpageq_per_flush": f.get("acquisitions", 0) / flushes,
            "fpageq_wait": f.get("wait_cycles", 0),
            "throughput": r.throughput,
        }
    v = Verdict(
        "R4",
        "Does uvn_flush lose its batched free (more fpageq round trips)?",
        "measured",
        "",
        figures=rows,
    )
    base, mine, nm = rows[ctx.baseline.name], rows[ctx.protocol.name], rows[nomag.name]
    v.summary = (
        f"fpageq round trips of one flush's own frees ({FLUSH_PAGES} pages, at their call "
        f"site): {base['own_frees_fpageq']} ({ctx.baseline.name}), "
        f"{mine['own_frees_fpageq']} ({ctx.protocol.name}), {nm['own_frees_fpageq']} "
        f"({ctx.protocol.name} without magazines); per flush in the whole workload, reading "
        f"the pages back in included: {base['fpageq_per_flush']:.2f}, "
        f"{mine['fpageq_per_flush']:.2f}, {nm['fpageq_per_flush']:.2f}"
    )
    for name, row in rows.items():
        v.evidence.append(
            f"flush, 16 CPUs, {name}: {row['own_frees_fpageq']} fpageq round trips in one "
            f"flush's own frees; {row['fpageq_per_flush']:.2f} fpageq acquisitions per flush "
            f"in the workload, {row['fpageq_wait']:,} cycles waited, "
            f"{row['throughput']:,.0f} ops/s"
        )
    # The control: the call-site count must tell one round trip per page apart from what
    # the protocol does, or it does not measure the batching the question is about.
    v.control = Control(
        f"{nomag.name} on measure-flush (no magazines: one fpageq round trip per page freed, "
        "unless the frees are batched)",
        f"a count different from {ctx.protocol.name}'s",
        f"{nm['own_frees_fpageq']} against {mine['own_frees_fpageq']}",
        nm["own_frees_fpageq"] != mine["own_frees_fpageq"],
    )
    v.evidence.append(f"control: {v.control.what}: {v.control.observed}")
    v.settle()
    v.seconds = time.monotonic() - t0
    return v


# ---- R8: a band over the unfitted parameters of the make kernel build -----------------------

# Each unfitted parameter of the kernel build (workloads/make.py), with the plausible range
# the band spans: (option, low, central, high).
BAND: dict[str, tuple[str, float, float, float]] = {
    # pages a real compile job touches (sets its fault rate): cc1 peaks near 30 MiB, some
    # files half that, the largest twice
    "process size": (
        "real_pages",
        KINDS["kernel"].real_pages // 2,
        KINDS["kernel"].real_pages,
        KINDS["kernel"].real_pages * 2,
    ),
    # the compiler's text resident when its pages are faulted (fault-ahead maps resident
    # neighbours; a cold page is read in)
    "text residency": ("residency", 0.5, 1.0, 1.0),
    # pages of object output per job written through the buffer cache
    "buffer-cache share": ("obj_pages", 1, 4, 16),
}


# The kernel build's real job count: its real time is that many jobs at the measured rate.
KERNEL_JOBS = KINDS["kernel"].jobs


def kernel_build(b: Bounds, proto: Protocol, n: int, seed: int, **opts: float) -> Any:
    """The make kernel build in its steady state: every CPU compiling, measured over
    `build_waves` jobs' worth of faults per CPU (the start and the serial link of a whole
    build would make real time a matter of which job ends last; in steady state a build's
    real time is its fault count over the fault rate measured here)."""
    options = {"kind": "kernel", "jobs": -1, "pages": b.build_pages, **opts}
    faults = round(b.build_waves * n * b.build_pages * FAULTS_PER_PAGE)
    return measure("make", proto, n, faults, seed=seed, options=options)


def real_seconds(r: Any, pages: int) -> float:
    """The whole kernel build's real time at `r`'s steady-state fault rate."""
    faults = KERNEL_JOBS * pages * FAULTS_PER_PAGE * r.time_scale
    return faults / r.throughput if r.throughput else float("inf")


def build_gains(base: Any, mine: Any, pages: int) -> dict[str, float]:
    """What `mine` gains over `base`: pageqlock spin share (percentage points, positive when
    it spins less) and build real time (positive when it is faster)."""

    def spin(r: Any) -> float:
        return r.locks.get("pageqlock", {}).get("wait_cycles", 0) / (sum(r.cpu_time.values()) or 1)

    return {
        "spin_pp": 100 * (spin(base) - spin(mine)),
        "real": mine.throughput / base.throughput - 1 if base.throughput else 0.0,
        "base_spin": 100 * spin(base),
        "mine_spin": 100 * spin(mine),
        "base_real_s": real_seconds(base, pages),
        "mine_real_s": real_seconds(mine, pages),
    }


def _pair(ctx: Context, n: int, seed: int, **opts: float) -> dict[str, float]:
    ctx.note(f"R8: make kernel build, {n} CPUs, seed {seed} {opts or ''}")
    base = kernel_build(ctx.bounds, ctx.baseline, n, seed, **opts)
    mine = kernel_build(ctx.bounds, ctx.protocol, n, seed, **opts)
    return build_gains(base, mine, ctx.bounds.build_pages)


def r8(ctx: Context) -> Verdict:
    """R8: the seed's gain in pageqlock spin and build real time at each CPU count, as a band
    over the plausible range of every unfitted parameter, with its central value."""
    t0 = time.monotonic()
    b = ctx.bounds
    v = Verdict("R8", "How much pageqlock contention does the diff remove?", "measured", "")
    rows: dict[str, dict] = {}
    for n in b.sim_cpus:
        runs = [_pair(ctx, n, seed) for seed in b.sim_seeds]
        central = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
        row = {"central": central, "seeds": runs, "band": {}}
        if n in b.band_cpus:
            for name, (option, low, _mid, high) in BAND.items():
                row["band"][name] = {
                    "low": _pair(ctx, n, b.sim_seeds[0], **{option: low}),
                    "high": _pair(ctx, n, b.sim_seeds[0], **{option: high}),
                }
        everything = [central, *runs] + [
            x for ends in row["band"].values() for x in (ends["low"], ends["high"])
        ]
        row["spin_pp"] = [
            min(x["spin_pp"] for x in everything),
            max(x["spin_pp"] for x in everything),
        ]
        row["real"] = [min(x["real"] for x in everything), max(x["real"] for x in everything)]
        rows[str(n)] = row
        banded = "band" if row["band"] else "seeds"
        v.evidence.append(
            f"make kernel build, {n} CPUs: pageqlock spin {central['base_spin']:.1f}% -> "
            f"{central['mine_spin']:.1f}% of CPU time ({central['spin_pp']:+.1f} points, "
            f"{banded} {row['spin_pp'][0]:+.1f}..{row['spin_pp'][1]:+.1f}); build real time "
            f"{central['base_real_s']:.0f} s -> {central['mine_real_s']:.0f} s "
            f"({central['real']:+.1%}, {banded} {row['real'][0]:+.1%}..{row['real'][1]:+.1%})"
        )
    v.figures = {"make kernel build": rows, "sensitivity": _sensitivity(rows)}
    lo = min(r["real"][0] for r in rows.values())
    hi = max(r["real"][1] for r in rows.values())
    parts = [
        f"{n}: {r['central']['spin_pp']:+.1f} pp spin, {r['central']['real']:+.1%} real time"
        for n, r in rows.items()
    ]
    top = v.figures["sensitivity"][0] if v.figures["sensitivity"] else None
    v.summary = (
        f"make kernel build, gain of {ctx.protocol.name} over {ctx.baseline.name} by CPUs "
        f"(central): {'; '.join(parts)}; real-time gain band {lo:+.1%}..{hi:+.1%}"
        + (f"; moved most by {top['parameter']}" if top else "")
    )
    # The control: a protocol known to be worse must come out slower.  Without its per-CPU
    # magazines the baseline takes fpageq for every page it allocates or frees.
    worse = ctx.baseline.variant(f"{ctx.baseline.name}~nocache", percpu_magazines=False)
    n = max(b.sim_cpus)
    base = kernel_build(b, ctx.baseline, n, b.sim_seeds[0])
    ctx.note(f"R8: control {worse.name}, {n} CPUs")
    worse_run = kernel_build(b, worse, n, b.sim_seeds[0])
    gain = build_gains(base, worse_run, b.build_pages)["real"]
    v.control = Control(
        f"{worse.name} against {ctx.baseline.name}, make kernel build, {n} CPUs",
        "a slower build",
        f"{gain:+.1%}",
        gain < 0,
    )
    v.evidence.append(f"control: {v.control.what}: {v.control.observed}")
    v.settle()
    v.seconds = time.monotonic() - t0
    return v


def _sensitivity(rows: dict[str, dict]) -> list[dict]:
    """Per unfitted parameter, how far moving it across its range moves the real-time gain
    (the widest swing over the CPU counts with a band), largest first."""
    out = []
    for name in BAND:
        swings = [
            (abs(r["band"][name]["high"]["real"] - r["band"][name]["low"]["real"]), n)
            for n, r in rows.items()
            if name in r["band"]
        ]
        if swings:
            swing, n = max(swings)
            r = rows[n]["band"][name]
            out.append(
                {
                    "parameter": name,
                    "option": BAND[name][0],
                    "range": [BAND[name][1], BAND[name][3]],
                    "cpus": int(n),
                    "real_low": r["low"]["real"],
                    "real_high": r["high"]["real"],
                    "spin_low": r["low"]["spin_pp"],
                    "spin_high": r["high"]["spin_pp"],
                    "swing": swing,
                }
            )
    return sorted(out, key=lambda x: -x["swing"])
