"""Where tasks execute: this process, a local process pool, or a Dask cluster.

`executor.run(tasks, fn)` calls `fn(task)` for every task and yields `(task, result)` as they
finish, in whatever order they finish.  `fn` must be a module-level function (a worker imports
it) and a task must be picklable and say what it is (`Task`: a `key`, unique and stable, and a
`label()` for messages).  Sweeps hand their runs over (`sweep.runs.execute_run`), `uvmsim
check -j` its chunks of sampled executions (`runs.check`); results never depend on the
executor, since each task is a pure function of itself.

Neither executor may hang or leave processes behind:

- local pool workers die with the sweep process, however it ends: `close` terminates them
  (an interrupt does not wait for the runs in flight), and each worker also watches its
  parent (PR_SET_PDEATHSIG on Linux, a polling thread everywhere), so a SIGKILLed sweep
  leaves no worker blocked forever on a queue nobody feeds;
- a `--cluster` address is checked to be a Dask scheduler (its handshake) within a few
  seconds before the Dask client, which would wait forever on a silent port, connects; a
  cluster whose workers are all gone is waited for only `worker_timeout` seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import math
import multiprocessing
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from uvmsim import __version__
from uvmsim.machine.failure import InputError


class Task(Protocol):
    """What an executor runs: picklable, with a stable unique `key` and a `label()`."""

    key: str

    def label(self) -> str: ...


T = TypeVar("T", bound=Task)
R = TypeVar("R")

MAX_JOBS = 256
"""Largest --jobs: more local processes than this is a typo, not a machine."""
CONNECT_TIMEOUT = 5.0
"""Seconds to connect to a --cluster address and to receive the scheduler's handshake."""
WORKER_TIMEOUT = 60.0
"""Default --worker-timeout: seconds a Dask sweep waits while no worker is alive."""
DASK_PORT = 8786


class RunCrashed(Exception):
    """A task raised a Python exception: a bug in uvmsim or in a user's protocol module."""

    def __init__(self, run: Task, exc: BaseException):
        super().__init__(f"run '{run.label()}' crashed: {type(exc).__name__}: {exc}")
        self.run = run


class ExecutorLost(Exception):
    """The runs could not go on: the workers died or the cluster went away (one line)."""


def _warn(text: str) -> None:
    print(f"uvmsim: warning: {text}", file=sys.stderr, flush=True)


class InProcess:
    """Runs one after the other in this process (`--jobs 1`)."""

    description = "this process"

    def run(self, runs: Iterable[T], fn: Callable[[T], R]) -> Iterator[tuple[T, R]]:
        for r in runs:
            try:
                row = fn(r)
            except Exception as exc:
                raise RunCrashed(r, exc) from exc
            yield r, row

    def close(self) -> None:
        pass


# -- local processes -------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Pool worker initializer: ignore Ctrl-C (the sweep handles it) and die with `parent`.

    The kernel's PR_SET_PDEATHSIG kills the worker when the sweep process dies, however it
    dies; a thread polling getppid() does the same (within half a second) where prctl is
    missing.  Both matter only when the sweep could not terminate its workers itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog below suffices
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watchdog() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watchdog, name="uvmsim-parent-watchdog", daemon=True).start()


class LocalPool:
    """A pool of `jobs` worker processes on this machine (the default executor).

    At most `2 * jobs` runs are queued at a time, so an interrupt loses at most the runs in
    flight, and the store sees results as soon as they exist.
    """

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.description = f"{jobs} local processes"
        self._finished = self._closed = False
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.pool = ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context(method),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        # Start the workers now, from this (the main) thread and before a progress display
        # starts its own thread: PR_SET_PDEATHSIG follows the thread that forked a worker.
        try:
            self.pool.submit(int).result()
        except BaseException:
            self.close()
            raise

    def run(self, runs: Iterable[T], fn: Callable[[T], R]) -> Iterator[tuple[T, R]]:
        todo = iter(enumerate(runs))
        pending: dict[Future, tuple[int, T]] = {}

        def refill() -> None:
            while len(pending) < 2 * self.jobs:
                item = next(todo, None)
                if item is None:
                    return
                try:
                    pending[self.pool.submit(fn, item[1])] = item
                except BrokenProcessPool:
                    raise ExecutorLost(
                        "a local worker process died (killed, or out of memory?)"
                    ) from None

        refill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: pending[f][0]):
                _, r = pending.pop(fut)
                yield r, self._result(r, fut)
            refill()
        self._finished = True

    @staticmethod
    def _result(run: T, fut: Future) -> Any:
        try:
            return fut.result()
        except BrokenProcessPool:
            raise ExecutorLost(
                f"a local worker process died while running '{run.label()}' (killed, or out "
                "of memory?)"
            ) from None
        except Exception as exc:
            raise RunCrashed(run, exc) from exc

    def close(self) -> None:
        """Stop the pool; unless every run finished, kill the workers rather than wait."""
        if self._closed:
            return
        self._closed = True
        if self._finished:
            self.pool.shutdown(wait=True)
            return
        # An interrupt, a crash or an error: the runs in flight are abandoned (they are not
        # stored, a rerun does them), and nothing waits for them to end.  There is no public
        # API for this before Python 3.14 (ProcessPoolExecutor.kill_workers).
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(5)


