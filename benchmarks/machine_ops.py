"""Visible operations per second of the machine, against a bare greenlet switch loop.

The program: 4 CPUs, each incrementing one shared counter under one spin mutex (a contended
counter).  Every mtx_enter, read, write and mtx_leave is a visible operation handed to the
engine.  In the same process, a bare loop of 4 greenlets switching to each other gives the
cost floor of a context switch.  The ratio says how much of the greenlet switch rate the
machine keeps; since a round-robin schedule switches CPU at almost every operation, a ratio
of 1 would mean the machine adds nothing to the switch itself.

Run: `make bench` or `python benchmarks/machine_ops.py [--ops N]`.
"""

from __future__ import annotations

import argparse
import time

import greenlet

from uvmsim.machine import (
    Analyses,
    Machine,
    Mutex,
    RandomEngine,
    RoundRobinEngine,
    Shared,
    SharedObject,
    mtx_enter,
    mtx_leave,
)

NCPU = 4


class Counter(SharedObject):
    value = Shared("Q")


def contended_counter(iterations: int) -> tuple[Counter, Mutex, list]:
    lock = Mutex("counterlock")
    counter = Counter("counter")

    def cpu() -> None:
        for _ in range(iterations):
            mtx_enter(lock)
            counter.value = counter.value + 1
            mtx_leave(lock)

    return counter, lock, [cpu] * NCPU


def machine_rate(engine_name: str, analyses: Analyses, ops_target: int) -> tuple[float, int]:
    iterations = ops_target // (4 * NCPU)
    counter, lock, program = contended_counter(iterations)
    engine = RoundRobinEngine() if engine_name == "round-robin" else RandomEngine(seed=1)
    m = Machine(engine, analyses=analyses, max_steps=10 * ops_target)
    m.bind_annotation("Q", lock)
    t0 = time.perf_counter()
    result = m.run(program)
    elapsed = time.perf_counter() - t0
    assert result.failure is None, result.failure.render()
    assert counter.__dict__["value"] == iterations * NCPU
    return result.steps / elapsed, result.steps


def bare_switch_rate(switches: int) -> float:
    count = 0
    glets: list[greenlet.greenlet] = []

    def body(i: int) -> None:
        nonlocal count
        nxt = (i + 1) % NCPU
        while count < switches:
            count += 1
            glets[nxt].switch()

    main = greenlet.getcurrent()
    for i in range(NCPU):
        glets.append(greenlet.greenlet(lambda i=i: body(i), parent=main))
    t0 = time.perf_counter()
    glets[0].switch()
    return switches / (time.perf_counter() - t0)


def best_of(n: int, fn, *args):
    return max(fn(*args) for _ in range(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=200_000, help="visible operations per run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    args = ap.parse_args()

    bare = best_of(args.repeat, bare_switch_rate, args.ops)
    print(f"bare greenlet switches/s: {bare:,.0f}")
    configs = [
        ("round-robin", "all analyses", Analyses()),
        ("random", "all analyses", Analyses()),
        ("round-robin", "no analyses", Analyses(False, False, False)),
    ]
    rates = {}
    for engine, label, analyses in configs:
        rate = max(machine_rate(engine, analyses, args.ops)[0] for _ in range(args.repeat))
        rates[(engine, label)] = rate
        print(f"machine ops/s ({engine}, {label}): {rate:,.0f}  ratio {rate / bare:.3f}")
    headline = rates[("round-robin", "all analyses")] / bare
    print(f"ratio_vs_bare_switch: {headline:.3f}")


if __name__ == "__main__":
    main()
