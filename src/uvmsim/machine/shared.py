"""Shared memory: fields whose every plain read and write is a visible operation.

A `Shared` field carries its protection annotation, the letters of the kernel's lock legends
(`uvm_page.h`, `uvmexp.h`, `uvm.h`):

======  =====================================================================================
``L``   `uvm.pageqlock` (uvmexp.h spelling)
``Q``   `uvm.pageqlock` (uvm_page.h / uvm.h spelling, same lock)
``F``   `uvm.fpageqlock`
``o``   the owner lock: the object's `vmobjlock` or the anon's `an_lock`
``a``   atomic operations only: plain reads are fine, plain writes are violations
``I``   immutable after creation: any write while the machine runs is a violation
``K``   kernel lock: not modelled, no check
(none)  no protection declared: only the race detector watches it
======  =====================================================================================

Lock letters (L, Q, F, o) are bound to a lock per object by a resolver: a class may say what
its own letters mean (`annotation_locks`), otherwise the machine's binding applies
(`Machine.bind_annotation`).  A resolver returning None exempts that object (e.g. pages of the
kernel's dummy objects skip the owner-lock check, as `uvm_page_owner_locked_p` does).

Since the descriptor turns `obj.f` into one visible read and `obj.f = v` into one visible
write, `obj.f -= 1` is a load then a store, and a concurrent update between the two is lost,
exactly as in C.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar

from uvmsim.machine import core as _core
from uvmsim.machine import failure as fk
from uvmsim.machine import frames
from uvmsim.machine import sites as _sites
from uvmsim.machine.failure import InputError
from uvmsim.machine.sites import _inline_codes

LOCK_LETTERS = frozenset("LQFo")
PLAIN_LETTERS = {
    "a": "atomic operations only",
    "I": "immutable after creation",
    "K": "kernel lock (not modelled)",
}
ACCEPTED_LETTERS = "L, Q, F, o, a, I, K (or empty for none)"

READ = _core.READ
WRITE = _core.WRITE


class Shared:
    """A data descriptor for one shared field with its lock annotation (see module doc)."""

    __slots__ = (
        "atomic",
        "checked",
        "default",
        "immutable",
        "letters",
        "locks",
        "name",
        "qualname",
    )

    def __init__(self, annotation: str = "", default: Any = 0):
        for letter in annotation:
            if letter not in LOCK_LETTERS and letter not in PLAIN_LETTERS:
                raise InputError(
                    f"lock annotation letter {letter!r} in {annotation!r} is unknown; "
                    f"accepted: {ACCEPTED_LETTERS}"
                )
        self.letters = annotation
        self.locks = tuple(ch for ch in annotation if ch in LOCK_LETTERS)
        self.atomic = "a" in annotation
        self.immutable = "I" in annotation
        self.checked = bool(self.locks) or self.atomic or self.immutable
        self.default = default
        self.name = "?"
        self.qualname = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.qualname = f"{owner.__name__}.{name}"

    # __get__ and __set__ hand the access path to `_read` and `_write` (module functions:
    # a compiled build types their locals, which it cannot do for a special method, so the
    # machine's `visible` and the race detector are C calls there).  They run on every plain
    # access of the model.
    def __get__(self, obj: Any, objtype: Any) -> Any:
        if obj is None:
            return self
        m = _core._running
        if m is not None:
            _read(self, m, obj)
        return obj.__dict__[self.name]

    def __set__(self, obj: Any, value: Any) -> None:
        m = _core._running
        if m is not None:
            _write(self, m, obj)
        obj.__dict__[self.name] = value

    def __repr__(self) -> str:
        return f"Shared({self.letters!r}) {self.qualname}"


def _read(desc: Shared, m: Any, obj: Any) -> None:
    """The visible-operation path of a plain read (`m_access` inline, for the usual cases)."""
    site = frames.model_site(_inline_codes)
    locks = desc.locks
    if not locks:
        # Unchecked, or only `a`/`I`: both allow plain reads.
        m.visible(READ, obj, desc.name, site)
    else:
        # `annotation` inline for the usual case, every lock held (a read asks no more);
        # anything else takes the full check, which reports it.
        cpu = m.current
        own = type(obj).annotation_locks
        consts = m.annotation_consts
        for letter in locks:
            # `resolve_lock` inline: the class's resolver, else the machine's lock.
            resolver = own.get(letter)
            if resolver is not None:
                lock = resolver(obj)
            else:
                lock = consts.get(letter)
                if lock is None:
                    lock = resolve_lock(m, obj, letter)
            if lock is None or (
                lock.owner is cpu if not lock.is_rwlock else lock.covers(cpu, False)
            ):
                continue
            if annotation(m, READ, obj, desc, site, True):
                m.visible(READ, obj, desc.name, site)
            break
        else:
            if m.schedule_covered:
                m.visible(READ, obj, desc.name, site)
    if m.races_on:
        races = m.races
        races.plain(m.current, obj, desc, False, site)


def _write(desc: Shared, m: Any, obj: Any) -> None:
    """The visible-operation path of a plain write (`m_access` inline, as `_read`)."""
    site = frames.model_site(_inline_codes)
    if not desc.checked:
        m.visible(WRITE, obj, desc.name, site)
    elif desc.atomic or desc.immutable or not desc.locks:
        if annotation(m, WRITE, obj, desc, site, True):
            m.visible(WRITE, obj, desc.name, site)
    else:
        # As in `_read`: every lock held (for writing) inline, else the full check.
        cpu = m.current
        own = type(obj).annotation_locks
        consts = m.annotation_consts
        for letter in desc.locks:
            resolver = own.get(letter)  # `resolve_lock` inline, as in `_read`
            if resolver is not None:
                lock = resolver(obj)
            else:
                lock = consts.get(letter)
                if lock is None:
                    lock = resolve_lock(m, obj, letter)
            if lock is None or (
                lock.owner is cpu if not lock.is_rwlock else lock.covers(cpu, True)
            ):
                continue
            if annotation(m, WRITE, obj, desc, site, True):
                m.visible(WRITE, obj, desc.name, site)
            break
        else:
            if m.schedule_covered:
                m.visible(WRITE, obj, desc.name, site)
    if m.races_on:
        races = m.races
        races.plain(m.current, obj, desc, True, site)


def resolve_lock(m: Any, obj: Any, letter: str) -> Any:
    """The lock that `letter` means for `obj` (None: exempt), per class then per machine."""
    resolver = type(obj).annotation_locks.get(letter)
    if resolver is None:
        lock = m.annotation_consts.get(letter)
        if lock is not None:
            return lock
        resolver = m.annotation_locks.get(letter)
    if resolver is None:
        raise InputError(
            f"annotation {letter!r} on {type(obj).__name__} has no lock bound; "
            "bind it with Machine.bind_annotation or the class's annotation_locks"
        )
    return resolver(obj)


def m_access(m: Any, kind: str, obj: Any, desc: Shared, annotation_check: bool = True) -> None:
    """The visible-operation path of a plain read or write of a Shared field."""
    site = frames.model_site(_inline_codes)
    if not desc.checked or annotation(m, kind, obj, desc, site, annotation_check):
        m.visible(kind, obj, desc.name, site)
    if m.races_on:
        m.races.plain(m.current, obj, desc, kind is WRITE, site)


def annotation(m: Any, kind: str, obj: Any, desc: Shared, site: tuple, check: bool) -> bool:
    """Check an access against the field's annotation.

    Returns whether the access must be a scheduling point: False only when the machine
    reduces scheduling (`schedule_covered` off) and the CPU holds every lock the annotation
    names, so the access cannot race (the race detector still checks it).
    """
    cpu = m.current
    analyses = m.analyses
    enforce = check and analyses.annotations
    covered = True
    write = kind is WRITE
    own = type(obj).annotation_locks
    consts = m.annotation_consts
    for letter in desc.locks:
        # The common case inline: a machine-wide lock (pageqlock, fpageqlock) held by us.
        lock = consts.get(letter) if letter not in own else None
        if lock is None:
            lock = resolve_lock(m, obj, letter)
        if lock is None or (lock.owner is cpu if not lock.is_rwlock else lock.covers(cpu, write)):
            continue
        covered = False
        if enforce and (write or analyses.annotation_reads):
            need = "write-held" if write and lock.is_rwlock else "held"
            m._fail(
                fk.ANNOTATION,
                f"annotation violation: plain {kind} of {_obj_name(obj)}.{desc.name} "
                f"[{desc.letters}] without {lock.name} {need} on {cpu.name}",
                cpu,
                [site],
            )
    if enforce and write and desc.atomic:
        m._fail(
            fk.ANNOTATION,
            f"annotation violation: plain write of {_obj_name(obj)}.{desc.name} [{desc.letters}]"
            f" (atomic operations only) on {cpu.name}",
            cpu,
            [site],
        )
    if enforce and write and desc.immutable:
        m._fail(
            fk.ANNOTATION,
            f"annotation violation: write of immutable {_obj_name(obj)}.{desc.name} "
            f"[{desc.letters}] on {cpu.name}",
            cpu,
            [site],
        )
    return m.schedule_covered or not covered or not desc.locks


def _obj_name(obj: Any) -> str:
    name = obj.__dict__.get("name")
    return name if isinstance(name, str) else type(obj).__name__


class SharedObject:
    """Base of every model structure with Shared fields (vm_page, uvm_object, uvmexp, ...).

    Fields start at their declared defaults; `name` identifies the object in reports and, being
    deterministic, across re-executions (DPOR and replay compare operations by it).
    """

    annotation_locks: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    _shared_fields: ClassVar[tuple[Shared, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Shared] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Shared):
                    fields[key] = value
        cls._shared_fields = tuple(fields.values())
        merged: dict[str, Callable[[Any], Any]] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("annotation_locks", {}))
        cls.annotation_locks = merged

    def __init__(self, name: str | None = None):
        d = self.__dict__
        for f in self._shared_fields:
            default = f.default
            d[f.name] = default() if callable(default) else default
        if name is None:
            name = f"{type(self).__name__}#{next(_names)}"
        d["name"] = name

    def __repr__(self) -> str:
        return self.__dict__.get("name", type(self).__name__)


_names = itertools.count()


def reset_names() -> None:
    """Restart default object names (`vm_anon#0`...): call when building a new world.

    Names identify objects in reports and, across re-executions, in DPOR's dependency keys,
    so they must not depend on anything but the world's construction and the schedule.
    """
    global _names
    _names = itertools.count()


def peek(obj: Any, field: str) -> Any:
    """Read a field without a visible operation: set-up, invariants, reports, fields that are
    immutable once the object is published (`[I]`), and the model's ghost state."""
    return obj.__dict__[field]


