"""Simulator throughput on the build workloads, and the memory of a large run.

Prints visible operations per second of a 64-CPU `build` run; the whole `make -j64` kernel
build on 64 CPUs (1,400 compile jobs and the link; goal: under 60 s on 2 cores), as visible
operations, seconds per million of them, and its rate relative to the `build` run's in the same
process (what the make family's kernel paths cost per visible operation); and the peak RSS of a
128-CPU run of 10^6 visible operations (measured in a child process, so the figure is that
run's alone; goal < 1 GiB).  Last line: `simulate_build_ops_per_s: X`.
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
    ap.add_argument(
        "--make-jobs", type=int, default=0, help="compile jobs of the make run (0: the kernel's)"
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
    m = simulate("make", PROTOCOLS["seed"], 64, seed=1, options={"jobs": args.make_jobs})
    make_s = time.perf_counter() - t0
    make_rate = m.steps / make_s
    real = m.time(scaled=True)["real"]
    print(
        f"make -j64 kernel build, 64 CPUs: {m.steps:,} visible operations ({m.ops:,} faults) in "
        f"{make_s:.1f} s = {1e6 * make_s / m.steps:.2f} s per million visible ops, "
        f"{make_rate / rate:.2f}x the build run's rate (the build it stands for: real "
        f"{real:.1f} s)"
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
    print(f"simulate_make_kernel_64_s: {make_s:.1f}")
    print(f"simulate_build_ops_per_s: {rate:.0f}")


if __name__ == "__main__":
    main()
