"""Atomic operations (`sys/arch/*/include/atomic.h`), each one indivisible visible operation.

`atomic_dec_int(uvmexp, "wired")` is the kernel's `atomic_dec_int(&uvmexp.wired)`.  OpenBSD's
atomic_* functions imply no memory barrier, so they create no happens-before edge here: they do
not race with each other or with plain reads (aligned loads are single-copy atomic), but a plain
write racing an atomic update of the same field is reported.  A field whose annotation names a
lock (e.g. `[aL]`) still needs that lock held for the atomic update.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import core as _core
from uvmsim.machine import failure as fk
from uvmsim.machine import frames
from uvmsim.machine import sites as _sites
from uvmsim.machine.core import ATOMIC
from uvmsim.machine.shared import _descs, _find_desc, _obj_name, resolve_lock
from uvmsim.machine.sites import _inline_codes


def _atomic(obj: Any, field: str) -> None:
    """The visible-operation path shared by every atomic: annotation check, step, race check."""
    m = _core._running
    if m is None:
        return
    # The descriptor cache inline: this runs on every atomic operation.
    site = frames.model_site(_inline_codes)
    cpu = m.current
    desc = _descs.get((type(obj), field)) or _find_desc(type(obj), field)
    if m.analyses.annotations:
        for letter in desc.locks:
            lock = resolve_lock(m, obj, letter)
            if lock is not None and not lock.covers(cpu, True):
                m._fail(
                    fk.ANNOTATION,
                    f"annotation violation: atomic update of {_obj_name(obj)}.{field} "
                    f"[{desc.letters}] without {lock.name} held on {cpu.name}",
                    cpu,
                    [site],
                )
        if desc.immutable:
            m._fail(
                fk.ANNOTATION,
                f"annotation violation: atomic update of immutable {_obj_name(obj)}.{field}",
                cpu,
                [site],
            )
    m.visible(ATOMIC, obj, field, site)
    if m.analyses.races:
        m.races.atomic(cpu, obj, desc, site)


def atomic_inc_int(obj: Any, field: str) -> None:
    """`atomic_inc_int`: add one, indivisibly."""
    _atomic(obj, field)
    obj.__dict__[field] += 1


def atomic_dec_int(obj: Any, field: str) -> None:
    """`atomic_dec_int`: subtract one, indivisibly."""
    _atomic(obj, field)
    obj.__dict__[field] -= 1


def atomic_add_int(obj: Any, field: str, value: int) -> None:
    """`atomic_add_int`: add `value` (may be negative), indivisibly."""
    _atomic(obj, field)
    obj.__dict__[field] += value


def atomic_dec_int_nv(obj: Any, field: str) -> int:
    """`atomic_dec_int_nv`: subtract one indivisibly and return the new value."""
    _atomic(obj, field)
    d = obj.__dict__
    d[field] -= 1
    return d[field]


def atomic_sub_int(obj: Any, field: str, value: int) -> None:
    """`atomic_sub_int`: subtract `value`, indivisibly."""
    _atomic(obj, field)
    obj.__dict__[field] -= value


def atomic_setbits_int(obj: Any, field: str, bits: int) -> None:
    """`atomic_setbits_int`: OR `bits` in, indivisibly."""
    _atomic(obj, field)
    obj.__dict__[field] |= bits


def atomic_clearbits_int(obj: Any, field: str, bits: int) -> None:
    """`atomic_clearbits_int`: clear `bits`, indivisibly."""
    _atomic(obj, field)
    obj.__dict__[field] &= ~bits


def atomic_cas(obj: Any, field: str, expected: Any, new: Any) -> Any:
    """`atomic_cas_uint`: store `new` if the field equals `expected`; return the old value."""
    _atomic(obj, field)
    d = obj.__dict__
    old = d[field]
    if old == expected:
        d[field] = new
    return old


def atomic_rmw_ordered(obj: Any, field: str, update: Any) -> Any:
    """A fully ordered indivisible read-modify-write: `update(old)` is stored, `old` returned.

    Linux's value-returning atomics (`test_and_clear_bit`, `atomic_sub_return`,
    `atomic_add_unless`, a `cmpxchg`) are single instructions or LL/SC loops nobody can split,
    and fully ordered (Documentation/atomic_t.txt): for the race detector one that changes
    the word acquires what the earlier ones on that word released and releases its own clock
    there.  One that changes nothing (a conditional atomic that fails, a test-and-clear of a
    clear bit) orders nothing: Linux promises no ordering for a failed conditional, and
    the race detector then errs towards reporting.  The peer design that models Linux uses
    it; OpenBSD's atomics (the rest of this module) order nothing.
    """
    _atomic(obj, field)
    d = obj.__dict__
    old = d[field]
    new = update(old)
    d[field] = new
    if new != old:
        m = _core._running
        if m is not None and m.races_on:
            m.races.fully_ordered(m.current, obj, field)
    return old


def atomic_load(obj: Any, field: str) -> Any:
    """`atomic_load_int`: an indivisible read (a visible operation like a plain read)."""
    _atomic(obj, field)
    return obj.__dict__[field]


_sites.look_through(globals())  # call sites look through this module's frames
