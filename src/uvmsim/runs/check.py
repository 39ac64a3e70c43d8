"""One entry point for every strategy, plus what follows a failure (minimize, explain, token).

`run_check` builds the scenario target and runs the chosen strategy within its bounds (random
and PCT runs over several processes or a Dask cluster with `jobs`/`cluster`, through
`runs.executors`, split by execution index; DPOR and optimal DPOR split their exploration
tree into subtrees, `runs.distributed`); when something fails, `counterexample` shrinks it,
replays it with full recording and encodes its replay token.  Sampled results are
deterministic for the same arguments: with several jobs, executions are split by index and
the failure reported is the one of the lowest index, exactly as with one.  A split DPOR run
explores the same traces and finds the same failures as one process; its execution count
(blocked executions) and, when several failures exist, which one it stops at depend on
timing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvmsim.check import token as tok
from uvmsim.check.minimize import Minimized, minimize
from uvmsim.check.report import Explanation, explain
from uvmsim.check.result import CheckResult, Coverage
from uvmsim.check.strategies.dpor import DporSearch
from uvmsim.check.strategy import Options, Strategy, explore
from uvmsim.machine import Analyses
from uvmsim.machine.failure import InputError
from uvmsim.output_files import check_output_file
from uvmsim.protocols import Protocol
from uvmsim.runs.distributed import TargetMaker, explore_split
from uvmsim.runs.executors import MAX_JOBS, make_executor
from uvmsim.runs.names import get_protocol, get_scenario, get_strategy
from uvmsim.runs.target import ScenarioTarget


@dataclass(frozen=True)
class CheckSpec:
    """Everything that determines a check (and, with a schedule, a replay)."""

    protocol: str
    scenario: str
    strategy: str = "dpor"
    sizes: tuple[tuple[str, int], ...] = ()  # the scenario's sizes given (cpus, pages, ops, ...)
    preemptions: int | None = None
    depth: int | None = None
    pct_depth: int = 2
    max_executions: int | None = None
    time_limit: float | None = None
    seed: int = 0
    jobs: int = 1
    cluster: str | None = None  # a Dask scheduler address: runs there instead of `jobs`
    checkpoint: str | None = None  # dpor/odpor: save the run's state there, resume from it
    analyses: tuple[tuple[str, bool], ...] = ()
    max_steps: int = 20_000
    reduce: bool = False  # covered accesses are not scheduling points
    minimize: bool = True

    def validate(self) -> None:
        get_strategy(self.strategy)
        get_scenario(self.scenario, dict(self.sizes))
        for name, value in (
            ("preemptions", self.preemptions),
            ("depth", self.depth),
            ("max-executions", self.max_executions),
        ):
            if value is not None and value < 0:
                raise InputError(f"--{name} must be >= 0, got {value}")
        if self.max_executions == 0:
            raise InputError("--max-executions must be at least 1")
        if self.time_limit is not None and not (
            math.isfinite(self.time_limit) and self.time_limit > 0
        ):
            raise InputError(
                f"--time-limit must be a positive, finite number of seconds, got {self.time_limit}"
            )
        if not 1 <= self.jobs <= MAX_JOBS:
            raise InputError(f"--jobs must be between 1 and {MAX_JOBS}, got {self.jobs}")
        if self.cluster is not None and self.jobs != 1:
            raise InputError("give --jobs (local processes) or --cluster (Dask), not both")
        parallel = self.jobs > 1 or self.cluster is not None
        cls = get_strategy(self.strategy)
        if self.checkpoint is not None:
            if not issubclass(cls, DporSearch):
                raise InputError(
                    f"--checkpoint: strategy {self.strategy!r} does not keep one; dpor and odpor do"
                )
            check_output_file(self.checkpoint, "--checkpoint")
        if parallel and not cls.sampled and not issubclass(cls, DporSearch):
            raise InputError(
                f"--jobs/--cluster: strategy {self.strategy!r} runs in one process; split runs "
                "are for dpor and odpor (subtrees) and random and pct (executions)"
            )
        if not 1 <= self.pct_depth <= 10:
            raise InputError(f"--pct-depth must be between 1 and 10, got {self.pct_depth}")
        if not 1 <= self.max_steps <= tok.MAX_STEPS:
            raise InputError(
                f"--max-steps must be between 1 and {tok.MAX_STEPS}, got {self.max_steps}"
            )


def make_target(spec: CheckSpec) -> ScenarioTarget:
    protocol = get_protocol(spec.protocol)
    scenario = get_scenario(spec.scenario, dict(spec.sizes))
    analyses = Analyses(**dict(spec.analyses))
    return ScenarioTarget(
        scenario,
        protocol,
        analyses=analyses,
        max_steps=spec.max_steps,
        schedule_covered=not spec.reduce,
    )


def make_options(spec: CheckSpec, start: int = 0, stop: int | None = None) -> Options:
    """The strategy options of `spec` (sampled strategies run executions start .. stop-1, by
    default all of `max_executions`)."""
    return Options(
        preemptions=spec.preemptions,
        depth=spec.depth,
        pct_depth=spec.pct_depth,
        seed=spec.seed,
        start=start,
        stop=(spec.max_executions or 1000) if stop is None else stop,
    )


def make_strategy(spec: CheckSpec, start: int = 0, stop: int | None = None) -> Strategy:
    """The strategy `spec` names, configured from its options."""
    return get_strategy(spec.strategy).from_options(make_options(spec, start, stop))


@dataclass(frozen=True)
class SampledChunk:
    """Executions `start .. stop-1` of a sampled check: one task for an executor."""

    spec: CheckSpec
    start: int
    stop: int

    @property
    def key(self) -> str:
        return f"{self.spec.strategy}-{self.spec.seed}-{self.start}-{self.stop}"

    def label(self) -> str:
        s = self.spec
        return (
            f"{s.strategy} executions {self.start}..{self.stop - 1} of {s.scenario} on {s.protocol}"
        )


def run_chunk(chunk: SampledChunk) -> CheckResult:
    """Run one chunk (in whatever process the executor chose)."""
    spec = chunk.spec
    return explore(make_target(spec), make_strategy(spec, chunk.start, chunk.stop))


def _run_sampled(spec: CheckSpec, progress: Callable[[Coverage], None] | None) -> CheckResult:
    """Random walk or PCT over `max_executions` executions, in chunks, on `jobs` processes
    (the sweep's executors).  Chunks run in waves of `jobs` and are merged in index order, so
    the failure reported is the lowest-indexed one, as with one process."""
    total = spec.max_executions or 1000
    chunk = max(50, min(500, total // max(1, spec.jobs * 4)))
    ranges = [(s, min(total, s + chunk)) for s in range(0, total, chunk)]
    cov = Coverage()
    t0 = time.monotonic()
    merged: CheckResult | None = None
    executor = _executor(spec)
    try:
        for wave in range(0, len(ranges), spec.jobs):
            batch = [SampledChunk(spec, a, b) for a, b in ranges[wave : wave + spec.jobs]]
            results = dict(executor.run(batch, run_chunk))
            for part in batch:
                r = results[part]
                cov.executions += r.coverage.executions
                cov.traces += r.coverage.traces
                cov.deepest = max(cov.deepest, r.coverage.deepest)
                if merged is None or (merged.failure is None and r.failure is not None):
                    merged = r
                if r.failure is not None:
                    break
            if progress:
                progress(cov)
            if merged is not None and merged.failure is not None:
                break
            if cov.out_of_budget(None, spec.time_limit, t0):
                break
    finally:
        executor.close()
    cov.elapsed = time.monotonic() - t0
    assert merged is not None
    merged.coverage = cov
    if merged.failure is None and cov.stopped_by is None:
        merged.notes.append(
            f"sampled {cov.executions} executions (seeds {spec.seed}.."
            f"{spec.seed + cov.executions - 1}): not exhaustive"
        )
    return merged


def check_protocol(
    protocol: Protocol,
    scenario: str,
    *,
    strategy: str = "dpor",
    options: Options | None = None,
    analyses: Analyses | None = None,
    max_executions: int | None = None,
    keep_going: bool = False,
    sizes: dict[str, int] | None = None,
) -> CheckResult:
    """Explore `scenario` (grown to `sizes`) on a protocol object (a variant or a mutant no
    name resolves to): the door for faces that build protocols themselves (review's controls
    and mutants, the sweep's sampled runs)."""
    target = ScenarioTarget(get_scenario(scenario, sizes), protocol, analyses=analyses)
    return explore(
        target,
        get_strategy(strategy).from_options(options or Options()),
        max_executions=max_executions,
        keep_going=keep_going,
    )


def _executor(spec: CheckSpec) -> Any:
    """Local processes (`jobs`) or the Dask cluster `spec` names."""
    if spec.cluster is not None:
        return make_executor(None, spec.cluster)
    return make_executor(spec.jobs, None)


def identity(spec: CheckSpec) -> dict[str, Any]:
    """What makes two checks explore the same tree (a checkpoint belongs to one of them)."""
    sizes = {"sizes": dict(spec.sizes)} if spec.sizes else {}  # absent: checkpoints of old
    return {
        **sizes,
        "protocol": spec.protocol,
        "switches": tok.switches_digest(get_protocol(spec.protocol)),
        "scenario": spec.scenario,
        "strategy": spec.strategy,
        "preemptions": spec.preemptions,
        "depth": spec.depth,
        "analyses": dict(spec.analyses),
        "max_steps": spec.max_steps,
        "reduce": spec.reduce,
    }


def _run_split(spec: CheckSpec, progress: Callable[[Coverage], None] | None) -> CheckResult:
    """DPOR over `jobs` processes or a Dask cluster: subtrees of one exploration tree (also
    in this process, for a checkpointed run)."""
    executor = _executor(spec)
    try:
        return explore_split(
            TargetMaker(make_target, (spec,)),
            spec.strategy,
            make_options(spec),
            executor,
            max_executions=spec.max_executions,
            time_limit=spec.time_limit,
            progress=progress,
            checkpoint=spec.checkpoint,
            identity=identity(spec),
        )
    finally:
        executor.close()


def run_check(spec: CheckSpec, progress: Callable[[Coverage], None] | None = None) -> CheckResult:
    """Run the strategy of `spec` on its scenario and protocol."""
    spec.validate()
    strategy = make_strategy(spec)
    if strategy.sampled:
        return _run_sampled(spec, progress)
    if spec.jobs > 1 or spec.cluster is not None or spec.checkpoint is not None:
        return _run_split(spec, progress)
    return explore(
        make_target(spec),
        strategy,
        max_executions=spec.max_executions,
        time_limit=spec.time_limit,
        progress=progress,
    )


@dataclass
class Counterexample:
    minimized: Minimized | None
    explanation: Explanation
    token: str


def counterexample(spec: CheckSpec, res: CheckResult) -> Counterexample:
    """Minimize (if asked), explain and tokenize the failure of `res`."""
    target = make_target(spec)
    failure, schedule = res.failure, res.schedule
    mini = None
    if spec.minimize:
        mini = minimize(target, failure, schedule)
        failure, schedule = mini.failure, mini.schedule
    ex = explain(target, schedule)
    token = make_token(spec, schedule, ex.failure)
    return Counterexample(mini, ex, token)


def make_token(spec: CheckSpec, schedule: tuple[int, ...], failure: Any) -> str:
    protocol = get_protocol(spec.protocol)
    # A program's scenario (a file, a generated program) travels as the program itself, so
    # that the token replays without the file.
    scenario = make_target(spec).scenario
    return tok.encode(
        protocol=protocol,
        protocol_spec=spec.protocol,
        scenario=scenario.source or spec.scenario,
        sizes=scenario.given(),
        analyses=dict(spec.analyses),
        max_steps=spec.max_steps,
        schedule_covered=not spec.reduce,
        schedule=schedule,
        failure=failure,
    )


def is_protocol_file(spec: str) -> bool:
    """True when a protocol spec names user code (`file.py:NAME`, `package.module:NAME`)."""
    return ":" in spec


def replay(
    token: str, protocol: str | None = None
) -> tuple[CheckSpec, CheckResult, Explanation, bool]:
    """Re-run a token: (spec, result, explanation, whether the same failure came back).

    A token that names a user's protocol file is not enough to import (run) that file: the
    user must name it again as `protocol`, so pasting a token never executes code the user
    did not choose.  The token's switch digest must match what was loaded.
    """
    doc = tok.decode(token)
    named = doc["protocol"]
    if is_protocol_file(named):
        if protocol is None:
            raise InputError(
                f"replay token: it names the protocol file {named!r}; uvmsim does not import a "
                f"file named by a token: pass it again with --protocol {named}"
            )
        if protocol != named:
            raise InputError(f"replay token: it was made with protocol {named!r}, not {protocol!r}")
    elif protocol is not None and protocol != named:
        raise InputError(f"replay token: it was made with protocol {named!r}, not {protocol!r}")
    proto = get_protocol(named)
    if tok.switches_digest(proto) != doc["switches"]:
        raise InputError(
            f"replay token: protocol {named!r} is not the one the token "
            "was made with (its switches changed)"
        )
    analyses = doc["analyses"]
    known = set(Analyses.__dataclass_fields__)
    if not set(analyses) <= known:
        raise InputError(
            f"replay token: field 'analyses' names unknown analyses; accepted: "
            f"{', '.join(sorted(known))}"
        )
    sizes = tuple(sorted(doc["sizes"].items()))
    try:
        get_scenario(doc["scenario"], dict(sizes))
    except InputError as exc:
        raise InputError(f"replay token: {exc}") from None
    spec = CheckSpec(
        protocol=named,
        scenario=doc["scenario"],
        sizes=sizes,
        strategy="dpor",
        analyses=tuple(sorted(analyses.items())),
        max_steps=doc["max_steps"],
        reduce=not doc["covered"],
        minimize=False,
    )
    target = make_target(spec)
    schedule = doc["schedule"]
    ex = explain(target, schedule)
    cov = Coverage(executions=1, traces=1, deepest=len(schedule), complete=True)
    res = CheckResult("replay", target.describe(), cov, ex.failure, schedule)
    same = tok.failure_signature(ex.failure) == doc["failure"]
    return spec, res, ex, same
