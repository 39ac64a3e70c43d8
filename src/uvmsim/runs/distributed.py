"""Exhaustive DPOR over processes or a Dask cluster: subtrees as tasks, re-split every wave.

The exploration tree is partitioned by schedule prefixes (check/strategies/split.py, after
Simsa, Bryant and Gibson, RV 2012).  The coordinator here keeps every worker busy with a task
(`Slice`): some branches (subtrees) taken from its `Frontier`; the worker explores them with
the sequential strategy for a time slice, then hands back what it did not finish: the states
of its unfinished subtree (now shared), the branches it did not start, and what its races ask
of the shared states above its roots.  The coordinator merges each hand-back as it arrives
(which is where work is stolen: every unexplored alternative of a shared state is a branch
any worker may get) and gives the worker its next task, until nothing is left.

The union explored is a sequential exploration in another order: the traces and the failures
found are the sequential ones (tests/check/test_distributed.py checks it, also through a Dask
`LocalCluster`).  What depends on timing: the executions that end sleep-set blocked, hence
the execution count; going on past failures, the executions a failure cuts short (hence the
trace count there); and, when a run stops at its first failure, which of several failures is
reported.

A worker process runs one slice at a time (a Dask worker with several threads too): the
machine and the model keep per-process state.  Slices start short, so that the first tasks
spread the tree quickly, and double with each round of tasks up to `MAX_SLICE` seconds.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.result import CheckResult, Coverage, FailureTally
from uvmsim.check.strategies.dpor import DporSearch
from uvmsim.check.strategies.split import Branch, Frontier, Handback
from uvmsim.check.strategy import Options, explore
from uvmsim.check.target import Target
from uvmsim.machine import Failure
from uvmsim.machine.failure import InputError
from uvmsim.runs import checkpoint as checkpoint_file
from uvmsim.runs.executors import DaskCluster, InProcess, LocalPool
from uvmsim.runs.names import get_strategy

MIN_SLICE = 0.1
"""Seconds of the first wave's slices."""
MAX_SLICE = 2.0
"""Longest slice: each wave's is twice the previous one's, up to this."""
BRANCHES_PER_TASK = 64
"""Most branches given to one task (what it does not start comes back)."""
CHECKPOINT_EVERY = 30.0
"""Seconds between two saves of a checkpointed run's state."""


@dataclass(frozen=True)
class TargetMaker:
    """A picklable recipe for a target: `function(*args)`, `function` module-level (a worker
    imports it).  Equal recipes give equal targets, so a worker builds each once."""

    function: Callable[..., Target]
    args: tuple = ()

    def __call__(self) -> Target:
        return self.function(*self.args)


@dataclass(frozen=True, eq=False)
class Slice:
    """One task: explore `branches` for at most `seconds` (and `max_executions`); a task is
    itself (hashed by identity), as executors key results by task."""

    target: TargetMaker
    strategy: str
    options: Options
    branches: tuple[Branch, ...]
    seconds: float | None
    max_executions: int | None
    keep_going: bool
    key: str
    steal: int | None = None  # hand back early once the steal generation is no longer this
    steal_var: str | None = None  # a Dask cluster's: the Variable holding the generation

    def label(self) -> str:
        return f"{self.strategy} slice {self.key} ({len(self.branches)} subtrees)"


@dataclass
class SliceResult:
    coverage: Coverage
    tally: FailureTally
    first: tuple[Failure, tuple[int, ...]] | None
    handback: Handback
    seconds: float = 0.0  # wall time the worker spent on the slice
    cpu: float = 0.0  # CPU time it got meanwhile (less when other processes compete)


_RUN_LOCK = threading.Lock()
_TARGETS: dict[TargetMaker, Target] = {}
_STEAL = multiprocessing.RawValue("q", 0)
"""Work stealing for local processes: the coordinator bumps it when a worker is idle and no
branch is left to give it; every slice running then hands back after its current execution.
Shared with the pool's workers because it exists before they are forked (with the spawn start
method each process has its own, and slices just run to their time limit)."""
STEAL_POLL = 0.1
"""Seconds between two looks of a Dask worker at its cluster's steal generation."""


