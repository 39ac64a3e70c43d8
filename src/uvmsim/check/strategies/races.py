"""Happens-before and reversible races of an execution, shared by source- and optimal DPOR.

Both DPOR strategies learn from an execution the same thing: which pairs of events *race*,
i.e. are dependent, belong to different CPUs, the first happens before the second directly
(not through a third event), and the second could have run first.  The last condition is
what makes a race *reversible*, and what locks make subtle.  `HappensBefore` computes the
vector clocks of an execution's events one event at a time and returns, for each new event,
the earlier events it races with; `truncate` forgets the tail of the execution (the part the
next execution will run differently), so each execution only pays for the events it added.

Dependency is `ops.dependent`: every operation on a lock or a wait channel depends on every
other one on it (a lock is a read-modify-write word, as in Nidhugg), two field accesses
conflict when one writes.  So all operations on one lock are totally ordered and only the
last one before an event is its direct predecessor there.  Which of them an event races with:

- a *blocking* acquisition (`mtx_enter`, `rw_enter`) never overtakes the release that let it
  in: a CPU waiting for a lock takes no step, so moving the acquisition before that release
  is not an execution.  It races instead with the latest earlier operation on the lock *in
  front of which it could have run*, decided from the lock's holders recorded before each
  lock operation (`lock_before`): for a mutex, the previous successful acquisition (blocking
  or try), where the lock was free.  Never a failed try-lock: the lock was held then.
- a try-lock never blocks: it races with the lock operation just before it, whatever it is
  (a release: before it, the try fails; an acquisition: the try could have won).
- a release races with another CPU's operation just before it: a (failed) try-lock, which
  run after the release succeeds (with an rwlock also another reader's acquisition or
  release; for a mutex nothing else can come between the holder's acquisition and release).
- the return from a sleep (`resume`) never overtakes the wakeup that let it go, but races with
  an operation on the channel that followed that wakeup; sleeps and wakeups race with the
  operation on the channel before them.

A sleep also releases its interlock: it is a release of that lock in the rules above.

Until issue 14 source-DPOR (strategies/dpor.py) had its own rules: a blocking acquisition
raced with the previous acquisition *or try-lock* of each other CPU, failed or not (a reversal
that cannot run: DPOR then fell back to exploring every enabled CPU there), and a release
raced with nothing, so the trace where a failed try-lock comes after the release instead of
before it was never explored (docs/checker.md, "The try-lock fix").  The rules above are the
ones optimal DPOR was written and tested with (tests/check/test_dpor_traces.py compares both
with plain DFS, trace by trace).

Limit: an rwlock's readers also wait while a *writer waits* (RWLOCK_WRWANT), which depends on
another CPU's pending operation, not on an event: for reads taken while a writer may wait, a
reversal may not run as predicted (optimal DPOR reports it; the UVM model takes no read holds).
"""

from __future__ import annotations

from typing import Any

from uvmsim.check.ops import Key, resources
from uvmsim.machine.core import LOCK_KINDS, RW_ENTER, SLEEP
from uvmsim.machine.rwlock import RW_WRITE

LockState = tuple[int, tuple[int, ...]]
"""A lock's holders before an operation: (exclusive holder's CPU or -1, CPUs holding it shared)."""

FREE: LockState = (-1, ())
NO_LOCK: tuple[LockState, bool] = (FREE, False)


def _holders(lock: Any) -> LockState:
    """The holders of a Mutex or an RWLock, by CPU index."""
    if lock.is_rwlock:
        w = lock.writer
        return (-1 if w is None else w.index, tuple(sorted(c.index for c in lock.readers)))
    owner = lock.owner
    return (-1 if owner is None else owner.index, ())


def lock_before(cpu: Any) -> tuple[LockState, bool]:
    """The holders of the lock `cpu`'s pending operation touches, before it runs, and whether
    the operation asks for a shared hold (an rwlock read); `NO_LOCK` for other operations.

    Engines call it for the operation they choose; races need it to tell whether a blocking
    acquisition could have run before an earlier lock operation.
    """
    kind, obj, fld, _site = cpu.op
    if kind in LOCK_KINDS:
        return _holders(obj), kind == RW_ENTER and not cpu.want & RW_WRITE
    if kind == SLEEP and fld is not None:  # the sleep releases its interlock
        return _holders(fld), False
    return NO_LOCK


