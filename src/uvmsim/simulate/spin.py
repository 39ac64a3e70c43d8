"""The spin-mutex model of the timed engine: who spins, who gets the mutex, and when.

OpenBSD's mutexes spin.  A CPU that finds a mutex held (or promised to another CPU) queues as
a spinner with its clock standing still; when the owner releases at time T, one spinner gets
the mutex at max(T, its arrival) + c*k/2 cycles, where c is the cache-line hand-off cost and
k the CPUs in the lock's system when the holder left (Boyd-Wickizer et al. 2012).  `cas`
picks the winner at random among the spinners (a CAS loop is unfair), `fifo` picks the
longest waiting (a ticket lock).  Nobody barges in while a hand-off is in flight.
"""

from __future__ import annotations

import random
from typing import Any

from uvmsim.machine.failure import InputError

DISCIPLINES = ("cas", "fifo")


class MutexState:
    """The engine's view of one spin mutex: its spinners and an in-flight hand-off."""

    __slots__ = (
        "acq_time",
        "holder",
        "last_holder",
        "ls",
        "mutex",
        "queue",
        "ready",
        "reserved",
        "site_code",
        "site_offset",
        "ss",
    )

    def __init__(self, mutex: Any) -> None:
        self.mutex = mutex
        self.queue: list[tuple[int, float]] = []  # (cpu, arrival time), arrival order
        self.reserved = -1  # the CPU a hand-off is in flight to
        self.ready = 0.0  # when that hand-off lands
        self.holder = -1
        self.last_holder = -1
        self.acq_time = 0.0
        # The statistics of the current (or last) holder's acquisition: its lock class and
        # site, found once per acquisition instead of once per release.
        self.ls: Any = None
        self.ss: Any = None
        # The site (code, offset) those statistics belong to: a mutex taken again where it
        # was last taken (most acquisitions) finds its statistics without a table lookup.
        self.site_code: Any = None
        self.site_offset = -1


class SpinMutexes:
    """Every spin mutex of one run, and the hand-off rule (see the module docstring)."""

    def __init__(
        self,
        discipline: str,
        handoff: float,
        rng: random.Random,
    ) -> None:
        if discipline not in DISCIPLINES:
            raise InputError(
                f"discipline {discipline!r} is unknown; accepted: {', '.join(DISCIPLINES)}"
            )
        self.fifo = discipline == "fifo"
        self.handoff = handoff
        self.rng = rng
        # Keyed by the mutex itself (identity: a mutex has no __eq__), which keeps it alive.
        self._states: dict[Any, MutexState] = {}

    def state(self, m: Any) -> MutexState:
        st = self._states.get(m)
        if st is None:
            st = self._states[m] = MutexState(m)
        return st

    def hand_off(self, st: MutexState, now: float) -> None:
        """The mutex is free at `now`: promise it to one spinner after the hand-off delay.

        `st.reserved` is then that spinner and `st.ready` when it gets the mutex; the engine
        puts it back on its clock heap at that time.
        """
        q = st.queue
        if not q:
            return
        pos = 0 if self.fifo or len(q) == 1 else self.rng.randrange(len(q))
        # k = the CPUs in the lock's system when the holder left: the waiters and itself.
        k = len(q) + 1
        idx, arrival = q.pop(pos)
        ready = max(now, arrival) + self.handoff * k / 2
        st.reserved = idx
        st.ready = ready
