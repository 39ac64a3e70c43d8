"""DPOR throughput on UVM scenarios, and its reduction against plain DFS on the same ones.

For each scenario: DPOR explores it to completion (executions/s, visible steps/s); plain DFS
(every schedule) then runs on the same scenario for the same wall time; since it cannot
finish, the reduction factor printed is a lower bound: the schedules DFS explored without
finishing, over the executions DPOR needed to finish.

Run: `make bench` or `python benchmarks/checker.py [--dfs-seconds S]`.
"""

from __future__ import annotations

import argparse
import time

from uvmsim.check.strategies import Dfs, Dpor
from uvmsim.check.strategy import explore
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios import SCENARIOS

CASES = [("fault-vs-free", "seed"), ("pageclean-race", "openbsd-pre"), ("wired-counter", "seed")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dfs-seconds", type=float, default=5.0, help="wall time given to plain DFS per scenario"
    )
    args = ap.parse_args()
    total_execs, total_time = 0, 0.0
    for scenario, protocol in CASES:
        target = ScenarioTarget(SCENARIOS[scenario], PROTOCOLS[protocol])
        explore(target, Dpor(), max_executions=1)
        steps = {"n": 0}
        run = target.execute

        def counting(engine, run=run, steps=steps, **kw):
            r = run(engine, **kw)
            steps["n"] += len(r.schedule)
            return r

        target.execute = counting
        t0 = time.perf_counter()
        res = explore(target, Dpor())
        elapsed = time.perf_counter() - t0
        target.execute = run
        cov = res.coverage
        assert cov.complete and res.failure is None, (scenario, res.failure)
        dfs = explore(target, Dfs(), time_limit=args.dfs_seconds)
        dfs_done = "finished" if dfs.coverage.complete else "did not finish"
        factor = dfs.coverage.executions / cov.executions
        print(
            f"{scenario} on {protocol}: DPOR {cov.executions} executions "
            f"({cov.traces} traces, {cov.redundant} redundant) in {elapsed:.2f} s = "
            f"{cov.executions / elapsed:,.0f} executions/s, {steps['n'] / elapsed:,.0f} "
            f"steps/s; plain DFS {dfs_done} after {dfs.coverage.executions} executions "
            f"({args.dfs_seconds:.0f} s): reduction factor >= {factor:,.1f}"
        )
        total_execs += cov.executions
        total_time += elapsed
    print(f"dpor_executions_per_s: {total_execs / total_time:.0f}")


if __name__ == "__main__":
    main()
