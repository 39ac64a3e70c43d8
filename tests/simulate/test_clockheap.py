"""The timed engine's run queue against the lazy-deletion heap it replaced.

The engine used to keep (time, priority, CPU, token) tuples on a `heapq`, with a token per
CPU that every push or removal bumped, and skipped entries whose token was stale.  The
indexed heap must give the CPUs in the same order for any sequence of pushes, moves,
removals and pops (ties on time broken by priority, then CPU number).
"""

from __future__ import annotations

import heapq
import random

import pytest

from uvmsim.simulate.clockheap import ClockHeap


class TokenHeap:
    """The old scheme, as the engine had it."""

    def __init__(self, n: int) -> None:
        self.heap: list[tuple] = []
        self.token = [0] * n

    def push(self, cpu: int, t: float, prio: int) -> None:
        self.token[cpu] += 1
        heapq.heappush(self.heap, (t, prio, cpu, self.token[cpu]))

    def remove(self, cpu: int) -> None:
        self.token[cpu] += 1

    def _clean(self) -> None:
        while self.heap and self.heap[0][3] != self.token[self.heap[0][2]]:
            heapq.heappop(self.heap)

    def size(self) -> int:
        return len({(e[2], e[3]) for e in self.heap if e[3] == self.token[e[2]]})

    def first(self) -> tuple | None:
        self._clean()
        return self.heap[0][:3] if self.heap else None

    def pop(self) -> int:
        self._clean()
        return heapq.heappop(self.heap)[2]


@pytest.mark.parametrize("seed", range(40))
def test_same_order_as_the_token_heap(seed):
    rng = random.Random(seed)
    n = rng.choice([1, 2, 3, 16, 80])
    new, old = ClockHeap(n), TokenHeap(n)
    times = [0, 1, 1.5, 2, 7, 100.25] if seed % 2 else [rng.random() * 1e6 for _ in range(6)]
    for _step in range(600):
        op = rng.random()
        cpu = rng.randrange(n)
        if op < 0.55:
            t, prio = rng.choice(times), rng.choice([0, 1, 1, 1])
            new.push(cpu, t, prio)
            old.push(cpu, t, prio)
        elif op < 0.7:
            new.remove(cpu)
            old.remove(cpu)
        elif new.n:
            assert (new.first_time(), new.first_prio(), new.first()) == old.first()
            assert new.pop() == old.pop()
        assert new.n == old.size()
        assert all(new.pos[new.cpus[i]] == i for i in range(new.n))
        assert sum(p >= 0 for p in new.pos) == new.n
    out_new, out_old = [], []
    while new.n:
        out_new.append(new.pop())
    while old.first() is not None:
        out_old.append(old.pop())
    assert out_new == out_old


def test_a_queued_cpu_moves_and_a_removed_one_is_gone():
    h = ClockHeap(4)
    for cpu, t in enumerate([40, 10, 30, 20]):
        h.push(cpu, t, 1)
    h.push(0, 5, 1)  # moved to the front
    h.remove(2)
    h.push(3, 10, 0)  # ties with cpu1 at 10: priority 0 first
    assert h.pos[1] >= 0 and h.pos[2] == -1
    assert [h.pop() for _ in range(h.n)] == [0, 3, 1]
    assert list(h.pos) == [-1, -1, -1, -1]
