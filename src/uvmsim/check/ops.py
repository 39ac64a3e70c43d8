"""What a visible operation touches, for deciding which operations are dependent.

An operation's key is (kind, object name, field): names, not identities, so keys compare
across re-executions.  From the key come the *resources* it touches and how:

- a field (object, field): read ('r'), or written ('w': plain writes and atomics);
- a lock: acquired blocking ('acq'), tried ('try'), or released ('rel'); a sleep releases its
  interlock ('rel');
- a wait channel: sleep ('sleep'), wakeup ('wake'), resume after a wakeup ('resume');
- `work` touches nothing: it is independent of everything.

Two operations of different CPUs are *dependent* when they touch a common resource and at
least one writes a field, or the resource is a lock or a channel.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine.core import (
    ATOMIC,
    MTX_ENTER,
    MTX_LEAVE,
    MTX_TRY,
    READ,
    RESUME,
    RW_ENTER,
    RW_EXIT,
    RW_TRY,
    SLEEP,
    WAKEUP,
    WORK,
    WRITE,
)

Key = tuple  # (kind, object name, field or interlock name or None)
Resource = tuple  # ("f", obj, field) | ("l", lock) | ("c", channel)

_LOCK_MODE = {
    MTX_ENTER: "acq",
    RW_ENTER: "acq",
    MTX_TRY: "try",
    RW_TRY: "try",
    MTX_LEAVE: "rel",
    RW_EXIT: "rel",
}


def _name(obj: Any) -> str:
    if obj is None:
        return "-"
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    d = getattr(obj, "__dict__", None)
    if d and isinstance(d.get("name"), str):
        return d["name"]
    return type(obj).__name__


def op_key(op: tuple) -> Key:
    """The key of a pending operation `cpu.op` = (kind, object, field, site)."""
    kind, obj, field, _site = op
    if kind == SLEEP:
        return (kind, _name(obj), None if field is None else _name(field))
    return (kind, _name(obj), field)


def resources(key: Key) -> tuple[tuple[Resource, str], ...]:
    """The resources an operation touches, with the mode of each access."""
    kind, name, field = key
    if kind == READ:
        return ((("f", name, field), "r"),)
    if kind in (WRITE, ATOMIC):
        return ((("f", name, field), "w"),)
    mode = _LOCK_MODE.get(kind)
    if mode is not None:
        return ((("l", name), mode),)
    if kind == SLEEP:
        res: tuple = ((("c", name), "sleep"),)
        if field is not None:
            res += ((("l", field), "rel"),)
        return res
    if kind == WAKEUP:
        return ((("c", name), "wake"),)
    if kind == RESUME:
        return ((("c", name), "resume"),)
    if kind == WORK:
        return ()
    return ((("x", name), "w"),)  # unknown kinds: conservatively dependent on their object


def dependent(a: Key, b: Key) -> bool:
    """Whether two operations (of different CPUs) do not commute."""
    ra = resources(a)
    if not ra:
        return False
    rb = dict(resources(b))
    for res, mode in ra:
        other = rb.get(res)
        if other is None:
            continue
        if res[0] != "f" or mode == "w" or other == "w":
            return True
    return False
