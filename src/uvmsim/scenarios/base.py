"""Closed checker harnesses: a small world, one kernel code path per CPU, an expectation.

A `Scenario` builds its world in two steps.  `setup(w)` runs on a single CPU inside a set-up
machine and uses the model's own functions (faults, activations, pageouts) to reach the
starting state, so the state is one the model itself can produce.  `program(w)` then returns
one function per CPU; the checker explores their interleavings with every invariant armed.

`expect` maps protocol names to what the scenario shows on them: "holds" (nothing can go
wrong), a failure kind that must be reachable (e.g. "recursion"), "fails" (some interleaving
fails, whatever the first failure found is: the control harnesses), or "finding" (a failure the
model found in the kernel's own protocol, recorded in docs/findings.md).

Scenarios grow (issue 14).  Every scenario takes `pages` (the allocator's size); each declares
in `sizes` which of `cpus` (more CPUs in one of its roles), `ops` (operations per CPU) and
`passes` (pagedaemon passes) fit it, with defaults equal to its original shape, so that a
scenario run without sizes is exactly the one it always was.  `Scenario.sized` checks the
values against their bounds (one-line `InputError` naming the size and what it accepts) and
returns the grown scenario; its set-up and program read the values from `w.size`.
"""

from __future__ import annotations

import copyreg
import io
import itertools
import pickle
import types
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import repeat
from types import SimpleNamespace
from typing import Any

from uvmsim.machine import Analyses, Engine, Execution, Machine, RoundRobinEngine, peek, shared
from uvmsim.machine.failure import InputError
from uvmsim.protocols import Protocol
from uvmsim.uvm.uvm import uvm, uvm_bind_machine
from uvmsim.uvm.uvm_init import uvm_boot
from uvmsim.uvm.uvm_pdpolicy_clock import uvmpdpol_drain_at_rest
from uvmsim.uvm.uvmexp import queue_counts_at_rest, uvmexp

World = SimpleNamespace

SIZE_NAMES = ("cpus", "pages", "ops", "passes")
"""The size parameters, in the order they are shown (`uvmsim check --cpus/--pages/--ops/--passes`,
the same names in sweep specs)."""
MAX_PAGES = 256
PAGES_PER_GROWTH = 4
"""Pages a grown shape needs beyond the original, by default: per extra CPU, and per extra
operation of each CPU (each brings its own anon, object page or mapping; the set-up must never
run dry).  A size may ask for more per step (`Size.pages`)."""


@dataclass(frozen=True)
class Size:
    """A size parameter a scenario accepts besides `pages`: its bounds and what it grows."""

    name: str  # "cpus", "ops" or "passes"
    hi: int
    what: str  # what one more of it adds, for `uvmsim scenarios` and docs/checker.md
    lo: int | None = None  # None: the default (a scenario never shrinks below its roles)
    pages: int = PAGES_PER_GROWTH  # pages one more of it needs ("ops": per CPU; "passes": 0)


def extra_cpus(hi: int, what: str, pages: int = PAGES_PER_GROWTH) -> Size:
    """`--cpus`: one more CPU running the scenario's extra role; `pages` it needs."""
    return Size("cpus", hi, what, pages=pages)


def ops_per_cpu(hi: int, what: str) -> Size:
    return Size("ops", hi, what, lo=1)


def pagedaemon_passes(hi: int) -> Size:
    return Size("passes", hi, "the pagedaemon runs uvm_pageout once more", lo=1)


