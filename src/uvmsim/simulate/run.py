"""One timed run of per-CPU programs on the timed engine, and its JSON-shaped result.

`run_timed` knows no workload and no UVM: it is given the programs (built against the
engine), the cost table, the labels the result carries, and two hooks for the world those
programs live in (`bind` the machine, read its `counters` at the end).  Turning a workload
name and a protocol into those is `uvmsim.runs.simulate`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.machine import Analyses, Machine
from uvmsim.machine.core import running
from uvmsim.machine.failure import InputError
from uvmsim.simulate.costs import CPU_HZ, CostTable
from uvmsim.simulate.engine import TimedEngine

MAX_CPUS = 1024
"""The most CPUs a run may have (docs/simulator.md): building a machine of 100,000 CPUs takes
minutes before the first simulated cycle, which looked like a hang; the kernel's own MAXCPUS
is 255 on amd64."""


def check_cpus(n: int, option: str = "--cpus") -> None:
    """Refuse a CPU count outside 1..MAX_CPUS with one line naming the option and range."""
    if not 1 <= n <= MAX_CPUS:
        raise InputError(f"{option} {n}: accepted range is 1..{MAX_CPUS} CPUs")


def check_cycles(cycles: float | None) -> None:
    """Refuse `--cycles` nan, inf, zero or negative: nan and inf never stop the run."""
    if cycles is not None and not (math.isfinite(cycles) and cycles > 0):
        raise InputError(f"--cycles {cycles}: accepted values are finite numbers > 0")


# Analyses cost time and measure nothing: the simulator runs with them off by default.
QUIET = Analyses(
    annotations=False, annotation_reads=False, races=False, witness=False, deadlock=True
)


Progress = Callable[[int, float | None], None]
"""`progress(ops_done, fraction)`: workload operations so far and the fraction of the run
done (None when the run has no --ops or --cycles bound to measure it against)."""


class _ReportingEngine(TimedEngine):
    """A TimedEngine that calls `progress` every `every` workload operations.

    It only observes: the schedule, the statistics and so the results are the same as
    without it (tests/simulate/test_progress.py checks it).
    """

    def __init__(self, *args: Any, progress: Progress, every: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._progress = progress
        self._every = every
        self._since = 0

    def op_done(self, n: int = 1) -> None:
        super().op_done(n)
        self._since += n
        if self._since >= self._every:
            self._since = 0
            self._progress(self.ops_done, self.fraction())

    def fraction(self) -> float | None:
        """How far the run is towards its --ops or --cycles bound, whichever is nearer."""
        parts = []
        if self.max_ops:
            parts.append(self.ops_done / self.max_ops)
        m = running()
        if self.max_cycles and m is not None and m.current is not None:
            parts.append(m.current.clock / self.max_cycles)
        return min(1.0, max(parts)) if parts else None


@dataclass
class SimResult:
    """The stable JSON shape of docs/simulator.md."""

    protocol: str
    workload: str
    cpus: int
    seed: int
    cycles: float
    cpu_time: dict[str, float]
    throughput: float
    ops: int
    steps: int  # visible operations executed
    locks: dict[str, dict]
    counters: dict[str, int]
    per_cpu: list[dict] = field(default_factory=list)
    failure: str | None = None
    folded: dict[str, float] | None = None
    trace: list[dict] | None = None
    time_scale: float = 1.0  # real run / simulated run, for a scaled workload

    def time(self, scaled: bool = False) -> dict[str, float]:
        """`time(1)`'s real, user and sys seconds (sys counts spinning, as the kernel's
        accounting does), of this run or, `scaled`, of the real one it stands for."""
        k = self.time_scale if scaled else 1.0
        c = self.cpu_time
        return {
            "real": round(k * self.cycles / CPU_HZ, 6),
            "user": round(k * c["user"] / CPU_HZ, 6),
            "sys": round(k * (c["system"] + c["spin"]) / CPU_HZ, 6),
        }

    def to_json(self) -> dict:
        return {
            "protocol": self.protocol,
            "workload": self.workload,
            "cpus": self.cpus,
            "seed": self.seed,
            "cycles": round(self.cycles),
            "cpu_time": {k: round(v) for k, v in self.cpu_time.items()},
            "throughput": round(self.throughput, 3),
            "ops": self.ops,
            "steps": self.steps,
            "locks": self.locks,
            "counters": self.counters,
            "failure": self.failure,
            "time": self.time(),
            "time_scale": round(self.time_scale, 6),
            "time_scaled": self.time(scaled=True),
        }

    @property
    def spin_share(self) -> float:
        total = sum(self.cpu_time.values()) or 1
        return self.cpu_time["spin"] / total


def run_timed(
    build: Callable[[TimedEngine], list[Callable[[], Any]]],
    *,
    labels: tuple[str, str],
    cpus: int,
    costs: CostTable,
    ops: int | None = None,
    cycles: float | None = None,
    visible: int | None = None,
    seed: int = 0,
    discipline: str = "cas",
    folded: bool = False,
    trace: bool = False,
    analyses: Analyses | None = None,
    progress: Progress | None = None,
    bind: Callable[[Machine], None] | None = None,
    counters: Callable[[], dict[str, int]] | None = None,
    engine_class: type[TimedEngine] = TimedEngine,
    time_scale: float = 1.0,
) -> SimResult:
    """Run the programs `build(engine)` returns (one per CPU) until `ops` workload operations,
    `cycles` cycles or `visible` visible operations.

    `labels` is (protocol, workload) as the result names them; `bind(machine)` runs before the
    first step (e.g. to give the lock letters of the model's annotations their locks) and
    `counters()` after the last (the world's own counters, added to the result's).
    `progress`, if given, is called as the run goes (see `Progress`), last with fraction 1.0:
    the command line draws its progress bar from it.  `engine_class` lets a test observe the
    engine's decisions (a subclass must not change them).  `time_scale`: how much longer the
    real thing runs than this (scaled) run, for the `time(1)` figures of the result.
    """
    check_cpus(cpus)
    if ops is not None and ops < 1:
        raise InputError(f"--ops must be a positive integer, got {ops}")
    check_cycles(cycles)
    limits: dict[str, Any] = dict(
        discipline=discipline,
        seed=seed,
        max_ops=ops,
        max_cycles=cycles,
        max_visible=visible,
        folded=folded,
        trace=trace,
    )
    if progress is None:
        engine = engine_class(costs, **limits)
    else:
        every = max(1, ops // 200) if ops else 10
        engine = _ReportingEngine(costs, progress=progress, every=every, **limits)
    program = build(engine)
    m = Machine(engine, analyses=analyses or QUIET, max_steps=10**12)
    if bind is not None:
        bind(m)
    r = m.run(program)
    elapsed = max(c.clock for c in m.cpus)
    for c in m.cpus:
        # A CPU whose program ended (a build's last jobs, make -jN on more CPUs than N) sits
        # idle until the run does; a CPU merely behind in simulated time when --ops stopped
        # the run has not finished and is not idle.
        if c.done and c.clock < elapsed:
            engine.stats.cpus[c.index].idle += elapsed - c.clock
    total = engine.stats.total()
    result_counters = dict(engine.stats.counters)
    if counters is not None:
        result_counters.update(counters())
    done = engine.ops_done
    if progress is not None:
        progress(done, 1.0)
    protocol, workload = labels
    return SimResult(
        protocol=protocol,
        workload=workload,
        cpus=cpus,
        seed=seed,
        cycles=elapsed,
        cpu_time={
            "user": total.user,
            "system": total.system,
            "spin": total.spin,
            "idle": total.idle,
        },
        throughput=done / (elapsed / CPU_HZ) if elapsed else 0.0,
        ops=done,
        steps=r.steps,
        locks=_locks_json(engine),
        counters=result_counters,
        per_cpu=[t.to_json() for t in engine.stats.cpus],
        failure=None if r.failure is None else r.failure.message,
        folded=engine.folded,
        trace=engine.trace,
        time_scale=time_scale,
    )


def _locks_json(engine: TimedEngine) -> dict[str, dict]:
    out = {}
    for name in sorted(engine.stats.locks):
        d = engine.stats.locks[name].to_json()
        d["sites"] = {site: s.to_json() for site, s in sorted(engine.stats.sites[name].items())}
        out[name] = d
    return out