def poke(obj: Any, field: str, value: Any) -> None:
    """Write a field without a visible operation: set-up, initialisation of an object no other
    CPU can see yet, and the model's ghost state (bookkeeping the kernel does not keep, such
    as which CPU is inside uvm_pageclean, read only by the invariants)."""
    obj.__dict__[field] = value


def unlocked_read(obj: Any, field: str) -> Any:
    """A plain read the kernel does deliberately without the field's lock.

    It is a visible operation and the race detector still checks it (a racing write is still a
    data race); only the annotation check is skipped, because the kernel code is known to read
    there without the lock and its docstring says why.
    """
    m = _core._running
    if m is not None:
        desc = _find_desc(type(obj), field)
        m_access(m, READ, obj, desc, annotation_check=False)
    return obj.__dict__[field]


def racy_read(obj: Any, field: str) -> Any:
    """A read the kernel marks as deliberately racing with a plain write, and re-checks under
    the owning lock before relying on it: FreeBSD's `atomic_load_ptr(&m->object)` in its page
    scans, Linux's `READ_ONCE`/`data_race()`.

    An aligned pointer load is single-copy atomic, so it sees the old or the new value, never
    a torn one.  It is a visible read (exploration orders it against the writes, so both
    values are seen); the annotation check is skipped as for `unlocked_read`, and the race
    detector neither reports it nor records it as a reader: the racing write is the design,
    and what the reader does with a stale value is checked by its re-check, the invariants
    and every other access.  A plain read of the same field elsewhere is still race-checked.
    """
    m = _core._running
    if m is not None:
        m.visible(READ, obj, _find_desc(type(obj), field).name, frames.model_site(_inline_codes))
    return obj.__dict__[field]


_descs: dict[tuple[type, str], Shared] = {}
"""(class, field) -> its descriptor: found once, then read on every atomic operation."""


def _find_desc(cls: type, field: str) -> Shared:
    desc = _descs.get((cls, field))
    if desc is not None:
        return desc
    for klass in cls.__mro__:
        value = vars(klass).get(field)
        if isinstance(value, Shared):
            _descs[cls, field] = value
            return value
    raise AttributeError(f"{cls.__name__}.{field} is not a Shared field")


_sites.look_through(globals())  # call sites look through this module's frames
