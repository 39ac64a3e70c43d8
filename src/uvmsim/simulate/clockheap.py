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

    def queued(self, cpu: int) -> bool:
        return self.pos[cpu] >= 0

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
        if i < 0:  # a new leaf: it can only move up (`_up` records its place)
            i = self.n
            self.n = i + 1
            self.times[i] = t
            self.prios[i] = prio
            self.cpus[i] = cpu
            self._up(i)
        else:
            self.times[i] = t
            self.prios[i] = prio
            self._up(i)
            self._down(self.pos[cpu])

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
        if i < last:  # the last entry fills the hole, then finds its place
            c = self.cpus[last]
            self.times[i] = self.times[last]
            self.prios[i] = self.prios[last]
            self.cpus[i] = c
            self.pos[c] = i
            self._up(i)
            self._down(self.pos[c])

    def _up(self, i: int) -> None:
        """Move the entry at place `i` towards the root while it comes before its parent
        (parents move down into the hole; the entry is written once, at its place)."""
        times, prios, cpus, pos = self.times, self.prios, self.cpus, self.pos
        t = times[i]
        p = prios[i]
        c = cpus[i]
        while i > 0:
            parent = (i - 1) >> 1
            pt = times[parent]
            if t > pt:
                break
            if t == pt:  # ties: priority, then CPU number
                pp = prios[parent]
                if p > pp or (p == pp and c > cpus[parent]):
                    break
            times[i] = pt
            prios[i] = prios[parent]
            moved = cpus[parent]
            cpus[i] = moved
            pos[moved] = i
            i = parent
        times[i] = t
        prios[i] = p
        cpus[i] = c
        pos[c] = i

    def _down(self, i: int) -> None:
        """Move the entry at place `i` towards the leaves while a child comes before it."""
        times, prios, cpus, pos = self.times, self.prios, self.cpus, self.pos
        n = self.n
        t = times[i]
        p = prios[i]
        c = cpus[i]
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            ct = times[child]
            cp = prios[child]
            cc = cpus[child]
            right = child + 1
            if right < n:  # the earlier of the two children
                rt = times[right]
                if rt < ct or (
                    rt == ct and (prios[right] < cp or (prios[right] == cp and cpus[right] < cc))
                ):
                    child = right
                    ct = rt
                    cp = prios[right]
                    cc = cpus[right]
            if ct > t or (ct == t and (cp > p or (cp == p and cc > c))):
                break
            times[i] = ct
            prios[i] = cp
            cpus[i] = cc
            pos[cc] = i
            i = child
        times[i] = t
        prios[i] = p
        cpus[i] = c
        pos[c] = i
