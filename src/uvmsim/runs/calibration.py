"""Fit the `build` workload's free parameters to ../shared/calibration.md §1, and only to it.

The published points are whole-build `time(1)` figures; what a simulation can reproduce is
their system/user ratio (the same build, so the same user work, on N CPUs):

| id | build   | N  | protocol             | system / user          |
|----|---------|----|----------------------|------------------------|
| C1 | kernel  | 16 | openbsd-2024-nocache | 655.78 / 684.18 = 0.958 |
| C2 | kernel  | 32 | openbsd-2024-nocache | 1300.66 / 715.12 = 1.819 |
| C3 | libLLVM | 16 | openbsd-2024-nocache | 9034.05 / 21805.35 = 0.414 |
| C4 | libLLVM | 32 | openbsd-2024-nocache | 18662.54 / 24589.80 = 0.759 |
| C5 | kernel  | 16 | openbsd-pre (magazines) | 402.08 / 679.29 = 0.592 |

Free parameters: the mean user cycles between faults of each build (`think_kernel`,
`think_libllvm`), the kernel cycles per fault outside the modelled paths (`kernel_other`), and
pmemrange's tree work inside each fpageq critical section (`pmr_work`).  Everything else in
the cost table is fixed (the cache-line transfer and hand-off cost c from calibration.md §3).

The fit minimises the squared log-ratios of simulated to published system/user.  The
values in `uvmsim.workloads.build.FITTED` came from a grid over `think_kernel` x
`pmr_work/think_kernel` with `kernel_other = 0.565 * think_kernel` (C5 pins that ratio),
then a one-dimensional search over `think_libllvm` (C3, C4); `python -m
uvmsim.runs.calibration` refines them with a Nelder-Mead search in log space (minutes), to
paste back here.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.simulate import simulate
from uvmsim.workloads.build import FITTED

POINTS = (
    # id, build kind, CPUs, protocol, published system seconds, user seconds
    ("C1", "kernel", 16, "openbsd-2024-nocache", 655.78, 684.18),
    ("C2", "kernel", 32, "openbsd-2024-nocache", 1300.66, 715.12),
    ("C3", "libllvm", 16, "openbsd-2024-nocache", 9034.05, 21805.35),
    ("C4", "libllvm", 32, "openbsd-2024-nocache", 18662.54, 24589.80),
    ("C5", "kernel", 16, "openbsd-pre", 402.08, 679.29),
)

OPS = 6000  # workload operations per simulated point (about 2% noise on the ratio)
SEED = 1


@dataclass
class PointResult:
    id: str
    published: float
    simulated: float

    @property
    def error(self) -> float:
        return self.simulated / self.published - 1


def build_options(kind: str, params: dict[str, float]) -> dict:
    return {
        "kind": kind,
        "think": params[f"think_{kind}"],
        "kernel_other": int(params["kernel_other"]),
        "pmr_work": int(params["pmr_work"]),
    }


def simulate_points(
    params: dict[str, float], ops: int = OPS, seed: int = SEED, points: tuple = POINTS
) -> list[PointResult]:
    """Simulated system/user for each published point with `params`."""

    out = []
    for pid, kind, cpus, proto, sys_s, user_s in points:
        r = simulate(
            "build", PROTOCOLS[proto], cpus, ops=ops, seed=seed, options=build_options(kind, params)
        )
        ct = r.cpu_time
        out.append(PointResult(pid, sys_s / user_s, (ct["system"] + ct["spin"]) / ct["user"]))
    return out


def objective(params: dict[str, float]) -> float:
    return sum(math.log(p.simulated / p.published) ** 2 for p in simulate_points(params))


def nelder_mead(f, x0: list[float], step: float = 0.3, iters: int = 60) -> list[float]:
    """A plain Nelder-Mead minimisation (no SciPy: it is not a dependency)."""
    n = len(x0)
    simplex = [list(x0)] + [
        [x + (step if i == j else 0) for j, x in enumerate(x0)] for i in range(n)
    ]
    values = [f(x) for x in simplex]
    for it in range(iters):
        order = sorted(range(n + 1), key=lambda i: values[i])
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        print(
            f"iteration {it}: best {values[0]:.4f} at {[round(math.exp(v)) for v in simplex[0]]}",
            file=sys.stderr,
        )
        centroid = [sum(p[i] for p in simplex[:-1]) / n for i in range(n)]
        worst = simplex[-1]
        refl = [c + (c - w) for c, w in zip(centroid, worst, strict=True)]
        fr = f(refl)
        if fr < values[0]:
            exp_ = [c + 2 * (c - w) for c, w in zip(centroid, worst, strict=True)]
            fe = f(exp_)
            simplex[-1], values[-1] = (exp_, fe) if fe < fr else (refl, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = refl, fr
        else:
            contr = [c + 0.5 * (w - c) for c, w in zip(centroid, worst, strict=True)]
            fc = f(contr)
            if fc < values[-1]:
                simplex[-1], values[-1] = contr, fc
            else:
                best = simplex[0]
                simplex = [best] + [
                    [b + 0.5 * (x - b) for b, x in zip(best, p, strict=True)] for p in simplex[1:]
                ]
                values = [values[0]] + [f(p) for p in simplex[1:]]
    best = min(range(n + 1), key=lambda i: values[i])
    return simplex[best]


KEYS = ("think_kernel", "think_libllvm", "kernel_other", "pmr_work")


def fit(iters: int = 40) -> dict[str, float]:
    x0 = [math.log(FITTED[k]) for k in KEYS]

    def f(x: list[float]) -> float:
        return objective({k: math.exp(v) for k, v in zip(KEYS, x, strict=True)})

    best = nelder_mead(f, x0, iters=iters)
    return {k: round(math.exp(v)) for k, v in zip(KEYS, best, strict=True)}


def main() -> None:
    params = fit(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
    print("FITTED =", params)
    for p in simulate_points(params):
        print(
            f"{p.id}: published {p.published:.3f} simulated {p.simulated:.3f} "
            f"({100 * p.error:+.1f}%)"
        )


if __name__ == "__main__":
    main()