class _Steal:
    """How the coordinator asks the slices running to hand back: the steal generation, in
    `_STEAL` for local processes, in a Dask `Variable` on a cluster; a slice stops once the
    generation differs from the one it started with.  Nothing for `InProcess`."""

    def __init__(self, executor: Any):
        self.local = isinstance(executor, LocalPool)
        self.var: Any = None
        self.name: str | None = None
        self.generation = _STEAL.value if self.local else 0
        if isinstance(executor, DaskCluster):
            from distributed import Variable

            self.name = f"uvmsim-steal-{uuid.uuid4().hex}"
            self.var = Variable(self.name, client=executor.client)
            self.var.set(0)
        self.enabled = self.local or self.var is not None

    def ask(self) -> None:
        self.generation += 1
        if self.local:
            _STEAL.value = self.generation
        elif self.var is not None:
            self.var.set(self.generation)

    def close(self) -> None:
        if self.var is not None:
            with contextlib.suppress(Exception):  # a cluster already gone has nothing left
                self.var.delete()


def _stop_when(task: Slice) -> Callable[[], bool] | None:
    """The check a slice makes after each execution (see `_Steal`)."""
    generation = task.steal
    if generation is None:
        return None
    if task.steal_var is None:
        return lambda: _STEAL.value != generation
    from distributed import Variable, get_client

    var = Variable(task.steal_var, client=get_client())
    state = {"at": time.monotonic(), "stop": False}

    def asked() -> bool:  # a look costs a round trip to the scheduler: at most every 0.1 s
        now = time.monotonic()
        if not state["stop"] and now - state["at"] >= STEAL_POLL:
            state["at"] = now
            with contextlib.suppress(Exception):  # no answer: go on with the slice
                state["stop"] = var.get(timeout=STEAL_POLL) != generation
        return bool(state["stop"])

    return asked


def split_strategy(name: str, options: Options, branches: Any = None) -> DporSearch:
    """The strategy `name` for a split exploration; only the DPOR strategies split."""
    cls = get_strategy(name)
    if not issubclass(cls, DporSearch):
        raise InputError(
            f"strategy {name!r} does not split into subtrees; --jobs and --cluster explore "
            "exhaustively with dpor or odpor (random and pct split by executions)"
        )
    return cls(preemptions=options.preemptions, depth=options.depth, branches=branches)


def run_slice(task: Slice) -> SliceResult:
    """Explore a slice's branches (in whatever process the executor chose)."""
    with _RUN_LOCK:
        t0, c0 = time.monotonic(), time.process_time()
        target = _TARGETS.get(task.target)
        if target is None:
            target = _TARGETS[task.target] = task.target()
        strategy = split_strategy(task.strategy, task.options, task.branches)
        strategy.stop_when = _stop_when(task)
        res = explore(
            target,
            strategy,
            max_executions=task.max_executions,
            time_limit=task.seconds,
            keep_going=task.keep_going,
        )
        first = (res.failure, res.schedule) if res.failure is not None else None
        back = strategy.handback()
        return SliceResult(
            res.coverage,
            res.tally,
            first,
            back,
            time.monotonic() - t0,
            time.process_time() - c0,
        )


@dataclass
class _Run:
    """The coordinator's tallies."""

    coverage: Coverage = field(default_factory=Coverage)
    tally: FailureTally = field(default_factory=FailureTally)
    first: tuple[Failure, tuple[int, ...]] | None = None
    tasks: int = 0
    busy: float = 0.0  # worker seconds spent in slices
    cpu: float = 0.0  # worker CPU seconds

    def merge(self, r: SliceResult) -> None:
        c, m = self.coverage, r.coverage
        c.executions += m.executions
        c.traces += m.traces
        c.redundant += m.redundant
        c.pruned += m.pruned
        c.deepest = max(c.deepest, m.deepest)
        for sig, entry in r.tally.counts.items():
            if sig in self.tally.counts:
                self.tally.counts[sig]["count"] += entry["count"]
            else:
                self.tally.counts[sig] = dict(entry)
                self.tally.examples[sig] = r.tally.examples[sig]
        if self.first is None and r.first is not None:
            self.first = r.first
        self.busy += r.seconds
        self.cpu += r.cpu


