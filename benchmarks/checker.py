"""The checker's throughput and reductions: source- and optimal DPOR on the DPOR literature's
programs and on the UVM scenarios, DPOR against plain DFS, and DPOR split over processes.

Sections (all by default; `--only` picks some):

- `literature`: lastzero (Abdulla et al. 2014), indexer and filesystem (Flanagan and
  Godefroid 2005), at several sizes, under `dpor` and `odpor`: executions, traces, sleep-set
  blocked executions, CPU seconds, executions per CPU second.
- `uvm`: every 3-CPU UVM scenario on seed, seed-fixed and openbsd-pre, exhaustive, under both
  strategies, with the race detector on (the default), off, and with `--reduce`; then the
  executions per CPU second over all of them (the issue asks for >= 1,000 per core), and how
  much of it is the search's own bookkeeping (the same executions replayed without a
  strategy).
- `dfs`: plain DFS given the same wall time as DPOR needs to finish three scenarios; since it
  cannot finish, the reduction factor printed is a lower bound.
- `split`: one exhaustive run of a target that takes >= 30 s in one process, then split over
  2 local processes (`--jobs 2`): the speedup in wall time, and how busy the workers were and
  how much CPU they got (on a machine shared with other work, the wall-time ratio is bounded
  by the CPU the workers get; the estimate for an idle machine is printed too).

`--growth` (not part of the default run, and the only section that writes a file): every UVM
scenario on seed, seed-fixed and openbsd-pre, exhaustive under dpor with every analysis on
(the defaults of `uvmsim check`), at its original shape and then grown one size at a time
(`--cpus`, `--ops`, `--passes`, as each scenario takes them), smallest sizes of every
scenario first, until a run does not finish within `--per-run` CPU seconds or the whole
section has used `--budget` wall seconds; the results go to src/uvmsim/review/growth.json, which
docs/checker.md's growth table and `uvmsim review` read.

Times are CPU seconds of this process (`time.process_time`) except in `split`, so that other
load on the machine disturbs them less; tables are Markdown (docs/checker.md quotes them).

Run: `make bench`, `python benchmarks/checker.py [--quick] [--only uvm,split]`,
`nice -n 10 python benchmarks/checker.py --growth [--per-run 10] [--budget 2400]
[--protocols seed --out seed.json]`, then `--merge seed.json ...` for one file.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.check.literature import program_target

from uvmsim import _compiled
from uvmsim.check.result import Coverage
from uvmsim.check.strategies import Dfs, Dpor, Odpor
from uvmsim.check.strategy import Options, Strategy, explore
from uvmsim.check.target import Target
from uvmsim.machine import Analyses, ReplayEngine
from uvmsim.protocols import PROTOCOLS
from uvmsim.review.growth import AXES, GROWTH_FILE, shape_text
from uvmsim.runs.distributed import TargetMaker, explore_split
from uvmsim.runs.executors import DaskCluster, LocalPool
from uvmsim.runs.names import get_protocol, get_scenario
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios import SCENARIOS

STRATEGIES: dict[str, Callable[[], Strategy]] = {"dpor": Dpor, "odpor": Odpor}
LITERATURE = {
    "lastzero": ([4, 6, 8, 10], [4, 6]),
    "indexer": ([12, 13, 14, 15], [12, 13]),
    "filesystem": ([14, 16, 18, 20], [14, 16]),
}
UVM_PROTOCOLS = ("seed", "seed-fixed", "openbsd-pre")
RECORD_FILE = Path("benchmarks/results/checker.md")
DFS_CASES = [
    ("fault-vs-free", "seed"),
    ("pageclean-race", "openbsd-pre"),
    ("wired-counter", "seed"),
]
SPLIT_TARGET = ("lastzero", 12, "dpor")


def table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if k == 0 else "---:" for k in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print()


def timed(target: Target, strategy: Strategy) -> tuple:
    """Explore to the end (past failures); (coverage, CPU seconds, failure signatures)."""
    c0 = time.process_time()
    res = explore(target, strategy, keep_going=True)
    secs = time.process_time() - c0
    assert res.coverage.complete, res.notes
    return res.coverage, secs, sorted(res.tally.counts)


def literature(quick: bool) -> None:
    print("## Source- and optimal DPOR on the DPOR literature's programs\n")
    rows = []
    for name, (sizes, small) in LITERATURE.items():
        for n in small if quick else sizes:
            traces = {}
            for sname, make in STRATEGIES.items():
                cov, secs, _ = timed(program_target(name, n), make())
                traces[sname] = cov.traces
                rows.append(
                    [
                        f"{name}({n})",
                        sname,
                        f"{cov.executions:,}",
                        f"{cov.traces:,}",
                        f"{cov.redundant:,}",
                        f"{secs:.2f}",
                        f"{cov.executions / secs:,.0f}",
                    ]
                )
            assert traces["dpor"] == traces["odpor"], (name, n, traces)
    table(
        ["program", "strategy", "executions", "traces", "blocked", "CPU s", "executions/s"],
        rows,
    )


def three_cpu_scenarios() -> list[str]:
    return sorted(name for name, sc in SCENARIOS.items() if sc.cpus == 3)


def uvm(quick: bool) -> None:
    print("## Source- and optimal DPOR on the 3-CPU UVM scenarios\n")
    settings = {
        "races on": {"analyses": Analyses()},
        "races off": {"analyses": Analyses(races=False)},
        "races on, --reduce": {"analyses": Analyses(), "schedule_covered": False},
    }
    protocols = UVM_PROTOCOLS[:1] if quick else UVM_PROTOCOLS
    rows, totals = [], []
    for label, kw in settings.items():
        for sname, make in STRATEGIES.items():
            execs = secs = replay = 0.0
            for scenario in three_cpu_scenarios():
                for protocol in protocols:
                    target = ScenarioTarget(SCENARIOS[scenario], PROTOCOLS[protocol], **kw)
                    explore(target, Dpor(), max_executions=1)  # the snapshot, built once
                    schedules: list[tuple[int, ...]] = []
                    run = target.execute

                    def keep(engine, run=run, schedules=schedules, **k):
                        r = run(engine, **k)
                        if not r.stopped:
                            schedules.append(r.schedule)
                        return r

                    target.execute = keep
                    cov, s, _ = timed(target, make())
                    target.execute = run
                    c0 = time.process_time()
                    for schedule in schedules:
                        target.execute(ReplayEngine(schedule))
                    replay += (time.process_time() - c0) * cov.executions / len(schedules)
                    execs += cov.executions
                    secs += s
                    if label == "races on":
                        rows.append(
                            [
                                scenario,
                                protocol,
                                sname,
                                f"{cov.executions:,}",
                                f"{cov.traces:,}",
                                f"{cov.redundant:,}",
                                cov.deepest,
                                f"{cov.executions / s:,.0f}",
                            ]
                        )
            totals.append(
                [
                    label,
                    sname,
                    f"{execs:,.0f}",
                    f"{secs:.2f}",
                    f"{execs / secs:,.0f}",
                    f"{execs / replay:,.0f}",
                    f"{100 * (secs - replay) / secs:.0f}%",
                ]
            )
    table(
        [
            "scenario",
            "protocol",
            "strategy",
            "executions",
            "traces",
            "blocked",
            "deepest",
            "executions/s",
        ],
        rows,
    )
    print("Over all of them (executions per CPU second, i.e. per core):\n")
    table(
        [
            "setting",
            "strategy",
            "executions",
            "CPU s",
            "executions/s",
            "replay only/s",
            "search's share",
        ],
        totals,
    )


def dfs(seconds: float) -> None:
    print("## DPOR against plain DFS (DFS given the same wall time, cannot finish)\n")
    rows = []
    for scenario, protocol in DFS_CASES:
        target = ScenarioTarget(SCENARIOS[scenario], PROTOCOLS[protocol])
        explore(target, Dpor(), max_executions=1)
        t0 = time.perf_counter()
        res = explore(target, Dpor())
        elapsed = time.perf_counter() - t0
        cov = res.coverage
        assert cov.complete and res.failure is None, (scenario, res.failure)
        budget = max(seconds, elapsed)
        plain = explore(target, Dfs(), time_limit=budget)
        done = "finished" if plain.coverage.complete else "did not finish"
        rows.append(
            [
                f"{scenario} on {protocol}",
                f"{cov.executions:,}",
                f"{elapsed:.2f}",
                f"{plain.coverage.executions:,} ({done} in {budget:.0f} s)",
                f">= {plain.coverage.executions / cov.executions:,.1f}",
            ]
        )
    table(["scenario", "DPOR executions", "DPOR s", "plain DFS executions", "reduction"], rows)


def split(quick: bool) -> None:
    name, n, strategy = ("lastzero", 9, "dpor") if quick else SPLIT_TARGET
    label = f"{strategy} on {name}({n})"
    print(f"## {label}: one process, then split over 2 local processes\n")
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    alone = explore(program_target(name, n), STRATEGIES[strategy]())
    seq, seq_cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = [
        [
            "1 process",
            f"{alone.coverage.executions:,}",
            f"{alone.coverage.traces:,}",
            f"{alone.coverage.redundant:,}",
            f"{seq:.1f}",
            f"{seq_cpu:.1f}",
            "1.00x",
            "",
        ]
    ]
    lines = []
    for how in ("--jobs 2", "Dask LocalCluster, 2 worker processes"):
        stats: dict[str, float] = {}
        cluster = executor = None
        try:
            if how == "--jobs 2":
                executor = LocalPool(2)
            else:
                from distributed import LocalCluster

                cluster = LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                )
                executor = DaskCluster(cluster.scheduler_address)
            t0 = time.perf_counter()
            res = explore_split(
                TargetMaker(program_target, (name, n)), strategy, Options(), executor, stats=stats
            )
            par = time.perf_counter() - t0
        finally:
            if executor is not None:
                executor.close()
            if cluster is not None:
                cluster.close()
        assert res.coverage.complete and res.coverage.traces == alone.coverage.traces
        busy = stats["busy"] / (2 * par)
        on_cpu = stats["cpu"] / (2 * par)
        work = seq_cpu / stats["cpu"]  # 1: splitting added no work
        rows.append(
            [
                f"{how} ({stats['tasks']:.0f} slices)",
                f"{res.coverage.executions:,}",
                f"{res.coverage.traces:,}",
                f"{res.coverage.redundant:,}",
                f"{par:.1f}",
                f"{stats['cpu']:.1f} + {stats['coordinator_cpu']:.1f}",
                f"{seq / par:.2f}x",
                f"{busy:.0%} busy, {on_cpu:.0%} of a CPU; on 2 idle cores ~{2 * busy * work:.2f}x",
            ]
        )
        lines.append(
            f"{how}: speedup {seq / par:.2f}x in wall time; workers busy {busy:.0%} of the "
            f"time, on a CPU {on_cpu:.0%}; their CPU work {100 / work:.0f}% of one process's"
        )
    table(
        ["run", "executions", "traces", "blocked", "wall s", "CPU s", "speedup", "workers"],
        rows,
    )
    print(
        f"(load average {load:.1f} on {os.cpu_count()} CPUs when it started: on a machine "
        "shared with other work the workers get less than a CPU each, and the wall-time "
        "speedup with them; 'on 2 idle cores' is 2 x busy x the ratio of CPU work)\n"
    )
    for line in lines:
        print(line)
    print()


class _OverBudget(Exception):
    pass


def _growth_run(scenario: str, protocol: str, sizes: dict[str, int], per_run: float) -> dict:
    """One exhaustive dpor run of a grown scenario, stopped after `per_run` CPU seconds.

    CPU seconds, not wall seconds: on a machine shared with other work a wall-time budget
    would measure the load, not the run.  The budget is checked at every progress report
    (every PROGRESS_EVERY executions), which sees the coverage so far.
    """
    sc = get_scenario(scenario, sizes)
    target = ScenarioTarget(sc, get_protocol(protocol))
    t0, c0 = time.perf_counter(), time.process_time()
    seen: list[Coverage] = []

    def watch(cov: Coverage) -> None:
        seen[:] = [cov]
        if time.process_time() - c0 > per_run:
            raise _OverBudget

    kinds: dict[str, int] = {}
    try:
        res = explore(target, Dpor(), keep_going=True, progress=watch)
        cov = res.coverage
        for t in res.tally.counts.values():
            kinds[t["kind"]] = kinds.get(t["kind"], 0) + t["count"]
    except _OverBudget:
        cov = seen[0]
        cov.complete = False  # failures found so far are not tallied: the run is not reported
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return {
        "sizes": sc.shape(),
        "status": "complete" if cov.complete else "stopped",
        "executions": cov.executions,
        "traces": cov.traces,
        "blocked": cov.redundant,
        "cpu_seconds": round(cpu, 2),
        "wall_seconds": round(wall, 2),
        "failures": dict(sorted(kinds.items())),
    }


def merge_growth(parts: list[Path], out: Path) -> None:
    """One growth.json from runs made in several processes (`--protocols`, one each), or a
    recorded file and a scenario grown again (`--scenarios`): a later part's rows of a
    scenario on a protocol replace every earlier row of that pair."""
    docs = [json.loads(p.read_text()) for p in parts]
    doc = dict(docs[0])
    doc["protocols"] = [n for n in UVM_PROTOCOLS if any(n in d["protocols"] for d in docs)]
    doc["seconds"] = max(d["seconds"] for d in docs)
    doc["processes"] = sum(d.get("processes", 1) for d in docs)
    runs: list[dict[str, Any]] = []
    for d in docs:
        new: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in d["runs"]:
            new.setdefault((r["scenario"], r["protocol"]), []).append(r)
        kept: list[dict[str, Any]] = []
        placed: set[tuple[str, str]] = set()
        for r in runs:  # a replaced pair's new rows take the place of its first old row
            pair = (r["scenario"], r["protocol"])
            if pair not in new:
                kept.append(r)
            elif pair not in placed:
                kept.extend(new[pair])
                placed.add(pair)
        runs = kept + [r for r in d["runs"] if (r["scenario"], r["protocol"]) not in placed]
    doc["runs"] = runs
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out} ({len(doc['runs'])} runs from {len(docs)} processes)")


def growth(
    per_run: float,
    budget: float,
    out: Path,
    protocols: tuple[str, ...],
    scenarios: tuple[str, ...] = (),
) -> None:
    """The growth section (module docstring): level by level, so that when the budget runs
    out every scenario has been grown as far as the ones before it."""
    print(f"## Growth: per run {per_run:g} s, whole section {budget:g} s\n")
    t_start = time.perf_counter()
    names = sorted(n for n, sc in SCENARIOS.items() if not sc.apparatus)
    if scenarios:  # a scenario added since the last full run: grow it alone, then --merge
        unknown = sorted(set(scenarios) - set(names))
        if unknown:
            raise SystemExit(f"--scenarios: unknown {', '.join(unknown)}; accepted: {names}")
        names = [n for n in names if n in scenarios]
    runs: list[dict[str, Any]] = []
    # (scenario, protocol, axis) still growing, with the value reached
    alive: dict[tuple[str, str, str], int] = {}

    def record(scenario: str, protocol: str, axis: str | None, row: dict) -> None:
        row = {"scenario": scenario, "protocol": protocol, "axis": axis, **row}
        runs.append(row)
        print(
            f"{scenario:18} {protocol:12} {shape_text(row['sizes']) or '-':34} "
            f"{row['status']:9} {row.get('traces', 0):>8,} traces "
            f"{row.get('cpu_seconds', 0):7.1f} s",
            flush=True,
        )

    def out_of_budget() -> bool:
        return time.perf_counter() - t_start > budget

    for name in names:
        for proto in protocols:
            row = _growth_run(name, proto, {}, per_run)
            record(name, proto, None, row)
            if row["status"] == "complete":
                for sz in SCENARIOS[name].sizes:
                    alive[(name, proto, sz.name)] = SCENARIOS[name].defaults()[sz.name]
    while alive:
        for key in sorted(alive, key=lambda k: (AXES.index(k[2]), k)):
            name, proto, axis = key
            value = alive[key] + 1
            hi = next(sz.hi for sz in SCENARIOS[name].sizes if sz.name == axis)
            if value > hi:
                del alive[key]
                continue
            if out_of_budget():
                sizes = get_scenario(name, {axis: value}).shape()
                record(name, proto, axis, {"sizes": sizes, "status": "not run", "failures": {}})
                del alive[key]
                continue
            row = _growth_run(name, proto, {axis: value}, per_run)
            record(name, proto, axis, row)
            if row["status"] == "complete":
                alive[key] = value
            else:
                del alive[key]
    doc = {
        "strategy": "dpor",
        "analyses": "all on (the defaults of uvmsim check)",
        "budget": "per run: CPU seconds of the process; whole section: wall seconds",
        "per_run_seconds": per_run,
        "budget_seconds": budget,
        "seconds": round(time.perf_counter() - t_start, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, run with nice -n 10 beside other work",
        "protocols": list(protocols),
        "runs": runs,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nwrote {out} ({len(runs)} runs, {doc['seconds']:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    ap.add_argument(
        "--only",
        default="literature,uvm,dfs,split",
        help="comma-separated sections: literature, uvm, dfs, split",
    )
    ap.add_argument(
        "--dfs-seconds", type=float, default=5.0, help="wall time given to plain DFS per scenario"
    )
    ap.add_argument("--growth", action="store_true", help="only the growth section (writes JSON)")
    ap.add_argument("--per-run", type=float, default=10.0, help="growth: CPU seconds per run")
    ap.add_argument("--budget", type=float, default=2400.0, help="growth: wall seconds in all")
    ap.add_argument("--out", type=Path, default=GROWTH_FILE, help="growth: the JSON written")
    ap.add_argument(
        "--protocols",
        default=",".join(UVM_PROTOCOLS),
        help="growth: these protocols only (run one process per protocol, then --merge)",
    )
    ap.add_argument(
        "--scenarios",
        default="",
        help="growth: these scenarios only (comma-separated; then --merge with the recorded file)",
    )
    ap.add_argument(
        "--merge", nargs="+", type=Path, default=None, help="growth: merge these into --out"
    )
    ap.add_argument(
        "--record",
        type=Path,
        default=None,
        help=f"also write the Markdown printed to this file (make bench: {RECORD_FILE}, "
        "which docs/checker.md quotes)",
    )
    args = ap.parse_args()
    if args.merge:
        merge_growth(args.merge, args.out)
        return
    if args.growth:
        growth(
            args.per_run,
            args.budget,
            args.out,
            tuple(args.protocols.split(",")),
            tuple(x for x in args.scenarios.split(",") if x),
        )
        return
    sections = set(args.only.split(","))
    printed = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, printed)):
        build = "compiled" if _compiled.use_compiled() else "pure-Python"
        print(
            f"Run on {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, the {build} build, load average "
            f"{os.getloadavg()[0]:.1f} at the start{' (--quick)' if args.quick else ''}.\n"
        )
        if "literature" in sections:
            literature(args.quick)
        if "uvm" in sections:
            uvm(args.quick)
        if "dfs" in sections:
            dfs(1.0 if args.quick else args.dfs_seconds)
        if "split" in sections:
            split(args.quick)
    if args.record is not None:
        # Written whole at the end (a run stopped half-way leaves the last record as it was).
        tmp = args.record.with_suffix(".tmp")
        tmp.write_text(printed.getvalue())
        os.replace(tmp, args.record)
        print(f"wrote {args.record}")


class _Tee(io.TextIOBase):
    """What the sections print goes to the terminal as it comes, and into the record."""

    def __init__(self, *streams: Any):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


if __name__ == "__main__":
    main()
