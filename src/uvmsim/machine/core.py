"""The simulated multiprocessor: CPUs as greenlets, one hook for every visible operation.

Execution contract (DESIGN.md §3).  Every CPU runs one Python function (the kernel code path of
that CPU, e.g. a fault followed by an exit) in its own greenlet.  Code between two visible
operations is CPU-local and runs without interruption.  A *visible operation* is a read or write
of a `Shared` field, an atomic, or a lock or sleep operation; before it happens the CPU posts it
as its pending operation and asks the engine which CPU proceeds.  Choosing a CPU means: that CPU
performs its pending operation and runs on, invisibly, until it posts its next one.  So at every
decision each live CPU has exactly one pending operation, which is what DPOR needs (the next
step of every thread) and what the timed engine charges time for.

A CPU whose pending operation cannot proceed (a mutex someone else owns, an rwlock held in a
conflicting mode, a sleep not yet woken) is *disabled*; engines choose among enabled CPUs only.
No enabled CPU while some CPU is still live is a deadlock.

Switching is direct, CPU to CPU: the running CPU's greenlet switches to the chosen one and is
resumed later by whichever CPU chooses it.  The driver greenlet (the caller of `Machine.run`)
only runs when a CPU finishes or the execution halts on a failure.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import greenlet

from uvmsim.machine import failure as fk
from uvmsim.machine import frames
from uvmsim.machine import sites as _sites
from uvmsim.machine.failure import Failure, InputError
from uvmsim.machine.sites import (
    _inline_codes,
    format_site,
    model_stack,
    stack_root,
)


class StopExecution(Exception):
    """Raised by an engine's `choose` to end the execution early without a failure.

    DPOR uses it when every enabled CPU is in the sleep set: the execution is redundant.
    """


if TYPE_CHECKING:
    from uvmsim.machine.engines import Engine

# Operation kinds.  Interned strings: cheap identity comparisons, readable in traces and JSON.
READ = "read"
WRITE = "write"
ATOMIC = "atomic"
MTX_ENTER = "mtx_enter"
MTX_TRY = "mtx_enter_try"
MTX_LEAVE = "mtx_leave"
RW_ENTER = "rw_enter"
RW_TRY = "rw_enter_try"
RW_EXIT = "rw_exit"
SLEEP = "sleep"
RESUME = "resume"
WAKEUP = "wakeup"

LOCK_KINDS = frozenset({MTX_ENTER, MTX_TRY, MTX_LEAVE, RW_ENTER, RW_TRY, RW_EXIT})

_running: Machine | None = None
"""The machine whose CPU is executing right now, or None (set-up, driver, invariant checks)."""


def running() -> Machine | None:
    """The machine executing model code right now, if any."""
    return _running


def curcpu() -> CPU:
    """The CPU running the caller, as the kernel's `curcpu()`."""
    m = _running
    if m is None:
        raise RuntimeError("curcpu() called outside a running machine")
    return m.current


class _Halt(BaseException):
    """Unwinds a CPU's greenlet once the execution has failed (not catchable as Exception)."""


class KernelFailure(Exception):
    """Raised to the caller of `Machine.run` when `raise_on_failure` is set."""

    def __init__(self, failure: Failure):
        super().__init__(failure.render())
        self.failure = failure