# -- Dask ------------------------------------------------------------------------------------


def _worker_version() -> str:
    import uvmsim

    return uvmsim.__version__


def _host_port(address: str) -> tuple[str, int]:
    """(host, port) of a tcp:// address; the port defaults to Dask's 8786."""
    rest = address.split("://", 1)[1].rstrip("/")
    if rest.startswith("["):  # [IPv6]:port
        host, _, port = rest[1:].partition("]")
        port = port.removeprefix(":")
    elif rest.count(":") == 1:
        host, _, port = rest.partition(":")
    else:
        host, port = rest, ""
    if not host:
        raise InputError(f"--cluster {address}: no host; expected tcp://HOST:PORT")
    if not port:
        return host, DASK_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--cluster {address}: bad port {port!r}; expected tcp://HOST:PORT")
    return host, int(port)


def probe_scheduler(address: str, timeout: float) -> None:
    """Refuse a tcp:// address that does not answer like a Dask scheduler within `timeout`.

    A Dask scheduler sends its handshake (a length-prefixed msgpack document naming its
    compression and pickle protocol) as soon as a connection is accepted.  A port of anything
    else (an HTTP server, a silent service) sends nothing or something else; the Dask client
    itself would wait forever on it, or try to allocate what it takes for a length.
    """
    host, port = _host_port(address)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(
            f"--cluster {address}: cannot connect ({reason}); is a Dask scheduler running "
            "there (dask scheduler)?"
        ) from None
    deadline = time.monotonic() + timeout
    data = b""
    try:
        with sock:
            while True:
                if len(data) >= 8:
                    (size,) = struct.unpack("<Q", data[:8])
                    if not 0 < size < 1 << 20:
                        break  # not a Dask frame length
                    if len(data) >= 8 + size:
                        break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:  # a timeout or a reset: judged on what arrived
        pass
    if b"pickle-protocol" in data or b"compression" in data:
        return
    said = f"it sent {data[:24]!r}" if data else f"it sent nothing within {timeout:g} s"
    raise InputError(
        f"--cluster {address}: not a Dask scheduler ({said}); give the address `dask "
        "scheduler` prints, e.g. tcp://10.0.0.5:8786"
    )


