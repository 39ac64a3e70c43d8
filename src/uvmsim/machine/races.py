"""Happens-before data-race detection with vector clocks (FastTrack-style epochs).

Each CPU carries a vector clock; releasing a mutex, an rwlock or issuing a wakeup publishes the
releaser's clock on the lock (or the woken sleeper), acquiring joins it.  Atomics create no
ordering (OpenBSD's atomic_* imply no barrier).  For every field the detector keeps the last
write (CPU, epoch, site, atomic or plain) and the last plain read per CPU.  Two accesses from
different CPUs race when at least one is a plain write and neither happens before the other;
an atomic update races only with a plain write.  A race is reported with both sites.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import failure as fk
from uvmsim.machine.sites import format_site


class _Cell:
    """The race state of one (object, field): the last write and the last plain reads."""

    __slots__ = ("atomic", "epoch", "obj", "readers", "site", "writer")

    def __init__(self, obj: Any):
        self.writer = -1  # the CPU of the last write, or -1
        self.epoch = 0  # its clock then
        self.site = None  # where it wrote
        self.atomic = False  # whether it was an atomic update
        self.readers: dict = {}  # CPU -> (its clock, site) of its last plain read since then
        # The object itself: held so that its id cannot be reused by a new object while this
        # execution runs.
        self.obj = obj


class RaceDetector:
    """Per-execution race state: one cell per (object, field) touched by a CPU."""

    __slots__ = ("cells", "machine", "ordered")

    def __init__(self, machine: Any):
        self.machine = machine
        # id(object) -> field -> its cell.  id() keys are only looked up, never iterated, so
        # they cannot break determinism; each cell holds its object, so an id is never reused
        # within the execution.  Two levels instead of one (id, field) key: no tuple is built
        # and hashed on every plain access.
        self.cells: dict[int, dict[str, _Cell]] = {}
        # (object, field) -> [the clock released there by the last fully ordered atomic,
        # the object]: the ordering Linux's value-returning atomics give runs through the word.
        self.ordered: dict[tuple[int, str], list] = {}

    def _cell(self, obj: Any, name: str) -> _Cell:
        per_obj = self.cells.get(id(obj))
        if per_obj is None:
            per_obj = self.cells[id(obj)] = {}
        cell = per_obj.get(name)
        if cell is None:
            cell = per_obj[name] = _Cell(obj)
        return cell

    def plain(self, cpu: Any, obj: Any, desc: Any, write: bool, site: tuple) -> None:
        """Check and record a plain read or write by `cpu`."""
        # `_cell` inline: this runs on every plain access.
        name = desc.name
        per_obj = self.cells.get(id(obj))
        if per_obj is None:
            per_obj = self.cells[id(obj)] = {}
        cell = per_obj.get(name)
        if cell is None:
            cell = per_obj[name] = _Cell(obj)
        vc = cpu.vc
        me = cpu.index
        w = cell.writer
        if w >= 0 and w != me and cell.epoch > vc[w] and (write or not cell.atomic):
            self._race(
                cpu,
                obj,
                name,
                "write" if write else "read",
                site,
                w,
                "atomic update" if cell.atomic else "write",
                cell.site,
            )
        if write:
            readers = cell.readers
            if readers:  # none since the last write: the usual case, no dict to replace
                for r, (epoch, rsite) in readers.items():
                    if r != me and epoch > vc[r]:
                        self._race(cpu, obj, name, "write", site, r, "read", rsite)
                cell.readers = {}
            cell.writer = me
            cell.epoch = vc[me]
            cell.site = site
            cell.atomic = False
        else:
            cell.readers[me] = (vc[me], site)

    def atomic(self, cpu: Any, obj: Any, desc: Any, site: tuple) -> None:
        """Check and record an atomic update by `cpu`: it races only with plain writes."""
        cell = self._cell(obj, desc.name)
        vc = cpu.vc
        me = cpu.index
        w = cell.writer
        if w >= 0 and w != me and not cell.atomic and cell.epoch > vc[w]:
            self._race(cpu, obj, desc.name, "atomic update", site, w, "write", cell.site)
        cell.writer = me
        cell.epoch = vc[me]
        cell.site = site
        cell.atomic = True

    def fully_ordered(self, cpu: Any, obj: Any, name: str) -> None:
        """A fully ordered atomic on `obj.name` by `cpu` (Linux's value-returning atomics):
        it acquires what earlier ones on the word released, then releases its own clock
        there, as a lock would; OpenBSD's atomics, the machine's default, order nothing."""
        key = (id(obj), name)
        vc = cpu.vc
        cell = self.ordered.get(key)
        if cell is not None:
            for i, t in enumerate(cell[0]):
                if t > vc[i]:
                    vc[i] = t
        self.ordered[key] = [list(vc), obj]
        vc[cpu.index] += 1

    def _race(
        self,
        cpu: Any,
        obj: Any,
        field: str,
        what: str,
        site: tuple,
        other: int,
        other_what: str,
        other_site: tuple,
    ) -> None:
        name = obj.__dict__.get("name", type(obj).__name__)
        self.machine._fail(
            fk.DATA_RACE,
            f"data race on {name}.{field}: {what} by {cpu.name} and {other_what} by cpu{other} "
            f"are not ordered by any lock",
            cpu,
            [
                f"cpu{other} {other_what} at {format_site(other_site)}",
                f"{cpu.name} {what} at {format_site(site)}",
            ],
        )