class CPU:
    """One simulated CPU running one kernel thread.

    `op` is the pending visible operation (kind, object, field, site) and `blocker` the object
    that decides whether it can proceed (None: always).  `runnable` caches that decision; the
    machine keeps it current as locks change hands (every CPU with a pending operation on a
    lock is in the lock's `waiters`), so engines read a flag instead of asking every lock.
    `mutexes` is the stack of spin mutexes this CPU owns (LIFO), `rwlocks` the rwlocks it holds
    with their acquisition sites, `ipl` its interrupt priority level, `vc` its vector clock for
    happens-before race detection, `clock` its time in cycles for the timed engine and
    `work_cycles` the cycles a pending `kernel_work` names (None: priced by its name).
    """

    __slots__ = (
        "args",
        "blocker",
        "clock",
        "done",
        "fn",
        "greenlet",
        "index",
        "ipl",
        "local",
        "mutexes",
        "name",
        "op",
        "runnable",
        "rwlocks",
        "vc",
        "want",
        "work_cycles",
    )

    def __init__(self, index: int, fn: Callable, args: tuple, ncpu: int):
        self.index = index
        self.name = f"cpu{index}"
        self.fn = fn
        self.args = args
        self.greenlet: greenlet.greenlet | None = None
        self.op: tuple = ("start", None, None, None)
        self.blocker: Any = None
        self.want: int = 0
        self.done = False
        self.runnable = True
        self.mutexes: list = []
        self.rwlocks: list = []
        self.ipl = 0
        self.vc = [0] * ncpu
        self.vc[index] = 1
        self.clock = 0
        self.work_cycles: Any = None  # cycles of the pending kernel_work, when it names them
        self.local: dict = {}

    def enabled(self) -> bool:
        """Whether the pending operation can proceed now."""
        return self.runnable

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Execution:
    """The result of one run: the failure if any, the schedule, the visible steps taken."""

    failure: Failure | None
    schedule: tuple[int, ...]
    steps: int
    trace: tuple[tuple, ...] = ()
    """With `record`: per step (cpu, kind, object name, field, site, locks held by the CPU)."""
    completed: bool = True
    stopped: bool = False
    """The engine ended the execution early (e.g. DPOR: every enabled CPU asleep)."""


@dataclass
class Analyses:
    """Which checks run on every visible operation; each can be switched off."""

    annotations: bool = True
    annotation_reads: bool = True
    races: bool = True
    witness: bool = True
    deadlock: bool = True


_TOOL_DIRS = ("uvmsim/machine/", "uvmsim/simulate/", "uvmsim/check/")


def model_traceback(exc: BaseException) -> tuple[str, ...]:
    """The lines of `exc`'s traceback, the machine's and engines' own frames left out.

    Those frames are the tool, not the model (as in model stacks), and a compiled machine
    (Cython) prints them differently: without them the text is the same in both builds.
    """
    te = traceback.TracebackException.from_exception(exc)
    part: traceback.TracebackException | None = te
    while part is not None:
        part.stack = traceback.StackSummary.from_list(
            [
                fs
                for fs in part.stack
                if not any(d in fs.filename.replace("\\", "/") for d in _TOOL_DIRS)
            ]
        )
        part = part.__cause__ or part.__context__
    return tuple("".join(te.format()).rstrip().splitlines())


@stack_root
def _cpu_main(machine: Machine, cpu: CPU) -> None:
    """Body of every CPU greenlet: run the CPU's function, turn what escapes into a Failure."""
    try:
        cpu.fn(*cpu.args)
        machine._cpu_finished(cpu)
    except _Halt:
        pass
    except InputError as exc:  # e.g. a replay list naming a CPU that cannot run
        machine.input_error = exc
        machine.halted = machine._special = True
    except StopExecution:
        machine.stopped = True
        machine.halted = machine._special = True
    except Exception as exc:  # a bug in model code: report it as a failure, never a crash
        if machine.failure is None:
            machine.failure = machine._make_failure(
                fk.MODEL_ERROR,
                f"model error: {type(exc).__name__}: {exc}",
                cpu,
                detail=model_traceback(exc),
            )
    cpu.done = True
    cpu.runnable = False


def _cpu_worker(machine: Machine, cpu: CPU) -> None:
    """Body of every CPU greenlet: one CPU's function per execution, for many executions.

    A greenlet that finishes frees the chunk its Python frames lived in, and a new one maps
    a fresh chunk when it first calls a function: two system calls and page faults per CPU
    and execution, 6% of a checker execution spent in the kernel alone.  So once the CPU's
    function has returned (or unwound), its greenlet hands control to the driver as a
    finishing greenlet would, and waits there, idle, for the next execution's CPU
    (`Machine.run` takes it from the thread's idle workers).  An exception `_cpu_main` lets
    through (KeyboardInterrupt) ends the worker.
    """
    while True:
        _cpu_main(machine, cpu)
        driver = machine.driver
        machine = cpu = None  # keep nothing of a finished execution alive while idle
        machine, cpu = driver.switch()