class DaskCluster:
    """Runs submitted to the Dask scheduler at `address` (`--cluster tcp://HOST:PORT`).

    The workers must have this uvmsim version installed (checked on connection), and a
    protocol given as `file.py:NAME` must exist at the same path on every worker.  While no
    worker is alive the sweep warns and waits, at most `worker_timeout` seconds in a row.
    """

    def __init__(
        self,
        address: str,
        timeout: float | None = None,
        worker_timeout: float = WORKER_TIMEOUT,
        warn: Callable[[str], None] = _warn,
    ):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - dask[distributed] is a dependency
            raise InputError("--cluster needs dask[distributed] installed") from None
        if not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            raise InputError(
                f"--cluster {address!r}: expected a scheduler address like tcp://HOST:PORT"
            )
        self.address, self.worker_timeout, self.warn = address, worker_timeout, warn
        timeout = CONNECT_TIMEOUT if timeout is None else timeout
        if address.startswith("tcp://"):
            probe_scheduler(address, timeout)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:  # the boundary: whatever the client raised, in one line
            raise InputError(
                f"--cluster {address}: cannot connect to the scheduler: {type(exc).__name__}: {exc}"
            ) from None
        self.description = f"Dask cluster {address}"
        try:
            self._check_workers()
        except BaseException:
            self.close()
            raise

    def _check_workers(self) -> None:
        if not self._live_workers():
            self.warn(
                f"no Dask worker has joined {self.address} yet; waiting up to "
                f"{self.worker_timeout:g} s (--worker-timeout)"
            )
            try:
                self.client.wait_for_workers(1, timeout=self.worker_timeout)
            except TimeoutError:
                raise InputError(
                    f"--cluster {self.address}: no worker joined within "
                    f"{self.worker_timeout:g} s; start some with: dask worker {self.address} "
                    "--nthreads 1"
                ) from None
        try:
            versions = self.client.run(_worker_version)
        except Exception as exc:  # a worker that died or hangs up while answering
            raise InputError(
                f"--cluster {self.address}: asking the workers for their uvmsim version "
                f"failed: {type(exc).__name__}: {exc}"
            ) from None
        wrong = {w: v for w, v in versions.items() if v != __version__}
        if wrong:
            worker, version = next(iter(sorted(wrong.items())))
            raise InputError(
                f"--cluster {self.address}: worker {worker} runs uvmsim {version}, this is "
                f"uvmsim {__version__}; install the same version on every worker"
            )

    def _why(self) -> str:
        """Why no worker is seen, when it is the scheduler that is gone."""
        status = self.client.status
        return "" if status == "running" else f" (the client lost the scheduler: {status})"

    def _live_workers(self) -> int:
        """Workers the scheduler knows now; 0 when the scheduler itself is unreachable."""
        if self.client.status != "running":
            return 0
        try:
            info = self.client.scheduler_info(n_workers=0)
        except (OSError, TimeoutError):
            return 0
        n = info.get("n_workers")
        return n if isinstance(n, int) else len(info.get("workers", {}))

    def run(self, runs: Iterable[T], fn: Callable[[T], R]) -> Iterator[tuple[T, R]]:
        from distributed import as_completed

        # pure=False: a key is a run, but a rerun after a crash must run it again
        futures = {
            self.client.submit(fn, r, key=f"uvmsim-run-{r.key}", pure=False): r for r in runs
        }
        ac = as_completed(list(futures), loop=self.client.loop)
        try:
            alone_since: float | None = None  # when the last worker was seen gone
            checked = time.monotonic()
            while not ac.is_empty():
                if ac.has_ready():
                    fut = next(ac)
                    run = futures.pop(fut)
                    yield run, self._result(run, fut)
                    continue
                time.sleep(0.05)
                now = time.monotonic()
                if now - checked < 1.0:
                    continue
                checked = now
                if self._live_workers():
                    if alone_since is not None:
                        self.warn(f"Dask workers are back at {self.address}; continuing")
                    alone_since = None
                elif alone_since is None:
                    alone_since = now
                    self.warn(
                        f"no live Dask worker at {self.address}{self._why()}; waiting up to "
                        f"{self.worker_timeout:g} s for one (--worker-timeout)"
                    )
                elif now - alone_since > self.worker_timeout:
                    raise ExecutorLost(
                        f"--cluster {self.address}: no live worker for "
                        f"{self.worker_timeout:g} s{self._why()}, {len(futures)} runs not done; "
                        "start workers and run the same command again to resume"
                    )
        finally:
            for fut in futures:
                fut.cancel()

    def _result(self, run: T, fut: Any) -> Any:
        from distributed import KilledWorker

        try:
            return fut.result()
        except KilledWorker:
            raise ExecutorLost(
                f"--cluster {self.address}: the Dask workers running '{run.label()}' died "
                "each time (killed, or out of memory?)"
            ) from None
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            raise ExecutorLost(
                f"--cluster {self.address}: the cluster cancelled '{run.label()}' (did the "
                "scheduler restart?)"
            ) from None
        except (OSError, TimeoutError) as exc:
            raise ExecutorLost(
                f"--cluster {self.address}: lost the result of '{run.label()}': "
                f"{type(exc).__name__}: {exc}"
            ) from None
        except Exception as exc:
            raise RunCrashed(run, exc) from exc

    def close(self) -> None:
        # closing a client whose scheduler is gone may fail: there is nothing left to do then
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)


def make_executor(
    jobs: int | None, cluster: str | None, worker_timeout: float = WORKER_TIMEOUT
) -> Any:
    """The executor the options ask for; validates them first (InputError)."""
    if not (isinstance(worker_timeout, int | float) and math.isfinite(worker_timeout)) or (
        worker_timeout <= 0
    ):
        raise InputError(
            f"--worker-timeout must be a finite number of seconds > 0, got {worker_timeout}"
        )
    if cluster is not None:
        if jobs is not None:
            raise InputError("give --jobs (local processes) or --cluster (Dask), not both")
        return DaskCluster(cluster, worker_timeout=worker_timeout)
    n = jobs if jobs is not None else min(os.cpu_count() or 1, MAX_JOBS)
    if not 1 <= n <= MAX_JOBS:
        raise InputError(f"--jobs must be between 1 and {MAX_JOBS}, got {n}")
    if n == 1:
        return InProcess()
    try:
        return LocalPool(n)
    except (OSError, BrokenProcessPool) as exc:  # fork refused: too many processes, memory
        raise InputError(
            f"--jobs {n}: cannot start {n} worker processes ({exc}); use fewer --jobs"
        ) from None
