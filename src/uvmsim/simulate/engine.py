"""The timed engine (DESIGN.md §5): the same model code, charged in CPU cycles.

Each CPU has a clock.  The runnable CPU with the smallest clock performs its pending
operation next (ties: lowest CPU number) and is charged the operation's cost from the cost
table; a CPU whose clock is still the smallest runs on without a switch.

The parts, one module each: this one keeps the clocks (who runs next) and charges each
operation its cost; `simulate.spin` decides spin-mutex hand-offs (a CPU finding a mutex held
spins, its clock standing, until a release hands it over after c*k/2 cycles); an uncontended
acquisition of a line last held by another CPU costs c/2.  Rwlocks and sleeps sleep: the CPU
is idle until the release or wakeup, plus the wakeup latency.  `simulate.stats` streams the
statistics (per lock class and acquisition site, and the user/system/spin/idle split of every
CPU); `simulate.profile` records the optional folded stacks and trace spans.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

from uvmsim.machine import Engine
from uvmsim.machine.core import (
    ATOMIC,
    CPU,
    MTX_ENTER,
    MTX_LEAVE,
    MTX_TRY,
    READ,
    RESUME,
    RW_ENTER,
    RW_EXIT,
    RW_TRY,
    SLEEP,
    WAKEUP,
    WORK,
    WRITE,
    Machine,
)
from uvmsim.machine.engines import StopExecution
from uvmsim.machine.sites import format_site
from uvmsim.simulate.costs import CostTable
from uvmsim.simulate.profile import Profile
from uvmsim.simulate.spin import MutexState, SpinMutexes
from uvmsim.simulate.stats import CpuTime, SimStats

# Operations with nothing to do after them and no lock decision before them.
_PLAIN = frozenset({READ, WRITE, ATOMIC, WORK})


class TimedEngine(Engine):
    """Schedules by smallest clock and charges every operation (see the module docstring).

    `max_ops`: stop once the workload has completed that many operations (counted by
    `op_done`); `max_cycles`: stop once every runnable CPU is past that time; `max_visible`:
    stop after that many visible operations.
    """

    def __init__(
        self,
        costs: CostTable,
        *,
        discipline: str = "cas",
        seed: int = 0,
        max_ops: int | None = None,
        max_cycles: float | None = None,
        max_visible: int | None = None,
        folded: bool = False,
        trace: bool = False,
        trace_limit: int = 200_000,
    ):
        self.costs = costs
        self.rng = random.Random(seed)
        self.mutexes = SpinMutexes(discipline, costs.handoff, self.rng, self._push_index)
        self.max_ops = max_ops
        self.max_cycles = max_cycles
        self.max_visible = max_visible
        self.ops_done = 0
        self.stats = SimStats()
        self.profile = Profile(folded, trace, trace_limit)
        self._fold = self.profile.fold if folded else None
        self._span = self.profile.span
        self._epoch = object()  # tags per-object cache-line state as this run's
        self._rw_acq: dict[tuple[int, int], tuple[float, str, str]] = {}
        self._site_names: dict[tuple, str] = {}
        self._heap: list[tuple[float, int, int, int]] = []
        self._token: list[int] = []
        self._prev: Any = None
        self._prev_op: tuple | None = None
        self._prev_start = 0.0
        self._prev_gap = 0.0  # how long the CPU last chosen waited before its operation

    # ---- the Engine interface -----------------------------------------------------------
    @property
    def folded(self) -> dict[str, float] | None:
        return self.profile.folded

    @property
    def trace(self) -> list[dict] | None:
        return self.profile.trace

    def begin(self, machine: Machine) -> None:
        n = len(machine.cpus)
        self.stats.cpus = [CpuTime() for _ in range(n)]
        self._token = [0] * n
        for c in machine.cpus:
            c.clock = 0
            self._push(c, 0.0)

    def op_done(self, n: int = 1) -> None:
        """The workload finished `n` operations (faults, exits, flushes...)."""
        self.ops_done += n

    def choose(self, machine: Machine, current: CPU | None) -> CPU | None:
        prev = self._prev
        if self.max_ops is not None and self.ops_done >= self.max_ops:
            raise StopExecution
        if self.max_visible is not None and len(machine.schedule) >= self.max_visible:
            raise StopExecution
        heap = self._heap
        if prev is not None:
            if self._prev_op[0] not in _PLAIN:
                self._after(machine, prev, self._prev_op)
            if not prev.done:
                # Fast path: the CPU that just ran is still the earliest and its next
                # operation needs no lock decision: it runs on, no heap traffic.
                op = prev.op
                if (
                    prev.runnable
                    and op[0] in _PLAIN
                    and (not heap or (prev.clock, 1, prev.index) < heap[0][:3])
                    and (self.max_cycles is None or prev.clock < self.max_cycles)
                ):
                    self._charge(prev, op, prev.clock)
                    self._prev_op = op
                    return prev
                self._arrive(prev)
        cpus = machine.cpus
        while heap:
            t, _prio, idx, token = heapq.heappop(heap)
            c = cpus[idx]
            if token != self._token[idx] or c.done:
                continue
            if not c.runnable:
                # It became blocked after it was queued: someone took its lock first.
                if c.op[0] is MTX_ENTER:
                    self._spin(self.mutexes.state(c.op[1]), c, t)
                continue  # it sleeps until a release or wakeup pushes it again
            if self.max_cycles is not None and t >= self.max_cycles:
                raise StopExecution
            op = c.op
            kind = op[0]
            if kind is MTX_ENTER or kind is MTX_TRY:
                st = self.mutexes.state(op[1])
                if st.reserved >= 0 and st.reserved != idx:
                    if kind is MTX_TRY:  # try again once the hand-off has landed
                        self._push(c, max(t, st.ready) + 1)
                    else:
                        self._spin(st, c, t)
                    continue
                if kind is MTX_ENTER and op[1].owner is not None:
                    self._spin(st, c, t)
                    continue
            self._charge(c, op, t)
            self._prev = c
            self._prev_op = op
            return c
        return None  # nobody can run: the machine reports the deadlock

    # ---- scheduling helpers -------------------------------------------------------------
    def _push(self, c: CPU, t: float, prio: int = 1) -> None:
        self._token[c.index] += 1
        heapq.heappush(self._heap, (t, prio, c.index, self._token[c.index]))

    def _push_index(self, idx: int, t: float, prio: int) -> None:
        self._token[idx] += 1
        heapq.heappush(self._heap, (t, prio, idx, self._token[idx]))

    def _spin(self, st: MutexState, c: CPU, t: float) -> None:
        """`c` finds the mutex held or promised: it spins, queued, clock standing."""
        if t > c.clock:
            c.clock = t
        st.queue.append((c.index, t))
        self._token[c.index] += 1  # not in the heap until handed the mutex

    def _arrive(self, c: CPU) -> None:
        """`c` posted its next operation: put it in the heap, queue it as a spinner, or note
        that it sleeps (rwlock, wakeup)."""
        # The machine's lock state is in execution order, not time order: an owner whose
        # release is due before this CPU's clock may not have run yet.  A spin acquisition
        # is therefore decided when the CPU comes out of the heap, at its time.
        if c.runnable or c.op[0] is MTX_ENTER:
            self._push(c, c.clock)

    def _charge(self, c: CPU, op: tuple, t: float) -> None:
        """`c` performs `op` starting at time t: account the gap, then the cost."""
        idx = c.index
        kind = op[0]
        gap = t - c.clock
        times = self.stats.cpus[idx]
        if gap > 0:
            if kind is MTX_ENTER or kind is MTX_TRY:
                times.spin += gap
                if self._fold is not None:
                    self._fold(c, gap, "spin " + op[1].lock_class)
            else:
                times.idle += gap
                if self._fold is not None:
                    self._fold(c, gap, None)
            c.clock = t
        self._prev_start = t
        self._prev_gap = gap if gap > 0 else 0.0
        cost = self._cost(c, op)
        if kind is WORK and op[2] == "user":
            times.user += cost
        else:
            times.system += cost
        if self._fold is not None:
            self._fold(c, cost, op)
        c.clock = t + cost

    def _cost(self, c: CPU, op: tuple) -> float:
        costs = self.costs
        kind, obj, field, _site = op
        if kind is READ or kind is WRITE or kind is ATOMIC:
            base = costs.read if kind is READ else costs.write if kind is WRITE else costs.atomic
            # Which CPU last wrote the line lives on the object itself: keyed by id() in a
            # table it would outlive the object, and a new object at the same address
            # would inherit it (a result depending on the allocator).  The table is tagged
            # with this run's epoch, so an object that outlives a run (a kernel global such
            # as uvmexp) starts the next run with cold lines instead of the last run's.
            lines = obj.__dict__.get("_lines")
            if lines is None or lines.get(None) is not self._epoch:
                lines = obj.__dict__["_lines"] = {None: self._epoch}
            last = lines.get(field)
            if last is not None and last != c.index:
                base += costs.line_transfer
            if kind is not READ or last is None:
                lines[field] = c.index
            return base
        if kind is WORK:
            cycles = c.local.pop("cycles", None)
            return costs.work(field) if cycles is None else cycles
        if kind is MTX_ENTER or kind is MTX_TRY:
            st = self.mutexes.state(obj)
            extra = 0.0
            if st.reserved != c.index and st.last_holder >= 0:
                # Uncontended: the line comes from the last holder's cache, k = 1 (a
                # reserved hand-off already paid c*k/2 in its ready time).
                extra = costs.handoff / 2
            return costs.mtx_enter + extra
        if kind is MTX_LEAVE:
            return costs.mtx_leave
        if kind is RW_ENTER or kind is RW_TRY:
            return costs.rw_enter
        if kind is RW_EXIT:
            return costs.rw_exit
        if kind is SLEEP:
            return costs.sleep
        if kind is WAKEUP:
            return costs.wakeup
        if kind is RESUME:
            return 0
        return costs.write

    # ---- after an operation: locks, wakeups, statistics ---------------------------------------
    def _site(self, site: tuple) -> str:
        name = self._site_names.get(site)
        if name is None:
            name = self._site_names[site] = format_site(site)
        return name

    def _after(self, machine: Machine, c: CPU, op: tuple) -> None:
        kind, obj, field, site = op
        now = c.clock
        start = self._prev_start
        if kind is MTX_ENTER or kind is MTX_TRY:
            if obj.owner is c:  # acquired (a try may have failed)
                st = self.mutexes.state(obj)
                wait = self._prev_gap  # it spun from its arrival until `start`
                ls, ss = self.stats.lock(obj.lock_class, self._site(site))
                handoff = st.last_holder >= 0 and st.last_holder != c.index
                ls.acquired(wait, handoff)
                ss.acquired(wait, handoff)
                st.reserved = -1
                st.holder = c.index
                st.acq_time = now
                st.site = self._site(site)
                if wait > 0:
                    self._span(c.index, "wait " + obj.lock_class, start - wait, wait)
        elif kind is MTX_LEAVE:
            st = self.mutexes.state(obj)
            hold = now - st.acq_time
            ls, ss = self.stats.lock(obj.lock_class, st.site)
            ls.released(hold)
            ss.released(hold)
            self._span(c.index, obj.lock_class, st.acq_time, hold)
            st.last_holder = c.index
            st.holder = -1
            self.mutexes.hand_off(st, now)
        elif kind is RW_ENTER or kind is RW_TRY:
            if obj.writer is c or c in obj.readers:
                wait = self._prev_gap  # it slept from its request until `start`
                ls, ss = self.stats.lock(obj.lock_class, self._site(site))
                ls.acquired(wait, False)
                ss.acquired(wait, False)
                self._rw_acq[(id(obj), c.index)] = (now, self._site(site), obj.lock_class)
        elif kind is RW_EXIT:
            acq = self._rw_acq.pop((id(obj), c.index), None)
            if acq is not None:
                hold = now - acq[0]
                ls, ss = self.stats.lock(acq[2], acq[1])
                ls.released(hold)
                ss.released(hold)
            self._wake(machine, obj.waiters, now)
        elif kind is SLEEP:
            if field is not None:
                if field.is_rwlock:
                    self._wake(machine, field.waiters, now)
                else:
                    st = self.mutexes.state(field)
                    st.last_holder = c.index
                    self.mutexes.hand_off(st, now)
        elif kind is WAKEUP:
            for cpu in machine.cpus:
                if not cpu.done and cpu.op[0] is RESUME and cpu.runnable:
                    self._wake(machine, [cpu], now)

    def _wake(self, machine: Machine, waiters: list[CPU], now: float) -> None:
        lat = self.costs.wakeup_latency
        for w in list(waiters):
            if w.runnable and not w.done:
                # Released before it got there in time: it never slept.
                self._push(w, w.clock if now <= w.clock else now + lat)

    def end(self, machine: Machine) -> None:
        """Nothing to flush: statistics were streamed."""