_workers = threading.local()
"""Per thread (greenlets belong to the thread that made them): `idle`, the CPU greenlets
waiting in `_cpu_worker` for an execution."""


def _idle_workers() -> list:
    """This thread's idle CPU greenlets."""
    idle = getattr(_workers, "idle", None)
    if idle is None:
        idle = _workers.idle = []
    return idle


def _take_worker(idle: list, driver: Any) -> Any:
    """An idle CPU greenlet, now a child of `driver`, or a new one."""
    if idle:
        g = idle.pop()
        g.parent = driver
        return g
    return greenlet.greenlet(_cpu_worker, parent=driver)


class Chooser:
    """What `Machine.visible` calls an engine's `choose` through, on every visible step.

    The compiled engines (round-robin, replay, the timed engine, DPOR's) derive from it, so
    the compiled machine calls their `choose` as a C method instead of through a bound method
    and an argument tuple; any other engine is wrapped in a `ForwardChooser`.
    """

    def choose(self, machine: Machine, current: CPU | None) -> CPU | None:
        """The CPU to run next, or None; each engine defines it (the machine only calls)."""
        raise TypeError(f"{type(self).__name__} derives from Chooser but defines no choose")


class ForwardChooser(Chooser):
    """Calls the `choose` of an engine that is not a `Chooser` (a plain `Engine`)."""

    def __init__(self, engine: Any) -> None:
        self._choose = engine.choose

    def choose(self, machine: Machine, current: CPU | None) -> CPU | None:
        return self._choose(machine, current)


