"""Lockstat-style statistics, streamed: counters, sums, maxima and log2 histograms only.

Per lock (by WITNESS lock class, e.g. `pageqlock`, `vmobjlock`) and per acquisition site, the
union of Linux lock_stat and FreeBSD LOCK_PROFILING: acquisitions, contended acquisitions,
wait (spin or sleep) total/max/histogram, hold total/max, and hand-offs between CPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Histogram:
    """Counts per power-of-two bucket of cycles: bucket b holds values in [2^b, 2^(b+1)).

    A slotted class (a C type in the compiled build): `LockStat.acquired` adds to it, as a C
    method call, on every contended acquisition.
    """

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = {} if counts is None else counts

    def add(self, value: float) -> None:
        # int(value).bit_length(), as a loop the compiled build runs on a C integer instead of
        # a Python int and a method call.  Cycle counts stay far below 2**62; anything else
        # (an infinite or NaN time) is an error in both builds, not a C cast's garbage.
        if not -(2.0**62) < value < 2.0**62:
            raise ValueError(f"histogram: a time of {value} cycles")
        n = int(value)
        if n < 0:
            n = -n
        b = 0
        while n:
            n >>= 1
            b += 1
        self.counts[b] = self.counts.get(b, 0) + 1

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.counts == other.counts  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq

    def __repr__(self) -> str:
        return f"Histogram(counts={self.counts!r})"

    def to_json(self) -> dict[str, int]:
        return {f"<{1 << b}": n for b, n in sorted(self.counts.items())}


class LockStat:
    """One lock class's or acquisition site's statistics.

    A slotted class rather than a dataclass: the engine updates one on every acquisition and
    release, and a compiled build makes it a C type (stats.pxd), its counters struct fields.
    """

    __slots__ = (
        "acquisitions",
        "contended",
        "handoffs",
        "hold_cycles",
        "hold_max",
        "wait_cycles",
        "wait_hist",
        "wait_max",
    )

    def __init__(
        self,
        acquisitions: int = 0,
        contended: int = 0,
        wait_cycles: float = 0.0,
        wait_max: float = 0.0,
        hold_cycles: float = 0.0,
        hold_max: float = 0.0,
        handoffs: int = 0,
        wait_hist: Histogram | None = None,
    ):
        self.acquisitions = acquisitions
        self.contended = contended
        self.wait_cycles = wait_cycles
        self.wait_max = wait_max
        self.hold_cycles = hold_cycles
        self.hold_max = hold_max
        self.handoffs = handoffs
        self.wait_hist = Histogram() if wait_hist is None else wait_hist

    def _fields(self) -> tuple:
        return (
            self.acquisitions,
            self.contended,
            self.wait_cycles,
            self.wait_max,
            self.hold_cycles,
            self.hold_max,
            self.handoffs,
            self.wait_hist,
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq

    def __repr__(self) -> str:
        return (
            f"LockStat(acquisitions={self.acquisitions!r}, contended={self.contended!r}, "
            f"wait_cycles={self.wait_cycles!r}, wait_max={self.wait_max!r}, "
            f"hold_cycles={self.hold_cycles!r}, hold_max={self.hold_max!r}, "
            f"handoffs={self.handoffs!r}, wait_hist={self.wait_hist!r})"
        )

    def acquired(self, wait: float, handoff: bool) -> None:
        self.acquisitions += 1
        if wait > 0:
            self.contended += 1
            self.wait_cycles += wait
            if wait > self.wait_max:
                self.wait_max = wait
            self.wait_hist.add(wait)
        if handoff:
            self.handoffs += 1

    def released(self, hold: float) -> None:
        self.hold_cycles += hold
        if hold > self.hold_max:
            self.hold_max = hold

    def to_json(self) -> dict:
        acq = self.acquisitions or 1
        return {
            "acquisitions": self.acquisitions,
            "contended": self.contended,
            "wait_cycles": round(self.wait_cycles),
            "wait_avg": round(self.wait_cycles / self.contended) if self.contended else 0,
            "wait_max": round(self.wait_max),
            "wait_histogram": self.wait_hist.to_json(),
            "hold_cycles": round(self.hold_cycles),
            "hold_avg": round(self.hold_cycles / acq),
            "hold_max": round(self.hold_max),
            "handoffs": self.handoffs,
        }


class CpuTime:
    """One CPU's user, system, spin and idle cycles (a slotted class, as `LockStat`: the
    engine adds to one on every operation)."""

    __slots__ = ("idle", "spin", "system", "user")

    def __init__(
        self, user: float = 0.0, system: float = 0.0, spin: float = 0.0, idle: float = 0.0
    ):
        self.user = user
        self.system = system
        self.spin = spin
        self.idle = idle

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self.user, self.system, self.spin, self.idle) == (
            other.user,  # type: ignore[attr-defined]
            other.system,  # type: ignore[attr-defined]
            other.spin,  # type: ignore[attr-defined]
            other.idle,  # type: ignore[attr-defined]
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"CpuTime(user={self.user!r}, system={self.system!r}, spin={self.spin!r}, "
            f"idle={self.idle!r})"
        )

    def to_json(self) -> dict:
        return {
            "user": round(self.user),
            "system": round(self.system),
            "spin": round(self.spin),
            "idle": round(self.idle),
        }


@dataclass
class SimStats:
    locks: dict[str, LockStat] = field(default_factory=dict)
    sites: dict[str, dict[str, LockStat]] = field(default_factory=dict)
    cpus: list[CpuTime] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def lock(self, lock_class: str, site: str) -> tuple[LockStat, LockStat]:
        ls = self.locks.get(lock_class)
        if ls is None:
            ls = self.locks[lock_class] = LockStat()
            self.sites[lock_class] = {}
        ss = self.sites[lock_class].get(site)
        if ss is None:
            ss = self.sites[lock_class][site] = LockStat()
        return ls, ss

    def finish(self) -> None:
        """Fill in each lock class's counts, maxima and wait histogram from its sites.

        Every acquisition and release is recorded at exactly one site of its class, so these
        are the sums and maxima of the sites' own; the engine streams only the class's float
        sums (wait and hold cycles), whose value depends on the order they are added in.
        Idempotent.
        """
        for lock_class, ls in self.locks.items():
            sites = self.sites[lock_class].values()
            ls.acquisitions = sum(s.acquisitions for s in sites)
            ls.contended = sum(s.contended for s in sites)
            ls.handoffs = sum(s.handoffs for s in sites)
            ls.wait_max = max((s.wait_max for s in sites), default=0.0)
            ls.hold_max = max((s.hold_max for s in sites), default=0.0)
            counts: dict[int, int] = {}
            for s in sites:
                for b, n in s.wait_hist.counts.items():
                    counts[b] = counts.get(b, 0) + n
            ls.wait_hist.counts = counts

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def total(self) -> CpuTime:
        t = CpuTime()
        for c in self.cpus:
            t.user += c.user
            t.system += c.system
            t.spin += c.spin
            t.idle += c.idle
        return t