@dataclass(frozen=True)
class Scenario:
    """One named harness (see the module docstring)."""

    name: str
    cpus: int
    pages: int
    summary: str
    questions: tuple[str, ...]
    setup: Callable[[World], None]
    program: Callable[[World], list[Callable[[], Any]]]
    expect: dict[str, str] = field(default_factory=dict)
    swap: dict[str, Any] = field(default_factory=dict)
    world: dict[str, Any] = field(default_factory=dict)
    apparatus: bool = False  # a control or measurement harness of the review (controls.py),
    # not a kernel situation: campaigns over "all" scenarios leave it out
    sizes: tuple[Size, ...] = ()  # what grows besides `pages` (module docstring)
    grown: tuple[tuple[str, int], ...] = ()  # sizes off the original shape, sorted; () if none
    original: tuple[int, int] | None = None  # a grown scenario's original (cpus, pages)
    source: str = ""  # a program's scenario reference (`program:<data>`): what a replay
    # token carries for a scenario no catalog name resolves to (scenarios/program.py)

    def expectation(self, protocol: Protocol) -> str | None:
        return self.expect.get(protocol.name)

    def defaults(self) -> dict[str, int]:
        """The original shape: every size this scenario takes, at its default."""
        out = {"cpus": self.base_cpus}
        out.update({sz.name: 1 for sz in self.sizes if sz.name != "cpus"})
        out["pages"] = self.base_pages
        return out

    @property
    def base_cpus(self) -> int:
        return self.original[0] if self.original else self.cpus

    @property
    def base_pages(self) -> int:
        return self.original[1] if self.original else self.pages

    def shape(self) -> dict[str, int]:
        """Every size this scenario takes, at its value here (`w.size` in set-up and program)."""
        out = self.defaults()
        out.update(self.grown)
        out["cpus"], out["pages"] = self.cpus, self.pages
        return out

    def given(self) -> dict[str, int]:
        """The sizes that differ from the original shape (what a token or a run key records)."""
        d = self.defaults()
        return {k: v for k, v in self.shape().items() if v != d[k]}

    def accepted(self) -> dict[str, tuple[int, int]]:
        """name -> (lo, hi) of every size it takes; pages' bounds for the default shape."""
        out = {sz.name: (sz.lo or self.base_cpus, sz.hi) for sz in self.sizes}
        out["pages"] = (self.base_pages, MAX_PAGES)
        return out

    def sized(self, values: Mapping[str, int]) -> Scenario:
        """This scenario grown to `values` (name -> int), checked against the bounds.

        `pages` defaults to the original count plus, per extra CPU and per extra operation
        of each CPU, the pages that size asks for (PAGES_PER_GROWTH unless it says), and may
        not be fewer.
        """
        if self.grown:
            raise ValueError(f"{self.name}: already sized")
        accepted = self.accepted()
        known = ", ".join(f"--{k} {lo}..{hi}" for k, (lo, hi) in accepted.items())
        for name, value in values.items():
            if name not in accepted:
                raise InputError(
                    f"scenario {self.name}: --{name} is not one of its sizes; accepted: {known}"
                )
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(
                    f"scenario {self.name}: --{name} must be an integer, got {value!r}"
                )
        shape = self.defaults()
        shape.update((k, v) for k, v in values.items() if k != "pages")
        for name, value in values.items():
            lo, hi = accepted[name]
            if name != "pages" and not lo <= value <= hi:
                raise InputError(
                    f"scenario {self.name}: --{name} must be between {lo} and {hi}, got {value}"
                )
        step = {sz.name: sz.pages for sz in self.sizes}
        need = (
            self.base_pages
            + step.get("cpus", PAGES_PER_GROWTH) * (shape["cpus"] - self.base_cpus)
            + step.get("ops", PAGES_PER_GROWTH) * (shape.get("ops", 1) - 1) * shape["cpus"]
        )
        pages = values.get("pages", need)
        if not need <= pages <= MAX_PAGES:
            raise InputError(
                f"scenario {self.name}: --pages must be between {need} and {MAX_PAGES} for "
                f"this shape, got {pages}"
            )
        shape["pages"] = pages
        defaults = self.defaults()
        grown = tuple(sorted((k, v) for k, v in shape.items() if v != defaults[k]))
        if not grown:
            return self
        return replace(
            self, cpus=shape["cpus"], pages=pages, grown=grown, original=(self.cpus, self.pages)
        )

    def label(self) -> str:
        """The name, with the sizes that differ from the original shape."""
        given = self.given()
        if not given:
            return self.name
        return f"{self.name} ({', '.join(f'{k}={v}' for k, v in given.items())})"


SCENARIOS: dict[str, Scenario] = {}


def register(s: Scenario) -> Scenario:
    SCENARIOS[s.name] = s
    return s


def boot(w: World, proto: Protocol, scenario: Scenario) -> None:
    """A fresh world: counters, allocator with `scenario.pages` pages, swap.

    `scenario.swap` are `uvm_swap_init`'s parameters (encryption, fragmentation, injected
    failures), `scenario.world` `uvm_boot`'s others (`dma_share`).
    """
    w.size = SimpleNamespace(**scenario.shape())
    w.pages = uvm_boot(proto, scenario.cpus, scenario.pages, swap=scenario.swap, **scenario.world)


class SetupError(RuntimeError):
    """A scenario's set-up failed: a bug in the scenario, not a finding."""


class _WorldPickler(pickle.Pickler):
    """Pickles a world; machines (a lock's vector-clock owner) and code objects (sites) are
    left out: they belong to the set-up execution, not to the state the scenario starts in."""

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Machine | types.CodeType):
            return "gone"
        return None


class _WorldUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return None


_snapshots: dict[tuple, bytes] = {}
_inplace: dict[tuple, _InPlace | None] = {}
"""Per snapshot key: the world restored in place (None: it has objects `_InPlace` does not
take, and is unpickled on every build instead)."""

