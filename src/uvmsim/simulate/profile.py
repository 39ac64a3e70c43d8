"""Optional outputs of a timed run: folded stacks of simulated CPU time (for flamegraph.pl)
and lock wait/hold spans for a Chrome/Perfetto trace.  Off unless asked for: they cost a
stack walk per charged operation."""

from __future__ import annotations

from typing import Any

from uvmsim.machine.core import WORK
from uvmsim.machine.sites import innermost_frame, model_stack

TRACE_LIMIT = 200_000  # spans kept in a trace (a longer run keeps its first ones)


class Profile:
    """What a run records for the folded-stack and trace outputs."""

    def __init__(self, folded: bool, trace: bool, trace_limit: int = TRACE_LIMIT) -> None:
        self.folded: dict[str, float] | None = {} if folded else None
        self.trace: list[dict] | None = [] if trace else None
        self.trace_limit = trace_limit

    def fold(self, c: Any, cycles: float, what: Any) -> None:
        """Charge `cycles` of CPU `c` to its model stack plus a leaf naming `what` (an
        operation, a string such as "spin pageqlock", or None for idle)."""
        folded = self.folded
        if folded is None or cycles <= 0:
            return
        g = c.greenlet
        frame = innermost_frame() if g.gr_frame is None else g.gr_frame  # None: running
        stack = ";".join(model_stack(frame)) or "idle"
        if what is None:
            leaf = "idle"
        elif isinstance(what, str):
            leaf = what
        else:
            leaf = f"{what[0]}" if what[0] is not WORK else f"work:{what[2]}"
        key = f"cpu{c.index};{stack};{leaf}"
        folded[key] = folded.get(key, 0) + cycles

    def span(self, cpu: int, name: str, start: float, dur: float) -> None:
        """A lock wait (`name` "wait <class>") or hold (`name` the lock class) of `cpu`."""
        trace = self.trace
        if trace is None or len(trace) >= self.trace_limit:
            return
        trace.append(
            {
                "name": name,
                "ph": "X",
                "pid": 0,
                "tid": cpu,
                "ts": start / 3000.0,  # microseconds of a 3 GHz CPU
                "dur": dur / 3000.0,
                "cat": "wait" if name.startswith("wait") else "hold",
            }
        )