def can_acquire(shared: bool, state: LockState) -> bool:
    """Whether an acquisition (shared: an rwlock read) would not block in lock state `state`."""
    holder, readers = state
    return holder < 0 and (shared or not readers)


_MISSING = object()


class HappensBefore:
    """Vector clocks and reversible races of the current execution, with an undo log.

    `add(j, cpu, key, lock)` appends event j (`lock` = `lock_before` of its operation) and
    returns the earlier events it races with, in increasing order; `truncate(k)` forgets
    events k.. and restores the state the first k events left.  `vcs[e]` is event e's vector
    clock, `cpu_of[e]` its CPU and `idx_of[e]` its 1-based index among that CPU's events, so
    e happens before f exactly when `vcs[f][cpu_of[e]] >= idx_of[e]`.
    """

    def __init__(self, ncpu: int):
        self.n = ncpu
        self.vcs: list[list[int]] = []
        self.cpu_of: list[int] = []
        self.idx_of: list[int] = []
        self.local = [0] * ncpu
        self.prev_of = [-1] * ncpu  # CPU -> its last event, or -1
        self._zero = [0] * ncpu
        self.fields: dict[tuple, dict[int, dict[str, int]]] = {}  # field -> CPU -> mode -> ev
        self.lock_ops: dict[tuple, list[int]] = {}  # lock -> its operations, in order
        self.lock_states: list[LockState] = []  # per event: its lock's holders before it
        self.chan_last: dict[tuple, int] = {}  # channel -> its last operation
        self.asleep: dict[tuple, tuple[int, ...]] = {}  # channel -> CPUs asleep on it
        self.woken_by: dict[tuple[tuple, int], int] = {}  # (channel, CPU) -> its wakeup
        self._undo: list[list[tuple]] = []  # per event: what to restore when it is forgotten
        # key -> (resource, mode, its kind, its history container) per resource it touches:
        # found once per key, not per event (containers are never replaced, only restored).
        self._resources: dict[Key, tuple] = {}

    def __len__(self) -> int:
        return len(self.vcs)

    def happens_before(self, e: int, f: int) -> bool:
        """Whether event e happens before event f (e < f)."""
        return self.vcs[f][self.cpu_of[e]] >= self.idx_of[e]

    def notdep(self, i: int, end: int) -> list[int]:
        """The events after i, up to `end` (exclusive), that do not happen after i."""
        p, mark, vcs = self.cpu_of[i], self.idx_of[i], self.vcs
        return [e for e in range(i + 1, end) if vcs[e][p] < mark]

    def truncate(self, k: int) -> None:
        """Forget events k.. (restoring clocks, last accesses and channel state)."""
        n = len(self.vcs)
        if n <= k:
            return
        undo, local, cpu_of = self._undo, self.local, self.cpu_of
        missing = _MISSING
        for e in range(n - 1, k - 1, -1):
            local[cpu_of[e]] -= 1
            for entry in reversed(undo[e]):
                if len(entry) == 1:
                    entry[0].pop()
                else:
                    container, key, old = entry
                    if old is missing:
                        del container[key]
                    else:
                        container[key] = old
        del self.vcs[k:], cpu_of[k:], self.idx_of[k:], self.lock_states[k:], undo[k:]

    def _container(self, res: tuple) -> Any:
        """The history of `res`: a lock's operations, a field's last accesses per CPU (a
        channel's state is in `chan_last`, `asleep` and `woken_by`)."""
        if res[0] == "l":
            return self.lock_ops.setdefault(res, [])
        if res[0] == "c":
            return None
        return self.fields.setdefault(res, {})

    def add(self, j: int, q: int, key: Key, lock: tuple[LockState, bool] = NO_LOCK) -> list[int]:
        """Append event j (CPU q's operation `key`); return the earlier events racing with it."""
        vcs, cpu_of = self.vcs, self.cpu_of
        res_modes = self._resources.get(key)
        if res_modes is None:
            res_modes = self._resources[key] = tuple(
                (res, mode, res[0], self._container(res)) for res, mode in resources(key)
            )
        state, shared = lock
        deps: list[int] = []
        cands: dict[int, int] = {}  # candidate -> the lock event it reaches j through, or -1
        undo: list[tuple] = []
        for res, mode, kind, box in res_modes:
            if kind == "l":
                hist = box
                if hist:
                    la = hist[-1]
                    deps.append(la)
                    if mode == "acq":
                        # The latest operation it could have run before: an acquisition never
                        # overtakes the release that let it in.
                        states = self.lock_states
                        for y in reversed(hist):
                            if can_acquire(shared, states[y]):
                                if cpu_of[y] != q:
                                    cands[y] = la
                                break
                    elif cpu_of[la] != q:
                        cands[la] = la
                hist.append(j)
                undo.append((hist,))
            elif kind == "c":
                la = self.chan_last.get(res, -1)
                if mode == "sleep":
                    old = self.asleep.get(res, ())
                    undo.append((self.asleep, res, old if old else _MISSING))
                    self.asleep[res] = (*old, q)
                elif mode == "wake":
                    sleepers = self.asleep.pop(res, ())
                    if sleepers:
                        undo.append((self.asleep, res, sleepers))
                    for s in sleepers:
                        wk = (res, s)
                        undo.append((self.woken_by, wk, self.woken_by.get(wk, _MISSING)))
                        self.woken_by[wk] = j
                if la >= 0:
                    deps.append(la)
                    enabler = -1
                    if mode == "resume":
                        # The return from a sleep cannot overtake the wakeup that let it go.
                        wk = (res, q)
                        enabler = self.woken_by.pop(wk, -1)
                        if enabler >= 0:
                            undo.append((self.woken_by, wk, enabler))
                    if cpu_of[la] != q and la != enabler:
                        cands[la] = la
                undo.append((self.chan_last, res, la if la >= 0 else _MISSING))
                self.chan_last[res] = j
            else:  # a field (or an unknown kind, as a write of its object)
                per_cpu = box
                for p, marks in per_cpu.items():
                    if p == q or not marks:  # an undo may leave a CPU's marks empty
                        continue
                    d = marks.get("w", -1) if mode == "r" else max(marks.values())
                    if d >= 0:
                        deps.append(d)
                        cands.setdefault(d, -1)
                mine = per_cpu.get(q)
                if mine is None:
                    mine = per_cpu[q] = {}
                undo.append((mine, mode, mine.get(mode, _MISSING)))
                mine[mode] = j
        prev_of = self.prev_of
        prev = prev_of[q]
        base = vcs[prev] if prev >= 0 else self._zero
        idx_of = self.idx_of
        # A dependency that already happens before q's previous event adds nothing to j's
        # clock (clocks grow along happens-before) and is never a race (every clock below
        # includes `base`): only the others are merged.
        if deps:
            deps = [d for d in deps if base[cpu_of[d]] < idx_of[d]]
        vc = base
        for d in deps:
            vc = list(map(max, vc, vcs[d]))
        if vc is base:
            vc = base.copy()
        local = self.local
        local[q] += 1
        mine_idx = vc[q] = local[q]
        undo.append((prev_of, q, prev))
        prev_of[q] = j
        races = []
        if cands:
            for x, through in cands.items():
                if base[cpu_of[x]] >= idx_of[x]:
                    continue
                w = base  # with no other edge, only j's program order may order x before j
                for d in deps:
                    if d != x and d != through:
                        w = list(map(max, w, vcs[d]))
                if w[cpu_of[x]] < idx_of[x]:
                    races.append(x)
            if len(races) > 1:
                races.sort()
        vcs.append(vc)
        cpu_of.append(q)
        idx_of.append(mine_idx)
        self.lock_states.append(state)
        self._undo.append(undo)
        return races