# Values `_InPlace` keeps as they are: immutable, or (classes, functions, modules) pickled
# by reference, so an unpickled world shares them too.
_ATOMS = frozenset(
    {
        int,
        float,
        complex,
        str,
        bytes,
        bool,
        type(None),
        range,
        type,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.ModuleType,
        object,  # a bare marker: no state
    }
)


class _Unsupported(Exception):
    pass


class _InPlace:
    """A snapshot restored into the objects of one unpickled copy of it.

    Unpickling the snapshot on every execution costs a few microseconds per object of the
    world, a sizeable part of a checker execution.  Instead, the objects of one unpickled
    copy are kept, with the shallow contents of every list, dict, set and instance among
    them; `restore` puts those contents back.  Objects an execution created become
    unreachable, as they would with a fresh copy; the objects of the copy, their sharing and
    their contents are what unpickling gives (tests/test_snapshot.py compares the two).
    Anything it does not know how to reset (another container type, a class with its own
    pickling) raises `_Unsupported`, and the snapshot is unpickled per execution as before.
    """

    def __init__(self, state: Any):
        self.state = state
        # What `restore` writes back, as parallel columns (object, then its recorded content).
        self._slot_objs: list[Any] = []
        self._slot_names: list[str] = []
        self._slot_values: list[Any] = []
        self._unset: list[tuple[Any, str]] = []  # fields that had no value
        self._dict_objs: list[dict] = []
        self._dict_items: list[list] = []
        self._list_objs: list[list] = []
        self._list_items: list[list] = []
        self._set_objs: list[set] = []
        self._set_items: list[list] = []
        self._seen: set[int] = set()
        self._walk(state)
        del self._seen

    def _walk(self, root: Any) -> None:
        stack = [root]
        seen = self._seen
        while stack:
            x = stack.pop()
            t = type(x)
            if t in _ATOMS or id(x) in seen:
                continue
            seen.add(id(x))
            if t is tuple or t is frozenset:
                stack.extend(x)
            elif t is list:
                self._list_objs.append(x)
                self._list_items.append(list(x))
                stack.extend(x)
            elif t is dict:
                items = list(x.items())
                self._dict_objs.append(x)
                self._dict_items.append(items)
                for k, v in items:
                    stack.append(k)
                    stack.append(v)
            elif t is set:
                self._set_objs.append(x)
                self._set_items.append(list(x))
                stack.extend(x)
            elif x is uvm or x is uvmexp or isinstance(x, Machine | types.CodeType):
                raise _Unsupported(t)  # an unpickled copy never holds these
            elif t is SimpleNamespace:  # the World: its own __reduce__ pickles its dict
                stack.append(x.__dict__)
            elif t.__module__.startswith("uvmsim."):
                if (
                    t.__reduce_ex__ is not object.__reduce_ex__
                    or t.__reduce__ is not object.__reduce__
                ):
                    if isinstance(x.__reduce__(), str):
                        continue  # a global singleton (e.g. PGO_DONTCARE): by reference
                    raise _Unsupported(t)
                if getattr(t, "__setstate__", None) is not None:
                    raise _Unsupported(t)
                d = getattr(x, "__dict__", None)
                if d is not None:
                    stack.append(d)  # a dict: reset as one
                names = copyreg._slotnames(t)
                if names:
                    for n in names:
                        v = getattr(x, n, _UNSET)
                        if v is _UNSET:
                            self._unset.append((x, n))
                        else:
                            self._slot_objs.append(x)
                            self._slot_names.append(n)
                            self._slot_values.append(v)
                            stack.append(v)
            else:
                raise _Unsupported(t)

    def restore(self) -> Any:
        """Put every recorded content back; the state the snapshot was taken from.

        It runs before every checker execution, over every field and container of the world:
        the loops run in C (`map` over the columns, consumed by a zero-length deque) rather
        than as Python loops, one bytecode dispatch per field.  The writes are the ones a
        loop over the objects would make, grouped by kind: fields (and the deletion of those
        unset when the snapshot was taken), then dicts, lists and sets.
        """
        _consume(map(object.__setattr__, self._slot_objs, self._slot_names, self._slot_values))
        for obj, name in self._unset:
            if hasattr(obj, name):
                object.__delattr__(obj, name)
        dicts = self._dict_objs
        _consume(map(dict.clear, dicts))
        _consume(map(dict.update, dicts, self._dict_items))
        _consume(map(list.__setitem__, self._list_objs, repeat(_WHOLE), self._list_items))
        sets = self._set_objs
        _consume(map(set.clear, sets))
        _consume(map(set.update, sets, self._set_items))
        return self.state


_WHOLE = slice(None)  # `lst[:] = items`


