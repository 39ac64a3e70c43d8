"""Executing one run of a sweep: a pure function of its `RunSpec`.

`execute_run` is what the executors ship to a process-pool worker or a Dask worker.  Its
`metrics` depend only on the run's inputs (never on wall time, the host or the order runs
are executed in), which is what lets a sweep run locally and on a cluster store the same
results, and a resumed sweep complete an interrupted one without a trace.

The model keeps kernel globals (`uvmexp`, the page arrays, the machine) at module level, as
the kernel does; two runs must therefore never overlap in one process.  Process-pool workers
run one task at a time anyway; Dask workers may have several threads, so runs take
`_ONE_RUN_PER_PROCESS` first.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from uvmsim import __version__
from uvmsim.check.result import CheckResult
from uvmsim.check.strategy import Options
from uvmsim.check.token import failure_signature, switches_digest
from uvmsim.runs.check import CheckSpec, check_protocol, counterexample, run_check
from uvmsim.runs.names import get_protocol
from uvmsim.runs.simulate import simulate
from uvmsim.scenarios.findings import classify
from uvmsim.sweep.spec import FUZZ_TARGET, SAMPLED, RunSpec

_ONE_RUN_PER_PROCESS = threading.Lock()


def execute_run(run: RunSpec) -> dict[str, Any]:
    """Run `run` and return its row: metrics, failure, token, versions, elapsed seconds."""
    with _ONE_RUN_PER_PROCESS:
        t0 = time.monotonic()
        out = _simulate(run) if run.kind == "simulate" else _explore(run)
        out["elapsed"] = time.monotonic() - t0
        out["uvmsim_version"] = __version__
        return out


def _protocol(run: RunSpec) -> Any:
    """The run's protocol, refusing one whose definition changed since the spec was read."""
    proto = get_protocol(run.protocol)
    if switches_digest(proto) != run.protocol_digest:
        raise RuntimeError(
            f"protocol {run.protocol!r} changed since the sweep was planned (switch digest "
            f"{switches_digest(proto)}, expected {run.protocol_digest}); rerun the sweep"
        )
    return proto


def _simulate(run: RunSpec) -> dict[str, Any]:
    p = run.param
    r = simulate(
        run.target,
        _protocol(run),
        run.cpus or 1,
        ops=p["ops"],
        cycles=p["cycles"],
        seed=run.seed,
        options=json.loads(p["options"]),
        discipline=p["discipline"],
    )
    metrics = r.to_json()
    for key in ("protocol", "workload", "cpus", "seed", "failure"):
        metrics.pop(key)
    return {
        "metrics": metrics,
        "failure_kind": "run-failed" if r.failure else None,
        "failure": r.failure,
        "token": None,
    }


def _check_spec(run: RunSpec) -> CheckSpec:
    p = run.param
    return CheckSpec(
        protocol=run.protocol,
        scenario=run.target,
        sizes=tuple(sorted(run.sizes.items())),
        strategy=run.strategy or "dpor",
        preemptions=p.get("preemptions"),
        max_executions=p.get("max_executions"),
        pct_depth=p.get("pct_depth", 2),
        max_steps=p["max_steps"],
        minimize=p["minimize"],
    )


def _explore(run: RunSpec) -> dict[str, Any]:
    if run.strategy == FUZZ_TARGET:
        return _fuzz(run)
    proto = _protocol(run)
    spec = _check_spec(run)
    spec.validate()
    if run.strategy in SAMPLED:
        assert run.seed_last is not None
        # engine seed of execution i is i: a chunk covers exactly seeds seed..seed_last
        res = check_protocol(
            proto,
            run.target,
            strategy=run.strategy,
            options=Options(
                pct_depth=spec.pct_depth, seed=0, start=run.seed, stop=run.seed_last + 1
            ),
            keep_going=True,
            sizes=run.sizes,
        )
    else:
        res = run_check(spec)
        if res.failure is not None:
            res.tally.add(res.failure, res.schedule, None)
    return _explore_row(spec, res)


def _explore_row(spec: CheckSpec, res: CheckResult) -> dict[str, Any]:
    """Coverage and every distinct failure, each with a (minimized) replay token.

    The row's own failure and token are those of the run's first failing execution.
    """
    cov = res.coverage
    failures = {}
    for sig in sorted(res.tally.counts):
        failure, schedule = res.tally.examples[sig]
        one = CheckResult(res.strategy, res.target, cov, failure, schedule)
        cx = counterexample(spec, one)
        failures[sig] = {
            **res.tally.counts[sig],
            "sites": list(failure.sites),
            "finding": classify(failure),  # a recorded finding (docs/findings.md), or None
            "token": cx.token,
            "counterexample_steps": len(cx.explanation.steps),
        }
    metrics = {
        "executions": cov.executions,
        "traces": cov.traces,
        "redundant": cov.redundant,
        "pruned": cov.pruned,
        "deepest": cov.deepest,
        "complete": cov.complete,
        "stopped_by": cov.stopped_by,
        "failing_executions": sum(t["count"] for t in res.tally.counts.values()),
        "failures": failures,
    }
    row: dict[str, Any] = {"metrics": metrics, "failure_kind": None, "failure": None, "token": None}
    if res.failure is not None:
        first = failures[failure_signature(res.failure)]
        row.update(failure_kind=first["kind"], failure=first["message"], token=first["token"])
    return row


def _fuzz(run: RunSpec) -> dict[str, Any]:
    """A [[fuzz]] campaign as an explore row: executions, and per failure group (finding
    label or signature) the programs that showed it, the first one's index as `first_seed`
    and the minimized scenario's replay token (`uvmsim fuzz` prints the same)."""
    from uvmsim.runs.fuzz import FuzzSpec, fuzz, minimize_group

    _protocol(run)
    p = run.param
    spec = FuzzSpec(
        protocol=run.protocol,
        programs=p["programs"],
        seed=run.seed,
        pct=p["pct"],
        random=p["random"],
        faults=p["faults"],
    )
    res = fuzz(spec)
    failures = {}
    for label, g in res.groups.items():
        if p["minimize"]:
            minimize_group(spec, g)
        failure = g.explanation.failure if g.explanation else g.first.failure
        failures[label] = {
            "count": g.programs_failed,
            "kind": failure.kind,
            "message": failure.message,
            "sites": list(failure.sites),
            "finding": classify(failure),
            "first_seed": g.program_index,
            "token": g.token or None,
            "operations": g.minimized.size() if g.minimized else g.first.program.size(),
            "cpus": len((g.minimized or g.first.program).cpus),
        }
    metrics = {
        "executions": res.executions,
        "programs": res.programs,
        "stalls": res.stalls,
        "corpus": len(res.corpus),
        "features": len(res.features),
        "complete": True,  # every program of the budget ran
        "stopped_by": "programs",
        "failing_executions": sum(g.programs_failed for g in res.groups.values()),
        "failures": failures,
    }
    row: dict[str, Any] = {"metrics": metrics, "failure_kind": None, "failure": None, "token": None}
    if failures:
        first = min(failures.values(), key=lambda f: f["first_seed"])
        row.update(failure_kind=first["kind"], failure=first["message"], token=first["token"])
    return row
