"""The timed engine's run queue: which CPU has the earliest clock.

CPUs wait to perform their pending operation at a time; the earliest runs next, ties broken
by priority (0: a spin-mutex hand-off lands, 1: everything else) and then by CPU number.
A CPU is queued at most once: queueing it again moves it (its earlier time no longer holds,
as when it is queued for a new operation), and it can be taken out (it spins on a mutex
until a hand-off queues it again).  A binary heap indexed by CPU, over three parallel lists
(a compiled build reads their entries as C values: clockheap.pxd), so a move or a removal
finds the entry without a search and nothing is left behind to skip later.
"""

from __future__ import annotations


class ClockHeap:
    """(time, priority, CPU) entries, smallest first; `pos[cpu]` is the CPU's place or -1."""

    __slots__ = ("cpus", "pos", "prios", "times")

    def __init__(self, ncpu: int) -> None:
        self.times: list[float] = []  # heap place -> time
        self.prios: list[int] = []  # heap place -> priority
        self.cpus: list[int] = []  # heap place -> CPU number
        self.pos: list[int] = [-1] * ncpu  # CPU number -> heap place, -1: not queued

    def size(self) -> int:
        return len(self.cpus)

    def queued(self, cpu: int) -> bool:
        return self.pos[cpu] >= 0

    def push(self, cpu: int, t: float, prio: int) -> None:
        """Queue `cpu` at time `t` with priority `prio`, moving it if it is queued."""
        i = self.pos[cpu]
        if i < 0:
            i = len(self.cpus)
            self.times.append(t)
            self.prios.append(prio)
            self.cpus.append(cpu)
            self.pos[cpu] = i
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
        times, prios, cpus, pos = self.times, self.prios, self.cpus, self.pos
        pos[cpus[i]] = -1
        last = len(cpus) - 1
        t = times.pop()
        p = prios.pop()
        c = cpus.pop()
        if i < last:  # the last entry fills the hole, then finds its place
            times[i] = t
            prios[i] = p
            cpus[i] = c
            pos[c] = i
            self._up(i)
            self._down(pos[c])

    def _before(self, i: int, j: int) -> bool:
        """Whether entry `i` comes before entry `j`: (time, priority, CPU) in order."""
        ti = self.times[i]
        tj = self.times[j]
        if ti != tj:
            return ti < tj
        pi = self.prios[i]
        pj = self.prios[j]
        if pi != pj:
            return pi < pj
        return self.cpus[i] < self.cpus[j]

    def _swap(self, i: int, j: int) -> None:
        times, prios, cpus, pos = self.times, self.prios, self.cpus, self.pos
        times[i], times[j] = times[j], times[i]
        prios[i], prios[j] = prios[j], prios[i]
        ci = cpus[j]
        cj = cpus[i]
        cpus[i] = ci
        cpus[j] = cj
        pos[ci] = i
        pos[cj] = j

    def _up(self, i: int) -> None:
        while i > 0:
            parent = (i - 1) >> 1
            if not self._before(i, parent):
                break
            self._swap(i, parent)
            i = parent

    def _down(self, i: int) -> None:
        n = len(self.cpus)
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and self._before(child + 1, child):
                child += 1
            if not self._before(child, i):
                break
            self._swap(i, child)
            i = child