class Machine:
    """A simulated multiprocessor running one program (one function per CPU) once.

    The machine owns the CPUs, the engine that schedules them, the analyses that watch every
    visible operation, and the invariants checked at quiescent points and at the end.  A
    `Machine` runs exactly one execution; exploring interleavings means building the world and
    a machine again (stateless exploration), which is what keeps replay exact.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        analyses: Analyses | None = None,
        max_steps: int = 100_000,
        record: bool = False,
        schedule_covered: bool = True,
    ):
        self.engine = engine
        # `visible` calls it on every step.
        self._chooser = engine if isinstance(engine, Chooser) else ForwardChooser(engine)
        self.analyses = analyses or Analyses()
        self.max_steps = max_steps
        self.record = record
        # When False, a plain access to a field whose protecting lock the CPU holds is not a
        # scheduling point (it cannot race); the race detector still checks it.
        self.schedule_covered = schedule_covered
        self.cpus: list[CPU] = []
        self.current: CPU | None = None
        self.schedule: list[int] = []
        self.trace: list[tuple] = []
        self.failure: Failure | None = None
        self.halted = False
        self.locks_held = 0
        self.annotation_locks: dict[str, Callable[[Any], Any]] = {}
        self.annotation_consts: dict[str, Any] = {}
        self.step_checks: list[Callable[[], str | None]] = []
        self.quiescent_checks: list[Callable[[], str | None]] = []
        self.end_checks: list[Callable[[], str | None]] = []
        self.sleepers: dict[int, list[CPU]] = {}
        from uvmsim.machine.races import RaceDetector
        from uvmsim.machine.witness import Witness

        self.witness = Witness(self)
        self.races = RaceDetector(self)
        self.driver: greenlet.greenlet | None = None
        self.primed = 0  # CPUs that entered their function (priming goes in CPU order)
        self._priming = False
        self._special = False
        self.races_on = self.analyses.races
        self.input_error: InputError | None = None
        self.stopped = False

    @property
    def steps(self) -> int:
        """Visible steps taken so far (the length of the schedule)."""
        return len(self.schedule)

    # ---- configuration -------------------------------------------------------------------
    def bind_annotation(self, letter: str, lock: Any) -> None:
        """Say which lock a lock letter (e.g. 'Q') means on this machine.

        `lock` is either the lock itself (a global such as `uvm.pageqlock`) or a resolver
        `f(obj) -> lock | None` for letters whose lock depends on the object.
        """
        from uvmsim.machine.shared import LOCK_LETTERS

        if letter not in LOCK_LETTERS:
            raise InputError(
                f"annotation letter {letter!r} is not a lock letter; "
                f"accepted: {', '.join(sorted(LOCK_LETTERS))}"
            )
        if hasattr(lock, "covers"):
            self.annotation_consts[letter] = lock
        else:
            self.annotation_locks[letter] = lock

    def add_check(self, fn: Callable[[], str | None], when: str = "end") -> None:
        """Register an invariant: `fn()` returns None when it holds, else a message.

        `when` is 'step' (after every visible step: keep it cheap), 'quiescent' (after a step
        that leaves no lock held by any CPU) or 'end' (when every CPU has finished).
        """
        table = {
            "step": self.step_checks,
            "quiescent": self.quiescent_checks,
            "end": self.end_checks,
        }
        if when not in table:
            raise InputError(f"check time {when!r} unknown; accepted: end, quiescent, step")
        table[when].append(fn)

    # ---- running -------------------------------------------------------------------------
    def run(
        self, program: Sequence[Callable[[], Any]], raise_on_failure: bool = False
    ) -> Execution:
        """Run `program` (one callable per CPU) to completion or to its first failure."""
        global _running
        if self.driver is not None:
            raise RuntimeError("a Machine runs one execution; build a new one")
        if not program:
            raise InputError("program: needs at least one CPU function")
        n = len(program)
        self.cpus = [CPU(i, fn, (), n) for i, fn in enumerate(program)]
        self.driver = greenlet.getcurrent()
        prev_running = _running
        idle = _idle_workers()
        for cpu in self.cpus:
            cpu.greenlet = _take_worker(idle, self.driver)
        self.engine.begin(self)
        try:
            # Prime: run every CPU up to its first visible operation, in CPU order.  The code
            # before it is CPU-local, so running it eagerly changes nothing observable.
            self._priming = True
            self._special = True
            for cpu in self.cpus:
                self.current = cpu
                _running = self
                self.primed += 1
                cpu.greenlet.switch(self, cpu)
                _running = prev_running
                if self.failure is not None or self.input_error is not None:
                    break
            self._priming = False
            self._special = bool(self.step_checks) or self.record
            self.races_on = self.analyses.races
            while self.failure is None and self.input_error is None and not self.stopped:
                live = [c for c in self.cpus if not c.done]
                if not live:
                    break
                nxt = self._choose(None)
                if nxt is None:
                    break
                self.current = nxt
                _running = self
                nxt.greenlet.switch()
                _running = prev_running
            if self.failure is None and self.input_error is None and not self.stopped:
                self._run_checks(self.end_checks, None)
        except _Halt:
            pass
        except StopExecution:
            self.stopped = True
        finally:
            self._teardown()
            _running = prev_running
            for cpu in self.cpus:
                # Back to the idle workers.  After the teardown every CPU that entered its
                # function has finished it; only an escaping exception leaves one dead.
                if not cpu.greenlet.dead:
                    idle.append(cpu.greenlet)
            self.engine.end(self)
        if self.input_error is not None:
            raise self.input_error
        completed = all(c.done for c in self.cpus) and self.failure is None and not self.stopped
        result = Execution(
            self.failure,
            tuple(self.schedule),
            self.steps,
            tuple(self.trace),
            completed,
            self.stopped,
        )
        if raise_on_failure and self.failure is not None:
            raise KernelFailure(self.failure)
        return result

    def _teardown(self) -> None:
        """Unwind every CPU still suspended (after a failure) without running its operations."""
        global _running
        self.halted = self._special = True
        for cpu in self.cpus[: self.primed]:  # the others never entered their function
            g = cpu.greenlet
            if not cpu.done and not g.dead:
                _running = None
                with contextlib.suppress(_Halt):
                    g.throw(_Halt)

    # ---- the one hook ----------------------------------------------------------------------
    def visible(self, kind: str, obj: Any, field: Any, site: tuple, blocker: Any = None) -> CPU:
        """Post the running CPU's next visible operation and let the engine pick who proceeds.

        Returns (to the posting CPU, once it is chosen) that CPU, so primitives can perform the
        operation's effect.  Raises `_Halt` when the execution failed meanwhile.  This is the
        hottest function of the project: the rare cases (priming, per-step checks, recording,
        a halted machine) all hide behind the single `_special` flag.
        """
        cpu = self.current
        if self._special:
            return self._visible_special(cpu, kind, obj, field, site, blocker)
        cpu.op = (kind, obj, field, site)
        if blocker is not None:
            cpu.blocker = blocker
            blocker.waiters.append(cpu)
            if blocker.blocks(cpu):
                cpu.runnable = False
            if blocker.is_rwlock:
                reevaluate(blocker)
        schedule = self.schedule
        if len(schedule) >= self.max_steps:
            self._fail(fk.STEP_BOUND, f"step bound: {self.max_steps} visible steps reached", None)
        nxt = self._chooser.choose(self, cpu)
        if nxt is None:
            self._deadlock()
        schedule.append(nxt.index)
        if nxt is not cpu:
            self.current = nxt
            nxt.greenlet.switch()
            # Resumed: someone chose this CPU, or the execution is being torn down.
            if self.halted:
                raise _Halt
        if blocker is not None:
            cpu.blocker = None
            self.unwait(blocker.waiters, cpu)
        return cpu

    def unwait(self, waiters: list, cpu: CPU) -> None:
        """Take `cpu` off a lock's `waiters` (it was chosen, or woken).

        By identity, which is what `list.remove` finds too (a CPU equals only itself), but
        without asking each waiter ahead of it to compare: this runs on every lock acquisition.
        """
        for i in range(len(waiters)):
            if waiters[i] is cpu:
                del waiters[i]
                return
        raise ValueError("unwait: the CPU is not among the waiters")

    def _visible_special(
        self, cpu: CPU, kind: str, obj: Any, field: Any, site: tuple, blocker: Any
    ) -> CPU:
        """`visible` with everything: halted check, per-step checks, priming, recording."""
        if self.halted:
            raise _Halt
        if self.step_checks:
            self._run_checks(self.step_checks, cpu)
        cpu.op = (kind, obj, field, site)
        if blocker is not None:
            cpu.blocker = blocker
            blocker.waiters.append(cpu)
            if blocker.blocks(cpu):
                cpu.runnable = False
            if blocker.is_rwlock:
                reevaluate(blocker)
        if self._priming:
            self.driver.switch()
        else:
            nxt = self._choose(cpu)
            if nxt is not cpu:
                self.current = nxt
                nxt.greenlet.switch()
        if self.halted:
            raise _Halt
        if blocker is not None:
            cpu.blocker = None
            self.unwait(blocker.waiters, cpu)
        if self.record:
            held = tuple(m.name for m in cpu.mutexes) + tuple(lk.name for lk, _s in cpu.rwlocks)
            self.trace.append((cpu.index, kind, _name_of(obj), field, site, held))
        return cpu

    def _choose(self, current: CPU | None) -> CPU | None:
        """Ask the engine for the next CPU from the driver; account the step."""
        if len(self.schedule) >= self.max_steps:
            self._fail(fk.STEP_BOUND, f"step bound: {self.max_steps} visible steps reached", None)
        nxt = self.engine.choose(self, current)
        if nxt is None:
            self._deadlock()
        self.schedule.append(nxt.index)
        return nxt

    def enabled(self) -> list[CPU]:
        """The live CPUs whose pending operation can proceed, in CPU order."""
        return [c for c in self.cpus if c.runnable]

    def _cpu_finished(self, cpu: CPU) -> None:
        """A CPU returned from its function: it must not hold locks; then checks run."""
        self._run_checks(self.step_checks, cpu)
        if cpu.mutexes or cpu.rwlocks:
            held = [m.name for m in cpu.mutexes] + [lk.name for lk, _ in cpu.rwlocks]
            self._fail(fk.LOCK_LEAK, f"{cpu.name} finished holding {', '.join(held)}", cpu)
        if self.locks_held == 0 and self.quiescent_checks:
            self._run_checks(self.quiescent_checks, cpu)

    def after_release(self, cpu: CPU) -> None:
        """Called by lock primitives after a release: run quiescent checks when nothing is held."""
        if self.locks_held == 0 and self.quiescent_checks:
            self._run_checks(self.quiescent_checks, cpu)

    def _run_checks(self, checks: list, cpu: CPU | None) -> None:
        global _running
        if not checks:
            return
        # Checks read the world directly: with no running machine, Shared fields are plain.
        saved_running, _running = _running, None
        try:
            for check in checks:
                msg = check()
                if msg:
                    _running = saved_running
                    self._fail(fk.INVARIANT, f"invariant violated: {msg}", cpu)
        finally:
            _running = saved_running

    # ---- failures ----------------------------------------------------------------------------
    def _make_failure(
        self,
        kind: str,
        message: str,
        cpu: CPU | None,
        sites: Sequence[tuple | str] = (),
        detail: tuple[str, ...] = (),
    ) -> Failure:
        stacks = []
        for c in self.cpus:
            if c.done and c is not cpu:
                continue
            if c is self.current and greenlet.getcurrent() is c.greenlet:
                frame = _sites.innermost_frame()  # model_stack leaves machine frames out
            else:
                frame = c.greenlet.gr_frame if c.greenlet is not None else None
            stacks.append((c.index, model_stack(frame)))
        return Failure(
            kind=kind,
            message=message,
            cpu=None if cpu is None else cpu.index,
            stacks=tuple(stacks),
            sites=tuple(s if isinstance(s, str) else format_site(s) for s in sites),
            schedule=tuple(self.schedule),
            step=self.steps,
            detail=detail,
        )

    def _fail(
        self, kind: str, message: str, cpu: CPU | None, sites: Sequence[tuple | str] = ()
    ) -> None:
        """Record the execution's failure and unwind the running greenlet."""
        if self.failure is None:
            self.failure = self._make_failure(kind, message, cpu, sites)
        self.halted = self._special = True
        raise _Halt

    def _deadlock(self) -> None:
        lines = []
        for c in self.cpus:
            if c.done:
                continue
            kind, obj, _field, site = c.op
            what = (
                c.blocker.describe_wait(c) if c.blocker is not None else f"{kind} {_name_of(obj)}"
            )
            lines.append(f"{c.name} waits for {what} at {format_site(site)}")
        if not self.analyses.deadlock:
            self.halted = self._special = True
            raise _Halt
        self._fail(fk.DEADLOCK, "deadlock: no CPU can run; " + "; ".join(lines), None)


