# cython: wraparound=False, boundscheck=False
# (compiled build: every index here is a place below n or a CPU number below the size the
# arrays were made with, never negative; pure Python checks them, and the tests run both)
"""The timed engine's run queue: which CPU has the earliest clock.

CPUs wait to perform their pending operation at a time; the earliest runs next, ties broken
by priority (0: a spin-mutex hand-off lands, 1: everything else) and then by CPU number.
A CPU is queued at most once: queueing it again moves it (its earlier time no longer holds,
as when it is queued for a new operation), and it can be taken out (it spins on a mutex
until a hand-off queues it again).  A binary heap indexed by CPU, so a move or a removal
finds the entry without a search and nothing is left behind to skip later.  Its entries
live in four arrays of machine numbers (`array.array`: a compiled build indexes them as C
arrays, clockheap.pxd), sized once for the machine's CPUs: at most one entry per CPU.
Times are doubles in both builds: cycle counts, exact below 2**53.
"""

from __future__ import annotations

from array import array


class ClockHeap:
    """(time, priority, CPU) entries, smallest first, in places 0..n-1; `pos[cpu]` is the
    CPU's place or -1."""

    __slots__ = ("cpus", "n", "pos", "prios", "times")

    def __init__(self, ncpu: int) -> None:
        self.n = 0
        self.times = array("d", [0.0]) * ncpu  # heap place -> time
        self.prios = array("q", [0]) * ncpu  # heap place -> priority
        self.cpus = array("q", [0]) * ncpu  # heap place -> CPU number
        self.pos = array("q", [-1]) * ncpu  # CPU number -> heap place, -1: not queued

    def first(self) -> int:
        """The first CPU (the queue must not be empty)."""
        return self.cpus[0]

    def first_time(self) -> float:
        return self.times[0]

    def first_prio(self) -> int:
        return self.prios[0]

    def push(self, cpu: int, t: float, prio: int) -> None:
        """Queue `cpu` at time `t` with priority `prio`, moving it if it is queued."""
        i = self.pos[cpu]
        if i < 0:  # a new leaf
            i = self.n
            self.n = i + 1
        self._sift(i, t, prio, cpu)

    def remove(self, cpu: int) -> None:
        """Take `cpu` out of the queue, if it is in."""
        i = self.pos[cpu]
        if i >= 0:
            self._take(i)

    def pop(self) -> int:
        """Take out the first CPU and return its number (the queue must not be empty)."""
        cpu = self.cpus[0]
        self._take(0)
        return cpu

    def _take(self, i: int) -> None:
        self.pos[self.cpus[i]] = -1
        last = self.n - 1
        self.n = last
        if i < last:  # the last entry fills the hole
            self._sift(i, self.times[last], self.prios[last], self.cpus[last])

    def _sift(self, i: int, t: float, p: int, c: int) -> None:
        """Put the entry (t, p, c) at its place, starting from the hole at place `i`: up
        while it comes before the parent, else down while a child comes before it (entries
        on the way move into the hole; the entry is written once, at its place)."""
        # The arrays are read through `self` rather than bound to locals: in the compiled
        # build a local copy of a typed memoryview takes and drops an atomic reference count
        # on every call, which costs more than the attribute reads it saves.
        start = i
        while i > 0:
            parent = (i - 1) >> 1
            if not _earlier(t, p, c, self.times[parent], self.prios[parent], self.cpus[parent]):
                break
            self._place(i, self.times[parent], self.prios[parent], self.cpus[parent])
            i = parent
        if i == start:
            n = self.n
            while True:
                child = 2 * i + 1
                if child >= n:
                    break
                right = child + 1
                if right < n and _earlier(
                    self.times[right],
                    self.prios[right],
                    self.cpus[right],
                    self.times[child],
                    self.prios[child],
                    self.cpus[child],
                ):
                    child = right
                if not _earlier(self.times[child], self.prios[child], self.cpus[child], t, p, c):
                    break
                self._place(i, self.times[child], self.prios[child], self.cpus[child])
                i = child
        self._place(i, t, p, c)

    def _place(self, i: int, t: float, p: int, c: int) -> None:
        self.times[i] = t
        self.prios[i] = p
        self.cpus[i] = c
        self.pos[c] = i


def _earlier(t1: float, p1: int, c1: int, t2: float, p2: int, c2: int) -> bool:
    """Whether entry (t1, p1, c1) comes before (t2, p2, c2): by time, then priority, then CPU."""
    if t1 != t2:
        return t1 < t2
    if p1 != p2:
        return p1 < p2
    return c1 < c2
