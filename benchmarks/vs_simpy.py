"""Our timed engine against SimPy on the same model: the `spinlock` workload.

The textbook spinlock model (N CPUs, exponential think and hold times, one lock, FIFO
hand-off with cost c*k/2) is written once for uvmsim (the `spinlock` workload running on the
simulated machine, every lock operation a visible operation) and once for SimPy (processes
and a Resource, the hand-off as a timeout), run in the same process on the same parameters.
Events per second: uvmsim counts visible operations (4 per iteration: think, enter, hold,
leave); SimPy counts the same 4 events per iteration (think timeout, request, hold timeout,
release).

The two run as `--pairs` pairs, alternating (ours, then SimPy, in each pair), after one short
warm-up pair: on a shared machine one pair's ratio swings by a factor of two with the load
of the moment, which touches both sides of a pair alike more than it touches two pairs.
Each pair's ratio is printed; the last line, `ratio_vs_simpy: X`, is their median (uvmsim
events/s over SimPy events/s).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import simpy

from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.simulate import simulate


def simpy_spinlock(
    ncpu: int, iterations: int, think: float, hold: float, handoff: float, seed: int
) -> tuple[int, float]:
    env = simpy.Environment()
    lock = simpy.Resource(env, capacity=1)
    waiting = [0]
    acquisitions = [0]

    def cpu(i: int):
        rng = random.Random(seed * 1_000_003 + i)
        for _ in range(iterations):
            yield env.timeout(rng.expovariate(1.0 / think))
            waiting[0] += 1
            k = waiting[0]
            with lock.request() as req:
                yield req
                if k > 1:
                    yield env.timeout(handoff * k / 2)
                waiting[0] -= 1
                yield env.timeout(rng.expovariate(1.0 / hold))
            acquisitions[0] += 1

    for i in range(ncpu):
        env.process(cpu(i))
    t0 = time.perf_counter()
    env.run()
    return acquisitions[0] * 4, time.perf_counter() - t0


def ours(
    ncpu: int, iterations: int, think: float, hold: float, handoff: int, seed: int
) -> tuple[int, float]:
    t0 = time.perf_counter()
    r = simulate(
        "spinlock",
        PROTOCOLS["seed"],
        ncpu,
        seed=seed,
        discipline="fifo",
        options={"think": think, "hold": hold, "handoff": handoff, "iterations": iterations},
    )
    elapsed = time.perf_counter() - t0
    return r.locks["spinlock"]["acquisitions"] * 4, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=5000, help="acquisitions per CPU")
    ap.add_argument("--pairs", type=int, default=5, help="alternating runs of the two")
    args = ap.parse_args()
    if args.pairs < 1:
        ap.error(f"--pairs: must be a positive integer, got {args.pairs}")
    params = {"think": 9000.0, "hold": 1000.0, "handoff": 100, "seed": 1}
    ours(args.cpus, 100, **params)  # warm-up: imports, first calls
    simpy_spinlock(args.cpus, 100, **params)
    ratios = []
    for k in range(args.pairs):
        e1, t1 = ours(args.cpus, args.iterations, **params)
        e2, t2 = simpy_spinlock(args.cpus, args.iterations, **params)
        r1, r2 = e1 / t1, e2 / t2
        ratios.append(r1 / r2)
        print(
            f"pair {k + 1}: uvmsim {e1:,} events in {t1:.2f} s = {r1:,.0f} events/s; "
            f"SimPy {e2:,} events in {t2:.2f} s = {r2:,.0f} events/s; ratio {r1 / r2:.2f}"
        )
    print(f"ratio_vs_simpy: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
