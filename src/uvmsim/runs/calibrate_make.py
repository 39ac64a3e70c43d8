"""Fit the `make` build family to ../shared/calibration.md §1 (C1-C5), with three free
parameters for five data points, and judge the fit by leave-one-out.

    python -m uvmsim.runs.calibrate_make --iters 8 --loo-iters 6  # fit, then leave-one-out

What is compared: system/user of the whole build (time(1)'s sys, spinning included, over
user), per published point.  User time itself is an input, not a prediction: each kind's
user cycles per fault come from its published user time, its job count and the pages a job
touches (workloads/make.py).  The free parameters:

- `kernel_other`: kernel cycles per fault outside the modelled paths (trap, map lookup, the
  system calls a compile job makes, amortized per fault);
- `pmr_work`: pmemrange's tree work inside each fpageq critical section;
- `llvm_pages`: the pages a libLLVM compile job touches, which sets that build's fault rate
  (the kernel build's is an unfitted estimate, part of R8's band).

Leave-one-out: for each point, the three parameters are fitted on the other four (starting
from the full fit) and the fifth is predicted.  Results are written to
`src/uvmsim/workloads/make_fit.json`, which the make workload reads and docs/simulator.md
shows; the fitted values also become its defaults.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
from dataclasses import dataclass, replace

from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.calibration import POINTS, nelder_mead
from uvmsim.runs.simulate import simulate
from uvmsim.simulate.costs import CPU_HZ
from uvmsim.workloads.make import FIT_FILE, KINDS, fitted

FREE = ("kernel_other", "pmr_work", "llvm_pages")
JOBS = 64  # compile jobs per simulated point: sys/user settles well before the full build
SEED = 1


@dataclass
class Point:
    id: str
    published: float
    simulated: float

    @property
    def error(self) -> float:
        return self.simulated / self.published - 1


def point_options(kind: str, params: dict[str, float]) -> dict:
    k = KINDS[kind]
    if kind == "libllvm":
        k = replace(k, real_pages=round(params["llvm_pages"]))
    return {
        "kind": kind,
        "jobs": JOBS,
        "kernel_other": round(params["kernel_other"]),
        "pmr_work": round(params["pmr_work"]),
        "think": k.think(CPU_HZ),
    }


def simulate_point(args: tuple) -> float:
    """sys/user of one published point's build with `params`."""
    (_pid, kind, cpus, proto, _sys, _user), params = args
    r = simulate("make", PROTOCOLS[proto], cpus, seed=SEED, options=point_options(kind, params))
    t = r.time()
    return t["sys"] / t["user"]


def simulate_points(
    params: dict[str, float], points: tuple = POINTS, pool: multiprocessing.pool.Pool | None = None
) -> list[Point]:
    work = [(p, params) for p in points]
    values = pool.map(simulate_point, work) if pool else [simulate_point(w) for w in work]
    return [Point(p[0], p[4] / p[5], v) for p, v in zip(points, values, strict=True)]


def _fit(points: tuple, x0: list[float], iters: int, pool, step: float = 0.25) -> dict[str, float]:
    def f(x: list[float]) -> float:
        params = dict(zip(FREE, (math.exp(v) for v in x), strict=True))
        return sum(
            math.log(p.simulated / p.published) ** 2 for p in simulate_points(params, points, pool)
        )

    best = nelder_mead(f, x0, step=step, iters=iters)
    return {k: round(math.exp(v)) for k, v in zip(FREE, best, strict=True)}


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m uvmsim.runs.calibrate_make")
    ap.add_argument("--iters", type=int, default=30, help="Nelder-Mead iterations of the fit")
    ap.add_argument(
        "--loo-iters", type=int, default=12, help="iterations of each leave-one-out refit"
    )
    args = ap.parse_args(argv)
    start = fitted()
    x0 = [math.log(start[k]) for k in FREE]
    with multiprocessing.get_context("fork").Pool(min(5, os.cpu_count() or 1)) as pool:
        params = _fit(POINTS, x0, iters=args.iters, pool=pool)
        in_sample = simulate_points(params, POINTS, pool)
        loo = []
        for i, left_out in enumerate(POINTS):
            rest = POINTS[:i] + POINTS[i + 1 :]
            # A smaller first simplex: the refit starts next to the full fit's optimum.
            x = [math.log(params[k]) for k in FREE]
            p = _fit(rest, x, iters=args.loo_iters, pool=pool, step=0.1)
            (pred,) = simulate_points(p, (left_out,), pool)
            loo.append({"point": left_out[0], "params": p, "error": round(pred.error, 4)})
            print(f"leave out {left_out[0]}: {pred.error:+.1%} with {p}", file=sys.stderr)
    doc = {
        "free": list(FREE),
        "iters": {"fit": args.iters, "leave_one_out": args.loo_iters},
        "params": params,
        "jobs": JOBS,
        "seed": SEED,
        "in_sample": [
            {
                "point": p.id,
                "published": round(p.published, 4),
                "simulated": round(p.simulated, 4),
                "error": round(p.error, 4),
            }
            for p in in_sample
        ],
        "leave_one_out": loo,
    }
    with open(FIT_FILE, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