def workers_of(executor: Any) -> int:
    """How many slices the executor runs at once."""
    if isinstance(executor, LocalPool):
        return executor.jobs
    if isinstance(executor, DaskCluster):
        return max(1, executor._live_workers())
    return 1


class _Dispatcher:
    """Keeps up to `n` tasks running on `executor`, whatever it is, through its public
    `run`: one thread per worker hands one task at a time to `executor.run([task], fn)` and
    queues the result, so a finished worker gets its next task at once (no wave waits for
    its slowest task).  With `InProcess` (one worker) the task runs when it is submitted."""

    def __init__(self, executor: Any, n: int, fn: Callable[[Slice], SliceResult]):
        self.executor, self.fn = executor, fn
        self.results: queue.Queue = queue.Queue()
        self.inline = isinstance(executor, InProcess)
        self.todo: queue.Queue = queue.Queue()
        self.threads = []
        if not self.inline:
            for k in range(n):
                t = threading.Thread(target=self._serve, name=f"uvmsim-dispatch-{k}", daemon=True)
                t.start()
                self.threads.append(t)

    def _serve(self) -> None:
        while True:
            task = self.todo.get()
            if task is None:
                return
            try:
                for done, result in self.executor.run([task], self.fn):
                    self.results.put((done, result, None))
            except BaseException as exc:  # the main thread raises it
                self.results.put((task, None, exc))

    def submit(self, task: Slice) -> None:
        if self.inline:
            for done, result in self.executor.run([task], self.fn):
                self.results.put((done, result, None))
        else:
            self.todo.put(task)

    def next(self) -> tuple[Slice, SliceResult]:
        """The next finished task and its result (re-raising what the executor raised)."""
        while True:
            try:
                task, result, exc = self.results.get(timeout=0.5)  # Ctrl-C gets through
            except queue.Empty:
                continue
            if exc is not None:
                raise exc
            return task, result

    def close(self) -> None:
        for _ in self.threads:
            self.todo.put(None)


