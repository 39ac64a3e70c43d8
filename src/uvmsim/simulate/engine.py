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
    Chooser,
    Machine,
)
from uvmsim.machine.engines import StopExecution
from uvmsim.machine.sites import format_site
from uvmsim.simulate.clockheap import ClockHeap
from uvmsim.simulate.costs import CostTable
from uvmsim.simulate.profile import Profile
from uvmsim.simulate.spin import MutexState, SpinMutexes
from uvmsim.simulate.stats import CpuTime, LockStat, SimStats


class TimedEngine(Chooser):  # an Engine (registered below: compiled, a C type)
    """Schedules by smallest clock and charges every operation (see the module docstring).

    `max_ops`: stop once the workload has completed that many operations (counted by
    `op_done`); `max_cycles`: stop once every runnable CPU is past that time; `max_visible`:
    stop after that many visible operations.

    Everything in `choose` runs once per visible operation, so what can be
    looked up once is: the cost table's entries are copied into attributes, each mutex's
    spin state is found through a table keyed by the mutex (once per operation: `_after`
    reads the one `choose` found), an acquisition site's statistics through its mutex's
    last site or a table keyed by identities (a site's code object hashes its whole
    bytecode), and a kernel_work's name is priced once per run; the CPUs wait in an
    indexed run queue (`simulate.clockheap`).
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
        self.mutexes = SpinMutexes(discipline, costs.handoff, self.rng)
        self.max_ops = max_ops
        self.max_cycles = max_cycles
        self.max_visible = max_visible
        self.ops_done = 0
        self.stats = SimStats()
        self.profile = Profile(folded, trace, trace_limit)
        self._fold = self.profile.fold if folded else None
        self._tracing = trace
        self._epoch = object()  # tags per-object cache-line state as this run's
        # The cost table's entries, read on every operation.
        self._read = costs.read
        self._write = costs.write
        self._atomic = costs.atomic
        self._line_transfer = costs.line_transfer
        self._mtx_enter = costs.mtx_enter
        self._mtx_leave = costs.mtx_leave
        self._half_handoff = costs.handoff / 2
        self._rw_enter = costs.rw_enter
        self._rw_exit = costs.rw_exit
        self._sleep = costs.sleep
        self._wakeup = costs.wakeup
        self._wakeup_latency = costs.wakeup_latency
        self._work: dict[str, Any] = {}  # kernel_work name -> cycles
        # mutex -> its spin state: the spin model's own table, read without a call.
        self._states: dict[Any, MutexState] = self.mutexes._states
        # (id(code), offset, lock class) -> (code, lock statistics, site statistics)
        self._site_stats: dict[tuple, tuple] = {}
        # (id(rwlock), cpu) -> (acquisition time, lock statistics, site statistics)
        self._rw_acq: dict[tuple[int, int], tuple[float, LockStat, LockStat]] = {}
        self._times: list[CpuTime] = []
        self._heap = ClockHeap(0)  # the CPUs by clock (`begin` sizes it)
        self._prev: Any = None
        self._prev_op: tuple | None = None
        self._prev_st: MutexState | None = None  # the mutex state of `_prev_op`'s mutex
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
        self._times = self.stats.cpus
        self._heap = ClockHeap(n)
        for c in machine.cpus:
            c.clock = 0
            self._push(c, 0.0)

    def op_done(self, n: int = 1) -> None:
        """The workload finished `n` operations (faults, exits, flushes...)."""
        self.ops_done += n

    def choose(self, machine: Machine, current: CPU | None) -> CPU | None:
        prev = self._prev
        max_ops = self.max_ops
        if max_ops is not None and self.ops_done >= max_ops:
            raise StopExecution
        if self.max_visible is not None and len(machine.schedule) >= self.max_visible:
            raise StopExecution
        heap = self._heap
        cpus = machine.cpus
        cand = None  # the CPU that just ran, when it is still the earliest: no heap traffic
        t = 0.0
        if prev is not None:
            kind = self._prev_op[0]
            if not (kind is READ or kind is WORK or kind is WRITE or kind is ATOMIC):
                self._after(machine, prev, self._prev_op)
            if not prev.done and (prev.runnable or prev.op[0] is MTX_ENTER):
                # It posted its next operation: back on the clock heap at its clock, unless
                # it would come straight out again (then it is taken as if popped), or it
                # sleeps (rwlock, wakeup) until a release or wakeup pushes it.  The
                # machine's lock state is in execution order, not time order: an owner
                # whose release is due before this CPU's clock may not have run yet, so a
                # spin acquisition is decided when the CPU comes out of the heap, at its time.
                idx = prev.index
                heap.remove(idx)  # as a push does: an earlier time of it no longer holds
                clock = prev.clock
                ahead = True  # of every CPU in the heap, as (clock, prio 1, index) sorts
                # CPUs that finished since they were queued are dropped wherever they
                # surface (below), so they can be dropped here first: the order the others
                # come out in is unchanged.
                while heap.n:
                    c = cpus[heap.first()]
                    if not c.done:
                        break
                    heap.pop()
                if heap.n:
                    top_t = heap.first_time()
                    if clock >= top_t:
                        prio = heap.first_prio()
                        ahead = clock == top_t and (prio > 1 or (prio == 1 and idx < heap.first()))
                if ahead:
                    cand = prev
                    t = clock
                else:
                    # The first CPU (ahead of it) is the one to run.
                    t = heap.first_time()
                    cand = cpus[heap.pop()]
                    heap.push(idx, clock, 1)
        states = self._states
        while True:
            if cand is None:
                if not heap.n:
                    return None  # nobody can run: the machine reports the deadlock
                t = heap.first_time()
                idx = heap.pop()
                c = cpus[idx]
                if c.done:
                    continue
            else:
                c = cand
                idx = c.index
                cand = None
            op = c.op
            kind = op[0]
            if not c.runnable:
                # It became blocked after it was queued: someone took its lock first.
                if kind is MTX_ENTER:
                    self._spin(states.get(op[1]) or self.mutexes.state(op[1]), c, t)
                continue  # it sleeps until a release or wakeup pushes it again
            if self.max_cycles is not None and t >= self.max_cycles:
                raise StopExecution
            if kind is MTX_ENTER or kind is MTX_TRY:
                mtx = op[1]
                st = states.get(mtx)
                if st is None:
                    st = self.mutexes.state(mtx)
                if st.reserved >= 0 and st.reserved != idx:
                    if kind is MTX_TRY:  # try again once the hand-off has landed
                        self._push(c, max(t, st.ready) + 1)
                    else:
                        self._spin(st, c, t)
                    continue
                if kind is MTX_ENTER and mtx.owner is not None:
                    self._spin(st, c, t)
                    continue
            # `c` performs `op` starting at time t: account the gap, then the cost (inline:
            # this runs for every visible operation).
            gap = t - c.clock
            times = self._times[idx]
            fold = self._fold
            if gap > 0:
                if kind is MTX_ENTER or kind is MTX_TRY:
                    times.spin += gap
                    if fold is not None:
                        fold(c, gap, "spin " + op[1].lock_class)
                else:
                    times.idle += gap
                    if fold is not None:
                        fold(c, gap, None)
                c.clock = t
                self._prev_gap = gap
            else:
                self._prev_gap = 0.0
            self._prev_start = t
            # The operation's cost.
            if kind is READ or kind is WRITE or kind is ATOMIC:
                cost = (
                    self._read if kind is READ else self._write if kind is WRITE else self._atomic
                )
                # Which CPU last wrote the line lives on the object itself: keyed by id() in a
                # table it would outlive the object, and a new object at the same address
                # would inherit it (a result depending on the allocator).  The table is tagged
                # with this run's epoch, so an object that outlives a run (a kernel global such
                # as uvmexp) starts the next run with cold lines instead of the last run's.
                d = op[1].__dict__
                lines = d.get("_lines")
                if lines is None or lines.get(None) is not self._epoch:
                    lines = d["_lines"] = {None: self._epoch}
                field = op[2]
                last = lines.get(field)
                if last is not None and last != idx:
                    cost += self._line_transfer
                if kind is not READ or last is None:
                    lines[field] = idx
                times.system += cost
            elif kind is WORK:
                named = c.work_cycles  # None: priced by its name
                if named is None:
                    name = op[2]
                    named = self._work.get(name)
                    if named is None:
                        named = self._work[name] = self.costs.work(name)
                else:
                    c.work_cycles = None
                cost = named
                if op[2] == "user":
                    times.user += cost
                else:
                    times.system += cost
            else:
                if kind is MTX_ENTER or kind is MTX_TRY:
                    # `st`: the mutex's spin state, found above; `_after` reads it too.
                    self._prev_st = st
                    if st.reserved != idx and st.last_holder >= 0:
                        # Uncontended: the line comes from the last holder's cache, k = 1 (a
                        # reserved hand-off already paid c*k/2 in its ready time).
                        cost = self._mtx_enter + self._half_handoff
                    else:
                        cost = self._mtx_enter + 0.0
                elif kind is MTX_LEAVE:
                    cost = self._mtx_leave
                elif kind is RW_ENTER or kind is RW_TRY:
                    cost = self._rw_enter
                elif kind is RW_EXIT:
                    cost = self._rw_exit
                elif kind is SLEEP:
                    cost = self._sleep
                elif kind is WAKEUP:
                    cost = self._wakeup
                elif kind is RESUME:
                    cost = 0
                else:
                    cost = self._write
                times.system += cost
            if fold is not None:
                fold(c, cost, op)
            c.clock = t + cost
            self._prev = c
            self._prev_op = op
            return c

    # ---- scheduling helpers -------------------------------------------------------------
    def _push(self, c: CPU, t: float, prio: int = 1) -> None:
        self._heap.push(c.index, t, prio)

    def _push_index(self, idx: int, t: float, prio: int) -> None:
        self._heap.push(idx, t, prio)

    def _spin(self, st: MutexState, c: CPU, t: float) -> None:
        """`c` finds the mutex held or promised: it spins, queued, clock standing."""
        if t > c.clock:
            c.clock = t
        st.queue.append((c.index, t))
        self._heap.remove(c.index)  # not in the heap until handed the mutex

    # ---- after an operation: locks, wakeups, statistics ---------------------------------------
    def _lockstats(self, lock_class: str, site: tuple) -> tuple:
        """(code, lock statistics, site statistics) of an acquisition of `lock_class` at
        `site`; sites that print alike (one line) share their statistics."""
        code = site[0]
        key = (id(code), site[1], lock_class)
        entry = self._site_stats.get(key)
        if entry is None:
            # The entry holds the code object, so its id is not reused during the run.
            ls, ss = self.stats.lock(lock_class, format_site(site))
            entry = self._site_stats[key] = (code, ls, ss)
        return entry

    def _after(self, machine: Machine, c: CPU, op: tuple) -> None:
        kind, obj, field, site = op
        now = c.clock
        if kind is MTX_ENTER or kind is MTX_TRY:
            mtx = obj
            if mtx.owner is c:  # acquired (a try may have failed)
                st = self._prev_st  # found when it was chosen
                wait = self._prev_gap  # it spun from its arrival until `start`
                code = site[0]
                if code is st.site_code and site[1] == st.site_offset:
                    ls = st.ls  # taken where it was taken last
                    ss = st.ss
                else:
                    entry = self._site_stats.get((id(code), site[1], mtx.lock_class))
                    if entry is None:
                        entry = self._lockstats(mtx.lock_class, site)
                    _code, ls, ss = entry
                    st.site_code = code
                    st.site_offset = site[1]
                handoff = st.last_holder >= 0 and st.last_holder != c.index
                # The class's counts, maxima and histogram are its sites' (`SimStats.finish`);
                # only its float sums are streamed, in the order they always were.
                if wait > 0:
                    ls.wait_cycles += wait
                if wait > 0 or handoff:
                    ss.acquired(wait, handoff)
                else:  # uncontended, from the same CPU's cache: a count is all it changes
                    ss.acquisitions += 1
                st.reserved = -1
                st.holder = c.index
                st.acq_time = now
                st.ls = ls
                st.ss = ss
                if wait > 0 and self._tracing:
                    self.profile.span(
                        c.index, "wait " + obj.lock_class, self._prev_start - wait, wait
                    )
        elif kind is MTX_LEAVE:
            st = self._states.get(obj)
            if st is None:
                st = self.mutexes.state(obj)
            hold = now - st.acq_time
            if st.ls is None:  # released without an acquisition this engine saw
                st.ls, st.ss = self.stats.lock(obj.lock_class, "")
                st.site_code = None
            ls = st.ls
            ss = st.ss
            ls.hold_cycles += hold
            ss.released(hold)
            if self._tracing:
                self.profile.span(c.index, obj.lock_class, st.acq_time, hold)
            st.last_holder = c.index
            st.holder = -1
            if st.queue:  # someone spins for it
                self.mutexes.hand_off(st, now)
                self._push_index(st.reserved, st.ready, 0)
        elif kind is RW_ENTER or kind is RW_TRY:
            if obj.writer is c or c in obj.readers:
                wait = self._prev_gap  # it slept from its request until `start`
                _code, ls, ss = self._lockstats(obj.lock_class, site)
                if wait > 0:
                    ls.wait_cycles += wait
                ss.acquired(wait, False)
                self._rw_acq[(id(obj), c.index)] = (now, ls, ss)
        elif kind is RW_EXIT:
            acq = self._rw_acq.pop((id(obj), c.index), None)
            if acq is not None:
                hold = now - acq[0]
                acq[1].hold_cycles += hold
                acq[2].released(hold)
            self._wake(machine, obj.waiters, now)
        elif kind is SLEEP:
            if field is not None:
                if field.is_rwlock:
                    self._wake(machine, field.waiters, now)
                else:
                    st = self._states.get(field) or self.mutexes.state(field)
                    st.last_holder = c.index
                    if st.queue:
                        self.mutexes.hand_off(st, now)
                        self._push_index(st.reserved, st.ready, 0)
        elif kind is WAKEUP:
            for cpu in machine.cpus:
                if not cpu.done and cpu.op[0] is RESUME and cpu.runnable:
                    self._wake(machine, [cpu], now)

    def _wake(self, machine: Machine, waiters: list[CPU], now: float) -> None:
        lat = self._wakeup_latency
        for w in list(waiters):
            if w.runnable and not w.done:
                # Released before it got there in time: it never slept.
                self._push(w, w.clock if now <= w.clock else now + lat)

    def end(self, machine: Machine) -> None:
        """The per-class lock statistics from their sites' (the rest was streamed)."""
        self.stats.finish()


Engine.register(TimedEngine)
