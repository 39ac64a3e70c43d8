"""Where runs execute: this process, a local process pool, or a Dask cluster.

Each executor takes the runs still to do and yields `(run, row)` as runs finish, in whatever
order they finish; the caller stores each row as it arrives.  Results do not depend on the
executor: a run is a pure function of its `RunSpec` (see `runs.execute_run`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from uvmsim import __version__
from uvmsim.machine.failure import InputError
from uvmsim.sweep.runs import execute_run
from uvmsim.sweep.spec import RunSpec


class RunCrashed(Exception):
    """A run raised a Python exception: a bug in uvmsim or in a user's protocol module."""

    def __init__(self, run: RunSpec, exc: BaseException):
        super().__init__(f"run '{run.label()}' crashed: {type(exc).__name__}: {exc}")
        self.run = run


def _result(run: RunSpec, fut: Any) -> dict[str, Any]:
    try:
        return fut.result()
    except Exception as exc:
        raise RunCrashed(run, exc) from exc


class InProcess:
    """Runs one after the other in this process (`--jobs 1`)."""

    description = "this process"

    def run(self, runs: list[RunSpec]) -> Iterator[tuple[RunSpec, dict[str, Any]]]:
        for r in runs:
            try:
                row = execute_run(r)
            except Exception as exc:
                raise RunCrashed(r, exc) from exc
            yield r, row

    def close(self) -> None:
        pass


class LocalPool:
    """A pool of `jobs` worker processes on this machine (the default executor).

    At most `2 * jobs` runs are queued at a time, so an interrupt loses at most the runs in
    flight, and the store sees results as soon as they exist.
    """

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.description = f"{jobs} local processes"
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method))

    def run(self, runs: list[RunSpec]) -> Iterator[tuple[RunSpec, dict[str, Any]]]:
        todo = iter(enumerate(runs))
        pending: dict[Future, tuple[int, RunSpec]] = {}

        def refill() -> None:
            while len(pending) < 2 * self.jobs:
                item = next(todo, None)
                if item is None:
                    return
                pending[self.pool.submit(execute_run, item[1])] = item

        refill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: pending[f][0]):
                _, r = pending.pop(fut)
                yield r, _result(r, fut)
            refill()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _worker_version() -> str:
    import uvmsim

    return uvmsim.__version__


class DaskCluster:
    """Runs submitted to the Dask scheduler at `address` (`--cluster tcp://HOST:PORT`).

    The workers must have this uvmsim version installed (checked on connection), and a
    protocol given as `file.py:NAME` must exist at the same path on every worker.
    """

    def __init__(self, address: str, timeout: float = 10.0):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - dask[distributed] is a dependency
            raise InputError("--cluster needs dask[distributed] installed") from None
        if not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            raise InputError(
                f"--cluster {address!r}: expected a scheduler address like tcp://HOST:PORT"
            )
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"--cluster {address}: cannot connect to the scheduler: {exc}"
            ) from None
        self.description = f"Dask cluster {address}"
        versions = self.client.run(_worker_version)
        if not versions:
            self.client.close()
            raise InputError(f"--cluster {address}: the cluster has no workers")
        wrong = {w: v for w, v in versions.items() if v != __version__}
        if wrong:
            self.client.close()
            worker, version = next(iter(sorted(wrong.items())))
            raise InputError(
                f"--cluster {address}: worker {worker} runs uvmsim {version}, this is "
                f"uvmsim {__version__}; install the same version on every worker"
            )

    def run(self, runs: list[RunSpec]) -> Iterator[tuple[RunSpec, dict[str, Any]]]:
        from distributed import as_completed

        by_key = {r.key: r for r in runs}
        # pure=False: a key is a run, but a rerun after a crash must run it again
        futures = [
            self.client.submit(execute_run, r, key=f"uvmsim-run-{r.key}", pure=False) for r in runs
        ]
        try:
            for fut in as_completed(futures, loop=self.client.loop):
                run = by_key[fut.key.removeprefix("uvmsim-run-")]
                yield run, _result(run, fut)
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self.client.close()


def make_executor(jobs: int | None, cluster: str | None) -> Any:
    if cluster is not None:
        if jobs is not None:
            raise InputError("give --jobs (local processes) or --cluster (Dask), not both")
        return DaskCluster(cluster)
    n = jobs if jobs is not None else (os.cpu_count() or 1)
    if n < 1:
        raise InputError(f"--jobs must be at least 1, got {n}")
    return InProcess() if n == 1 else LocalPool(n)