def explore_split(
    target: TargetMaker,
    strategy: str,
    options: Options,
    executor: Any,
    *,
    workers: int | None = None,
    max_executions: int | None = None,
    time_limit: float | None = None,
    keep_going: bool = False,
    progress: Callable[[Coverage], None] | None = None,
    slice_seconds: tuple[float, float] = (MIN_SLICE, MAX_SLICE),
    slice_executions: int | None = None,
    stats: dict[str, float] | None = None,
    checkpoint: str | None = None,
    identity: dict | None = None,
) -> CheckResult:
    """Explore `target` with DPOR `strategy` split over `executor`'s workers (see the module
    docstring); the result as `check.strategy.explore` gives it.

    `slice_executions` caps each slice's executions (tests use it to split small programs
    into many subtrees).  `stats`, when given, is filled with `workers`, `tasks`, `busy`
    (worker seconds in slices), `cpu` (their CPU seconds), `coordinator_cpu`, `wall`.
    `checkpoint`: a file the run's state is saved to every `CHECKPOINT_EVERY` seconds and
    when it stops before the end (budget, interrupt, lost workers), and resumed from when
    it exists (runs/checkpoint.py; `identity` says which check it belongs to); removed when
    the run ends (complete, or at its first failure).
    """
    c0 = time.process_time()
    t0 = time.monotonic()
    coordinator = split_strategy(strategy, options)
    frontier = Frontier(coordinator)
    n = workers if workers is not None else workers_of(executor)
    run = _Run()
    prior = 0.0  # seconds the run took before it was resumed
    if checkpoint is not None and os.path.exists(checkpoint):
        run.coverage, run.tally, run.first = checkpoint_file.load(
            checkpoint, identity or {}, frontier
        )
        prior = run.coverage.elapsed
    cov = run.coverage
    shortest, longest = slice_seconds
    stopping = False
    running: dict[str, Slice] = {}
    saved = time.monotonic()

    def save() -> None:
        assert checkpoint is not None
        in_flight = [b for t in running.values() for b in t.branches]
        cov.elapsed = prior + time.monotonic() - t0
        checkpoint_file.save(
            checkpoint, identity or {}, frontier, in_flight, cov, run.tally, run.first
        )

    steal = _Steal(executor)
    stealing = False
    dispatcher = _Dispatcher(executor, n, run_slice)
    try:
        while True:
            while not stopping and len(running) < n and frontier:
                cap = slice_executions
                if max_executions is not None:  # what the slices running may still use
                    promised = sum(t.max_executions or 0 for t in running.values())
                    left = max_executions - cov.executions - promised
                    if left <= 0:
                        break
                    share_left = max(1, -(-left // n))
                    cap = share_left if cap is None else min(cap, share_left)
                # Share what is there among the idle workers; a busy one hands back soon.
                share = max(1, min(BRANCHES_PER_TASK, frontier.pending() // n))
                branches = frontier.take(share)
                if not branches:
                    break
                seconds = min(longest, shortest * 2 ** (run.tasks // n))
                if time_limit is not None:
                    seconds = max(0.01, min(seconds, time_limit - (time.monotonic() - t0)))
                task = Slice(
                    target,
                    strategy,
                    options,
                    tuple(branches),
                    seconds,
                    cap,
                    keep_going,
                    str(run.tasks),
                    steal.generation if steal.enabled else None,
                    steal.name,
                )
                run.tasks += 1
                running[task.key] = task
                dispatcher.submit(task)
            if not running:
                break
            if steal.enabled and len(running) < n and not frontier and not stealing:
                steal.ask()  # idle workers, nothing to give them: ask the busy ones
                stealing = True
            task, r = dispatcher.next()
            if task.steal != steal.generation:
                stealing = False
            del running[task.key]
            run.merge(r)
            frontier.add(r.handback)
            if progress is not None:
                progress(cov)
            if run.first is not None and not keep_going:
                stopping = True  # the slices running finish theirs (a few seconds at most)
            elif cov.out_of_budget(max_executions, time_limit, t0):
                stopping = True
            if checkpoint is not None and time.monotonic() - saved > CHECKPOINT_EVERY:
                save()
                saved = time.monotonic()
    except BaseException:
        if checkpoint is not None:  # interrupted: what is running is explored again later
            with contextlib.suppress(OSError):
                save()
        raise
    finally:
        dispatcher.close()
        steal.close()
    cov.pruned += frontier.counts["pruned"]
    divergences = frontier.counts["divergences"]
    cov.complete = not stopping and not frontier and divergences == 0
    cov.elapsed = prior + time.monotonic() - t0
    failure, schedule = run.first if run.first is not None else (None, ())
    local = target()
    res = CheckResult(
        strategy,
        local.describe(),
        cov,
        failure,
        schedule,
        bound=coordinator.bound(),
        tally=run.tally,
    )
    if divergences:
        res.notes.append(
            f"{strategy}: {divergences} branches abandoned because the model did not replay "
            "them as recorded; the exploration may have missed traces"
        )
    if stats is not None:
        stats.update(
            workers=n,
            tasks=run.tasks,
            busy=run.busy,
            cpu=run.cpu,
            coordinator_cpu=time.process_time() - c0,
            wall=cov.elapsed,
        )
    res_note = ""
    if checkpoint is not None:
        if frontier and (keep_going or run.first is None):
            save()
            res_note = f"checkpoint {checkpoint}: saved; run the same command again to go on"
        else:
            checkpoint_file.remove(checkpoint)
    span = n * (cov.elapsed - prior) or 1.0
    if res_note:
        res.notes.append(res_note)
    res.notes.append(
        f"explored in {run.tasks} subtree slices over {n} "
        f"{'worker' if n == 1 else 'workers'} (busy {100 * run.busy / span:.0f}% of the "
        f"time, on a CPU {100 * run.cpu / span:.0f}%)"
    )
    return res
