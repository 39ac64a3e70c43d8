"""WITNESS-style lock-order checking by lock class (`sys/kern/subr_witness.c`).

Every blocking acquisition of lock class B while the CPU holds class A records the order
A -> B with both acquisition sites, the first time it is seen.  An acquisition that would close
a cycle is a "lock order reversal", reported with the sites of both orders even when the
explored schedule did not deadlock.  As in WITNESS, try-locks (`mtx_enter_try`,
`rw_enter(..., RW_NOSLEEP)`) are not order-checked and add no edges, but once held they are
the "A" of later blocking acquisitions.  Locks of the same class do not order against each
other here (the kernel marks such nestings DUPOK where it does them).
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import failure as fk
from uvmsim.machine.sites import format_site


class Witness:
    """The lock-order graph of one execution."""

    __slots__ = ("edges", "machine", "succ")

    def __init__(self, machine: Any):
        self.machine = machine
        self.edges: dict[tuple[str, str], tuple] = {}
        self.succ: dict[str, list[str]] = {}

    def _held(self, cpu: Any) -> list[tuple[Any, tuple]]:
        held = [(m, m.site) for m in cpu.mutexes]
        held.extend(cpu.rwlocks)
        return held

    def check_order(self, cpu: Any, lock: Any, site: tuple) -> None:
        """Before a blocking acquisition of `lock`: add edges, report a reversal."""
        b = lock.lock_class
        for held, held_site in self._held(cpu):
            a = held.lock_class
            if a == b or (a, b) in self.edges:
                continue
            path = self._path(b, a)
            if path is not None:
                first = self.edges[(path[0], path[1])]
                self.machine._fail(
                    fk.LOCK_ORDER,
                    f"lock order reversal: {b} acquired while holding {a}, "
                    f"but {' -> '.join(path)} was established first",
                    cpu,
                    [
                        f"1st {a} acquired at {format_site(held_site)}",
                        f"2nd {b} acquired at {format_site(site)}",
                        f"earlier: {path[0]} held from {format_site(first[0])}, "
                        f"{path[1]} acquired at {format_site(first[1])} on cpu{first[2]}",
                    ],
                )
            self.edges[(a, b)] = (held_site, site, cpu.index)
            self.succ.setdefault(a, []).append(b)

    def _path(self, start: str, goal: str) -> list[str] | None:
        """A path start ->* goal in the order graph (depth-first, deterministic order)."""
        stack = [(start, [start])]
        seen = {start}
        while stack:
            node, path = stack.pop()
            if node == goal:
                return path
            for nxt in reversed(self.succ.get(node, ())):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None
