"""The questions the simulator answers (R4, R8): figures, and a control that shows the
measurement tells apart what it claims to.

R4 counts fpageq round trips of uvn_flush's own frees at their call site (the flush alone on
one CPU, `measure-flush`), beside the whole flush workload's figure (which includes reading
the pages back in).  R8 measures pageqlock spin and throughput of the build workload at every
CPU count and summarises all of them, not the most favourable one.
"""

from __future__ import annotations

import time

from uvmsim.protocols import Protocol
from uvmsim.review.checks import measure
from uvmsim.review.evidence import lock_taken_under, sample
from uvmsim.review.verdict import Context, Control, Verdict
from uvmsim.scenarios.controls import FLUSH_PAGES


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


# R8's workloads: the calibrated build, and one with more faults per user cycle.
R8_LOADS = (
    ("build (calibrated)", {}),
    ("fault-heavy build", {"think": 40000, "kernel_other": 8000}),
)


def _runs(ctx: Context, label: str, opts: dict, n: int, protos: tuple[Protocol, ...]) -> dict:
    b = ctx.bounds
    out = {}
    for proto in protos:
        ctx.note(f"R8: {label}, {n} CPUs, {proto.name}")
        out[proto.name] = [
            measure("build", proto, n, b.sim_ops, seed=seed, options=opts) for seed in b.sim_seeds
        ]
    return out


def _row(runs: dict[str, list], base: Protocol, mine: Protocol) -> dict[str, dict]:
    """Means over seeds per protocol, and the per-seed throughput gains of `mine`."""
    row = {}
    for name, rs in runs.items():
        shares, waits = [], []
        for r in rs:
            wait = r.locks.get("pageqlock", {}).get("wait_cycles", 0)
            waits.append(wait)
            shares.append(wait / (sum(r.cpu_time.values()) or 1))
        row[name] = {
            "pageq_wait": round(sum(waits) / len(waits)),
            "pageq_spin_share": sum(shares) / len(shares),
            "throughput": sum(r.throughput for r in rs) / len(rs),
        }
    pairs = zip(runs[base.name], runs[mine.name], strict=True)
    gains = [m.throughput / b.throughput - 1 if b.throughput else 0.0 for b, m in pairs]
    row[mine.name]["gains"] = gains
    return row


def _text(base: dict, mine: dict, seeds: int) -> str:
    gains = mine["gains"]
    mean = sum(gains) / len(gains)
    spread = f" (seeds: {min(gains):+.1%}..{max(gains):+.1%})" if seeds > 1 else ""
    return (
        f"pageqlock spin {100 * base['pageq_spin_share']:.1f}% -> "
        f"{100 * mine['pageq_spin_share']:.1f}% of CPU time, throughput {mean:+.1%}{spread}"
    )


def r8(ctx: Context) -> Verdict:
    t0 = time.monotonic()
    b = ctx.bounds
    rows: dict[str, dict] = {}
    v = Verdict("R8", "How much pageqlock contention does the diff remove?", "measured", "")
    base, mine = ctx.baseline, ctx.protocol
    parts = []
    for label, opts in R8_LOADS:
        gains, spins = [], []
        for n in b.sim_cpus:
            row = _row(_runs(ctx, label, opts, n, (base, mine)), base, mine)
            rows.setdefault(label, {})[str(n)] = row
            v.evidence.append(
                f"{label}, {n} CPUs: {_text(row[base.name], row[mine.name], len(b.sim_seeds))}"
            )
            gains.append(sum(row[mine.name]["gains"]) / len(row[mine.name]["gains"]))
            spins.append((row[base.name]["pageq_spin_share"], row[mine.name]["pageq_spin_share"]))
        cpus = (
            f"{min(b.sim_cpus)}-{max(b.sim_cpus)} CPUs"
            if len(b.sim_cpus) > 1
            else (f"{b.sim_cpus[0]} CPUs")
        )
        parts.append(
            f"{label} at {cpus}: pageqlock spin {_range([100 * s for s, _ in spins])}% -> "
            f"{_range([100 * s for _, s in spins])}% of CPU time, throughput "
            f"{_range(gains, pct=True)}"
        )
    v.figures = rows
    v.summary = "; ".join(parts)
    # The control: a protocol known to be worse must come out worse.  Without its per-CPU
    # magazines the baseline takes fpageq for every page it allocates or frees.
    worse = base.variant(f"{base.name}~nocache", percpu_magazines=False)
    n = max(b.sim_cpus)
    label, opts = R8_LOADS[0]
    row = _row(_runs(ctx, label, opts, n, (base, worse)), base, worse)
    gain = sum(row[worse.name]["gains"]) / len(row[worse.name]["gains"])
    v.control = Control(
        f"{worse.name} against {base.name}, {label}, {n} CPUs",
        "a throughput loss",
        f"{gain:+.1%}",
        gain < 0,
    )
    v.evidence.append(f"control: {v.control.what}: {v.control.observed}")
    v.settle()
    v.seconds = time.monotonic() - t0
    return v


def _range(values: list[float], pct: bool = False) -> str:
    lo, hi = min(values), max(values)
    if pct:
        lo_s, hi_s = (f"{x:+.1%}".replace("-0.0%", "+0.0%") for x in (lo, hi))
        return lo_s if lo_s == hi_s else f"{lo_s} to {hi_s}"
    return f"{lo:.1f}" if round(lo, 1) == round(hi, 1) else f"{lo:.1f}-{hi:.1f}"
