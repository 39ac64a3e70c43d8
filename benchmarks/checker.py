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

Times are CPU seconds of this process (`time.process_time`) except in `split`, so that other
load on the machine disturbs them less; tables are Markdown (docs/checker.md quotes them).

Run: `make bench`, `python benchmarks/checker.py [--quick] [--only uvm,split]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.check.literature import program_target

from uvmsim.check.strategies import Dfs, Dpor, Odpor
from uvmsim.check.strategy import Options, Strategy, explore
from uvmsim.check.target import Target
from uvmsim.machine import Analyses, ReplayEngine
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.distributed import TargetMaker, explore_split
from uvmsim.runs.executors import DaskCluster, LocalPool
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios import SCENARIOS

STRATEGIES: dict[str, Callable[[], Strategy]] = {"dpor": Dpor, "odpor": Odpor}
LITERATURE = {
    "lastzero": ([4, 6, 8, 10], [4, 6]),
    "indexer": ([12, 13, 14, 15], [12, 13]),
    "filesystem": ([14, 16, 18, 20], [14, 16]),
}
UVM_PROTOCOLS = ("seed", "seed-fixed", "openbsd-pre")
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
    args = ap.parse_args()
    sections = set(args.only.split(","))
    if "literature" in sections:
        literature(args.quick)
    if "uvm" in sections:
        uvm(args.quick)
    if "dfs" in sections:
        dfs(1.0 if args.quick else args.dfs_seconds)
    if "split" in sections:
        split(args.quick)


if __name__ == "__main__":
    main()
