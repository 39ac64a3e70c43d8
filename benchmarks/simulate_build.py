"""Simulator throughput on the build workload, and the memory of a large run.

Prints visible operations per second of a 64-CPU `build` run, and the peak RSS of a 128-CPU
run of 10^6 visible operations (measured in a child process, so the figure is that run's
alone; goal < 1 GiB).  Last line: `simulate_build_ops_per_s: X`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.simulate import simulate

CHILD = """
import resource, sys
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.simulate import simulate
r = simulate("build", PROTOCOLS["seed"], 128, visible=int(sys.argv[1]), seed=1)
print(r.steps, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=5000, help="workload operations of the 64-CPU run")
    ap.add_argument(
        "--visible",
        type=int,
        default=1_000_000,
        help="visible operations of the 128-CPU memory run",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    r = simulate("build", PROTOCOLS["seed"], 64, ops=args.ops, seed=1)
    elapsed = time.perf_counter() - t0
    rate = r.steps / elapsed
    print(
        f"build, 64 CPUs: {r.steps:,} visible operations ({r.ops:,} faults and exits) in "
        f"{elapsed:.1f} s = {rate:,.0f} visible ops/s"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(args.visible)], capture_output=True, text=True, check=True
    ).stdout.split()
    steps, rss_kib = int(out[0]), int(out[1])
    print(
        f"build, 128 CPUs, {steps:,} visible operations: peak RSS {rss_kib / 1024:,.0f} MiB "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    print(f"simulate_build_ops_per_s: {rate:.0f}")


if __name__ == "__main__":
    main()