def reevaluate(lock: Any) -> None:
    """A lock changed state: recompute whether each CPU with an operation pending on it can run."""
    for w in lock.waiters:
        w.runnable = not lock.blocks(w)


def _name_of(obj: Any) -> str:
    if obj is None:
        return "-"
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    return type(obj).__name__


def fail(kind: str, message: str, sites: Sequence[tuple | str] = ()) -> None:
    """Fail the running execution from a primitive or model check on the current CPU."""
    m = _running
    if m is None:
        texts = tuple(s if isinstance(s, str) else format_site(s) for s in sites)
        raise KernelFailure(Failure(kind=kind, message=message, cpu=None, sites=texts))
    m._fail(kind, message, m.current, sites)


WORK = "work"


def kernel_work(what: str, obj: Any = None, cycles: float | None = None) -> None:
    """A visible step that changes no shared state: a page zeroed or copied, an I/O.

    It gives other CPUs a chance to run where the kernel would spend time (the checker treats
    it as independent of everything), and the timed engine charges it from the cost table
    under the name `what`, or `cycles` when given (workloads' think and hold times).
    `what` == "user" is user time; everything else is system time.
    """
    m = _running
    if m is not None:
        if cycles is not None:
            m.current.work_cycles = cycles
        m.visible(WORK, obj, what, frames.model_site(_inline_codes))


_sites.look_through(globals())  # call sites look through this module's frames
