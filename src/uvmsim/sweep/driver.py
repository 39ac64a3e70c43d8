"""Driving a sweep: skip what the store already holds, run the rest, store each as it ends.

Another sweep may be writing to the same store at the same time (two specs sharing runs).
Runs are therefore looked up in the store again just before each is handed to a worker, and
storing is idempotent: a run both sweeps finished is computed twice at worst, stored once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from uvmsim.sweep import runs as sweep_runs
from uvmsim.sweep.spec import RunSpec, SweepSpec
from uvmsim.sweep.store import Store


@dataclass
class SweepProgress:
    """What a progress display needs: counts so far (runs and failing runs)."""

    total: int
    skipped: int = 0  # already in the store (when the sweep started, or stored by another)
    done: int = 0  # finished by this invocation
    failed: int = 0  # runs (stored or new) with a failure
    executions: int = 0  # checker executions finished by this invocation
    failures: dict[str, int] = field(default_factory=dict)  # failure kind -> runs

    @property
    def finished(self) -> int:
        return self.skipped + self.done


def run_sweep(
    spec: SweepSpec,
    store: Store,
    executor: Any,
    progress: Callable[[SweepProgress], None] | None = None,
) -> SweepProgress:
    """Run every run of `spec` that `store` does not hold yet; return the final counts."""
    finished = store.finished_keys()
    todo = [r for r in spec.runs if r.key not in finished]
    state = SweepProgress(total=len(spec.runs), skipped=len(spec.runs) - len(todo))
    keys = {r.key for r in spec.runs}
    state.failed = len(store.failed_keys() & keys)
    if progress:
        progress(state)

    def not_stored_yet() -> Iterator[RunSpec]:
        # Executors take runs lazily (a local pool a few at a time): a run another sweep on
        # the same store has finished meanwhile is skipped here rather than run again.
        for run in todo:
            if store.has(run.key):
                state.skipped += 1
                if progress:
                    progress(state)
                continue
            yield run

    # looked up on the module at call time, so a test can stand in for it
    for run, row in executor.run(not_stored_yet(), sweep_runs.execute_run):
        store.record(run, row, spec.name)
        state.done += 1
        if run.kind == "explore":
            state.executions += row["metrics"]["executions"]
        if row["failure"] is not None:
            state.failed += 1
            kind = row["failure_kind"] or "failure"
            state.failures[kind] = state.failures.get(kind, 0) + 1
        if progress:
            progress(state)
    return state