def _consume(it: Iterator[Any]) -> None:
    """Run an iterator to its end, keeping nothing (the itertools recipe)."""
    deque(it, maxlen=0)


_UNSET = object()


def _snapshot(w: World) -> bytes:

    buf = io.BytesIO()
    state = (dict(uvm.__dict__), uvmexp.__class__, dict(uvmexp.__dict__), w, next(shared._names))
    _WorldPickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return buf.getvalue()


def _install(state: tuple) -> World:
    uvm_state, cls, uvmexp_state, w, next_name = state
    uvm.__dict__.clear()
    uvm.__dict__.update(uvm_state)
    uvmexp.__class__ = cls
    uvmexp.__dict__.clear()
    uvmexp.__dict__.update(uvmexp_state)
    shared._names = itertools.count(next_name)
    return w


def _set_up(scenario: Scenario, w: World) -> None:
    """The scenario's set-up, then the set-up CPU idles: with NetBSD's intents its intent
    queue drains, so the scenario starts from the queues its set-up asked for (nothing runs
    for the other protocols)."""
    scenario.setup(w)
    uvmpdpol_drain_at_rest()


def _restore(blob: bytes) -> World:
    return _install(_WorldUnpickler(io.BytesIO(blob)).load())


def _restore_key(key: tuple) -> World:
    """The world of snapshot `key`, fresh: restored in place when it can be (`_InPlace`)."""
    if key not in _inplace:
        try:
            _inplace[key] = _InPlace(_WorldUnpickler(io.BytesIO(_snapshots[key])).load())
        except _Unsupported:
            _inplace[key] = None
    keep = _inplace[key]
    if keep is None:
        return _restore(_snapshots[key])
    return _install(keep.restore())


def build(scenario: Scenario, proto: Protocol) -> tuple[World, list[Callable[[], Any]]]:
    """Boot the world, run the scenario's set-up on one CPU, return (world, program).

    The set-up is deterministic, so its result is computed once per (scenario, protocol) and
    kept as a pickled snapshot; later executions start from a copy of it, which is what
    makes re-execution cheap enough for exhaustive exploration.
    """
    key = snapshot_key(scenario, proto)
    blob = _snapshots.get(key)
    if blob is not None:
        w = _restore_key(key)
    else:
        w = World()
        boot(w, proto, scenario)
        setup_machine = Machine(RoundRobinEngine(), max_steps=1_000_000)
        uvm_bind_machine(setup_machine)
        result = setup_machine.run([lambda: _set_up(scenario, w)])
        if result.failure is not None:
            raise SetupError(
                f"set-up of {scenario.name} on {proto.name} failed:\n{result.failure.render()}"
            )
        blob = _snapshot(w)
        _snapshots[key] = blob
        w = _restore_key(key)
    program = scenario.program(w)
    if len(program) != scenario.cpus:
        raise SetupError(
            f"{scenario.label()}: program has {len(program)} CPUs, declared {scenario.cpus}"
        )
    return w, program


def snapshot_key(scenario: Scenario, proto: Protocol) -> tuple:
    """The key of a set-up snapshot: what the set-up depends on (`forget` reads its name
    and source, items 0 and 2)."""
    return (scenario.name, scenario.grown, scenario.source, proto)


def forget(scenario: Scenario) -> None:
    """Drop the set-up snapshots of `scenario` (a generated program that will not run again:
    a fuzzing campaign builds thousands)."""
    for key in [k for k in _snapshots if k[0] == scenario.name and k[2] == scenario.source]:
        del _snapshots[key]
        _inplace.pop(key, None)  # the in-place copy holds the whole world too


def run_scenario(
    scenario: Scenario,
    proto: Protocol,
    engine: Engine,
    *,
    analyses: Analyses | None = None,
    max_steps: int = 20_000,
    record: bool = False,
    schedule_covered: bool = True,
) -> Execution:
    """One execution of `scenario` on `proto` under `engine`, every invariant armed."""
    _w, program = build(scenario, proto)
    m = Machine(
        engine,
        analyses=analyses,
        max_steps=max_steps,
        record=record,
        schedule_covered=schedule_covered,
    )
    uvm_bind_machine(m)
    return m.run(program)


def world_summary() -> dict[str, Any]:
    """Counters and queue lengths of the current world (for tests and reports)."""

    active, inactive = queue_counts_at_rest()
    return {
        "free": peek(uvmexp, "free"),
        "active": active,
        "inactive": inactive,
        "wired": peek(uvmexp, "wired"),
        "percpucaches": peek(uvmexp, "percpucaches"),
        "npages": peek(uvmexp, "npages"),
        "objects": len(uvm.objects),
        "anons": len(uvm.anons),
    }
