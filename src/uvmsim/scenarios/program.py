"""Programs: closed kernel workloads written as text, the form `uvmsim fuzz` generates.

A program is a world (memory size, the pagedaemon's free target, swap and its injected
failures, the processes, shared-memory segments, files and kernel pages that exist at boot),
a *set-up* run on one CPU before anything is checked, and one list of operations per CPU,
whose interleavings the checker explores.  Each operation is one line of text naming the
thread that performs it (`ACTOR VERB ARGS`):

    p0 fault anon 2 w          a process: page fault, wiring, madvise, fork, exit...
    pd pageout 2               the pagedaemon: one round of uvm_pageout
    aio aiodone                the aiodone daemon: one batch of finished swap writes
    k0 bread b0 2              a kernel thread: buffer cache, kernel memory, VFS flushes

`VERBS` lists every operation with its arguments; `uvmsim.scenarios.entry_points` runs
them with the model's functions; `Ledger` states their preconditions, so that a program is
a *legal* kernel workload under every interleaving: a thread's operations run in order on
one CPU, and what one thread may do never depends on when another thread ran (references
are counted, buffers and kernel pages have one owner, a file some process wires is never
flushed with PGO_FREE).  A program that breaks a rule is refused with the place and the
rule (`ProgramError`, exit status 2).

Programs load from and save to TOML scenario files (`load_file`, `dump`), and travel in
replay tokens as `program:<data>` (`to_ref`, `from_ref`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tomllib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from uvmsim.machine.failure import InputError
from uvmsim.output_files import read_input_text

PROGRAM_REF = "program:"
ANON_PAGES = 6  # pages of every process's anonymous entry (amap slots 0..5)
MAX_CPUS = 8
MAX_OPS = 400
MAX_PAGES = 512
MAX_FILE_BYTES = 1_000_000


class ProgramError(InputError):
    """A program (file, token or generated) that is not a legal kernel workload."""


# ---- operations -------------------------------------------------------------------------

FLUSH_FLAGS = ("cleanit", "free", "deactivate", "syncio", "allpages")
ACTORS = {"p": "process", "k": "kernel thread", "pd": "pagedaemon", "aio": "aiodone daemon"}


@dataclass(frozen=True)
class Verb:
    """One operation: who may perform it, its arguments, and where it may appear."""

    name: str
    actor: str  # "process", "kernel thread", "pagedaemon", "aiodone daemon"
    args: tuple[str, ...]  # argument shapes (see `_check_arg`)
    optional: int = 0  # how many trailing arguments may be left out
    setup_only: bool = False  # only in the set-up (the kernel runs it with nothing else)
    kernel: str = ""  # the kernel path it takes, for --help and the docs


VERBS: dict[str, Verb] = {
    v.name: v
    for v in (
        Verb("fault", "process", ("region", "index", "rw", "advice"), 1, kernel="uvm_fault"),
        Verb("touch", "process", ("region", "index", "rw"), kernel="a load/store, else uvm_fault"),
        Verb("wire", "process", ("region", "index"), kernel="mlock: uvm_fault_wire"),
        Verb("unwire", "process", ("region", "index"), kernel="munlock: uvm_fault_unwire"),
        Verb("madvise", "process", ("region", "madv"), kernel="madvise: uvm_map_clean"),
        Verb("msync", "process", ("file", "msync"), kernel="msync: uvm_map_clean -> uvn_flush"),
        Verb("munmap", "process", ("region",), kernel="munmap: uvm_unmap_remove"),
        Verb("fork", "process", ("proc", "inherit"), 1, kernel="fork: uvmspace_fork"),
        Verb("exit", "process", (), kernel="exit: uvmspace_free"),
        Verb("shmat", "process", ("shm",), setup_only=True, kernel="shmat: uao_reference"),
        Verb("shmrm", "process", ("shm",), kernel="shmctl(IPC_RMID): uao_detach"),
        Verb("pageout", "pagedaemon", ("shortage",), 1, kernel="uvm_pageout"),
        Verb("aiodone", "aiodone daemon", (), kernel="uvm_aiodone_daemon"),
        Verb("kmalloc", "kernel thread", ("kpage", "wiring"), kernel="uvm_km_alloc"),
        Verb("kfree", "kernel thread", ("kpage",), kernel="uvm_km_free: uvm_km_pgremove"),
        Verb("bread", "kernel thread", ("buf", "bpages"), kernel="buf_get: buf_alloc_pages"),
        Verb("bflip", "kernel thread", ("buf", "memory"), kernel="buf_flip_high/buf_flip_dma"),
        Verb("brelse", "kernel thread", ("buf",), kernel="buf_put: buf_free_pages"),
        Verb("flush", "kernel thread", ("file", "flags"), kernel="VOP_FSYNC...: uvn_flush"),
        Verb("hibernate", "kernel thread", (), setup_only=True, kernel="uvmpd_drop"),
    )
}

CHOICES = {
    "rw": ("r", "w"),
    "advice": ("normal", "seq", "random"),
    "madv": ("free", "dontneed"),
    "msync": ("async", "sync", "invalidate"),
    "inherit": ("copy", "share"),
    "wiring": ("wired", "pageable"),
    "memory": ("high", "dma"),
}


@dataclass(frozen=True)
class Op:
    """One operation of a program: `actor verb args...`."""

    actor: str
    verb: str
    args: tuple[str, ...] = ()

    def text(self) -> str:
        return " ".join((self.actor, self.verb, *self.args))

    def __str__(self) -> str:
        return self.text()


def actor_kind(actor: str) -> str | None:
    """'process', 'kernel thread', 'pagedaemon' or 'aiodone daemon'; None if no actor."""
    if actor in ("pd", "aio"):
        return ACTORS[actor]
    if len(actor) > 1 and actor[0] in "pk" and actor[1:].isdigit() and len(actor) < 6:
        return ACTORS[actor[0]]
    return None


def parse_op(text: Any, where: str) -> Op:
    """One operation from its text, its syntax checked (not yet its legality)."""
    if not isinstance(text, str):
        raise ProgramError(f"{where}: expected an operation as a string, got {type(text).__name__}")
    words = text.split()
    if len(words) < 2:
        raise ProgramError(f"{where}: {text!r}: expected 'ACTOR VERB ARGS...'")
    actor, verb, args = words[0], words[1], tuple(words[2:])
    kind = actor_kind(actor)
    if kind is None:
        raise ProgramError(
            f"{where}: {text!r}: actor {actor!r} is unknown; accepted: pN (a process), kN "
            "(a kernel thread), pd (the pagedaemon), aio (the aiodone daemon)"
        )
    spec = VERBS.get(verb)
    if spec is None:
        raise ProgramError(
            f"{where}: {text!r}: operation {verb!r} is unknown; accepted: {', '.join(VERBS)}"
        )
    if spec.actor != kind:
        raise ProgramError(f"{where}: {text!r}: {verb} is done by a {spec.actor}, not a {kind}")
    if not len(spec.args) - spec.optional <= len(args) <= len(spec.args):
        shape = " ".join(
            a if i < len(spec.args) - spec.optional else f"[{a}]" for i, a in enumerate(spec.args)
        )
        raise ProgramError(f"{where}: {text!r}: expected '{actor} {verb} {shape}'".rstrip())
    for shape, value in zip(spec.args, args, strict=False):
        why = _check_arg(shape, value)
        if why:
            raise ProgramError(f"{where}: {text!r}: {shape} {value!r}: {why}")
    return Op(actor, verb, args)


def _indexed(prefix: str, value: str) -> bool:
    return value.startswith(prefix) and value[len(prefix) :].isdigit() and len(value) < 12


def _check_arg(shape: str, value: str) -> str | None:
    """Why `value` is not a `shape` argument, or None."""
    if shape in CHOICES:
        ok = CHOICES[shape]
        return None if value in ok else f"accepted: {', '.join(ok)}"
    if shape in ("index", "kpage", "shortage", "bpages"):
        return None if value.isdigit() and len(value) < 6 else "expected a small integer >= 0"
    if shape == "region":
        ok = value == "anon" or _indexed("shm", value) or _indexed("file", value)
        return None if ok else "accepted: anon, shmN, fileN"
    if shape in ("file", "shm", "proc", "buf"):
        prefix = {"file": "file", "shm": "shm", "proc": "p", "buf": "b"}[shape]
        return None if _indexed(prefix, value) else f"expected {prefix}N"
    if shape == "flags":
        names = value.split(",")
        bad = [n for n in names if n not in FLUSH_FLAGS]
        if bad or len(set(names)) != len(names):
            return f"expected a comma-separated set of {', '.join(FLUSH_FLAGS)}"
        if "free" in names and "deactivate" in names:
            return "free and deactivate exclude each other (uvm_map_clean's KASSERT)"
        return None
    raise AssertionError(shape)


# ---- the world --------------------------------------------------------------------------

SWAP_KNOBS = {
    "nslots": (int, 64),
    "encrypt": (bool, True),
    "read_error": (bool, False),
    "fragmented": (bool, False),
    "bufpool_fail": (int, 0),
    "mapin_fail": (int, 0),
    "bounce_fail": (int, 0),
}


@dataclass(frozen=True)
class WorldSpec:
    """What exists at boot: memory, the free target, swap, processes, segments, files."""

    pages: int = 32  # managed pages
    freetarg: int = 8  # uvmexp.freetarg: the pagedaemon frees below it
    dma_share: float = 0.25  # the part of memory inside dma_constraint
    procs: int = 2  # processes p0.. with an anonymous entry and every file mapped
    shm: tuple[int, ...] = (2,)  # shared-memory segments (aobjs), pages each
    files: tuple[int, ...] = (3,)  # files (vnodes), pages each
    kmem: int = 2  # pages of pageable kernel memory (kernel object offsets)
    swap: tuple[tuple[str, Any], ...] = ()  # uvm_swap_init knobs other than their defaults

    def swap_dict(self) -> dict[str, Any]:
        return dict(self.swap)


WORLD_FIELDS = {
    "pages": (int, 4, MAX_PAGES),
    "freetarg": (int, 0, MAX_PAGES),
    "dma_share": (float, 0.0, 1.0),
    "procs": (int, 0, 16),
    "shm": (list, 0, 8),
    "files": (list, 0, 8),
    "kmem": (int, 0, 16),
}


@dataclass(frozen=True)
class Program:
    """A world, a set-up on one CPU, and one list of operations per CPU (module docstring)."""

    world: WorldSpec = field(default_factory=WorldSpec)
    setup: tuple[Op, ...] = ()
    cpus: tuple[tuple[Op, ...], ...] = ((),)
    name: str = ""
    summary: str = ""

    def size(self) -> int:
        """Operations in the set-up and on every CPU."""
        return len(self.setup) + sum(len(ops) for ops in self.cpus)

    def canonical(self) -> dict:
        """Everything that determines what runs, as plain JSON data (names left out)."""
        w = self.world
        return {
            "world": {
                "pages": w.pages,
                "freetarg": w.freetarg,
                "dma_share": w.dma_share,
                "procs": w.procs,
                "shm": list(w.shm),
                "files": list(w.files),
                "kmem": w.kmem,
                "swap": dict(sorted(w.swap)),
            },
            "setup": [op.text() for op in self.setup],
            "cpus": [[op.text() for op in ops] for ops in self.cpus],
        }

    def digest(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def with_name(self, name: str, summary: str = "") -> Program:
        return replace(self, name=name, summary=summary or self.summary)

    def sequential(self) -> Program:
        """The set-up and every CPU's operations run one after the other on one CPU: how a
        failure of the set-up itself is reported (it needs no interleaving)."""
        ops = self.setup + tuple(op for cpu in self.cpus for op in cpu)
        return replace(self, setup=(), cpus=(ops,))


def program_from_data(doc: Any, where: str = "program") -> Program:
    """A program from its canonical data (a token's or a file's), validated and legal."""
    if not isinstance(doc, dict):
        raise ProgramError(f"{where}: expected a table")
    for key in doc:
        if key not in ("world", "setup", "cpus", "name", "summary"):
            raise ProgramError(
                f"{where}: field {key!r} is unknown; accepted: world, setup, cpus, name, summary"
            )
    world = _world_from_data(doc.get("world", {}), f"{where}: world")
    setup = _ops(doc.get("setup", []), f"{where}: setup")
    cpus_doc = doc.get("cpus")
    if not isinstance(cpus_doc, list) or not 1 <= len(cpus_doc) <= MAX_CPUS:
        raise ProgramError(f"{where}: cpus: expected a list of 1 to {MAX_CPUS} operation lists")
    cpus = tuple(_ops(ops, f"{where}: cpu[{i}].ops") for i, ops in enumerate(cpus_doc))
    name = doc.get("name", "")
    summary = doc.get("summary", "")
    for key, value in (("name", name), ("summary", summary)):
        if not isinstance(value, str) or len(value) > 400 or "\n" in value:
            raise ProgramError(f"{where}: {key}: expected one line of text")
    prog = Program(world, setup, cpus, name, summary)
    if prog.size() > MAX_OPS:
        raise ProgramError(f"{where}: {prog.size()} operations; accepted: at most {MAX_OPS}")
    check_legal(prog, where)
    return prog


def _ops(items: Any, where: str) -> tuple[Op, ...]:
    if not isinstance(items, list):
        raise ProgramError(f"{where}: expected a list of operations")
    return tuple(parse_op(text, f"{where}[{i}]") for i, text in enumerate(items))


def _world_from_data(doc: Any, where: str) -> WorldSpec:
    if not isinstance(doc, dict):
        raise ProgramError(f"{where}: expected a table")
    values: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "swap":
            values["swap"] = _swap_from_data(value, f"{where}.swap")
            continue
        if key not in WORLD_FIELDS:
            raise ProgramError(
                f"{where}: field {key!r} is unknown; accepted: {', '.join([*WORLD_FIELDS, 'swap'])}"
            )
        kind, low, high = WORLD_FIELDS[key]
        if kind is list:
            if (
                not isinstance(value, list)
                or len(value) > high
                or not all(_is_int(v) and 1 <= v <= 16 for v in value)
            ):
                raise ProgramError(
                    f"{where}.{key}: expected a list of at most {high} page counts 1..16"
                )
            values[key] = tuple(value)
        elif kind is float:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ProgramError(f"{where}.{key}: expected a number in [{low}, {high}]")
            if not low <= value <= high:
                raise ProgramError(f"{where}.{key}: {value} is outside [{low}, {high}]")
            values[key] = float(value)
        else:
            if not _is_int(value) or not low <= value <= high:
                raise ProgramError(
                    f"{where}.{key}: expected an integer {low}..{high}, got {value!r}"
                )
            values[key] = value
    return WorldSpec(**values)


def _swap_from_data(doc: Any, where: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(doc, dict):
        raise ProgramError(f"{where}: expected a table")
    out = []
    for key, value in sorted(doc.items()):
        if key not in SWAP_KNOBS:
            raise ProgramError(
                f"{where}: field {key!r} is unknown; accepted: {', '.join(SWAP_KNOBS)}"
            )
        kind, default = SWAP_KNOBS[key]
        if kind is bool and not isinstance(value, bool):
            raise ProgramError(f"{where}.{key}: expected true or false")
        if kind is int and (not _is_int(value) or not 0 <= value <= 4096):
            raise ProgramError(f"{where}.{key}: expected an integer 0..4096")
        if key == "nslots" and value < 2:
            raise ProgramError(f"{where}.nslots: expected at least 2 slots")
        if value != default:
            out.append((key, value))
    return tuple(out)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ---- legality: the preconditions of every operation ------------------------------------


@dataclass
class ProcState:
    """What the generator and the checker of a program know about one process."""

    anon: str | None = "own"  # own, shared (MAP_INHERIT_SHARE), cow (needs-copy), None
    shm: set[int] = field(default_factory=set)
    files: set[int] = field(default_factory=set)
    wired: set[tuple[str, int]] = field(default_factory=set)
    populated: set[int] = field(default_factory=set)  # anon slots it filled (own amap)
    cow: set[int] = field(default_factory=set)  # anon slots shared copy-on-write
    lane: int | None = None  # the CPU of its operations after the set-up


class Ledger:
    """The state the preconditions read, updated operation by operation.

    `why_not(op, lane)` says why `op` may not run next on `lane` (None: the set-up), or
    None if it may; `apply(op, lane)` records its effect.  A process's state is known
    exactly (its operations run in order on one CPU); shared resources are reference
    counted or owned by one thread, so what another CPU did meanwhile never matters.
    """

    def __init__(self, world: WorldSpec, wired_files: set[int] | None = None):
        self.world = world
        self.procs: dict[str, ProcState | None] = {
            f"p{i}": ProcState(files=set(range(len(world.files)))) for i in range(world.procs)
        }  # None: exited
        self.shm_removed: set[int] = set()
        self.kpages: dict[int, tuple[str, bool]] = {}  # kpage -> (owner, allocated)
        self.bufs: dict[str, tuple[str, bool, bool]] = {}  # buf -> (owner, exists, dma)
        self.lanes: dict[str, int] = {}  # thread -> its CPU after the set-up
        self.wired_files = wired_files or set()

    def copy(self) -> Ledger:
        other = Ledger.__new__(Ledger)
        other.world = self.world
        other.procs = {
            k: None
            if v is None
            else replace(
                v,
                shm=set(v.shm),
                files=set(v.files),
                wired=set(v.wired),
                populated=set(v.populated),
                cow=set(v.cow),
            )
            for k, v in self.procs.items()
        }
        other.shm_removed = set(self.shm_removed)
        other.kpages = dict(self.kpages)
        other.bufs = dict(self.bufs)
        other.lanes = dict(self.lanes)
        other.wired_files = self.wired_files
        return other

    # -- the rules ---------------------------------------------------------------------------

    def why_not(self, op: Op, lane: int | None) -> str | None:
        spec = VERBS[op.verb]
        if spec.setup_only and lane is not None:
            return f"{op.verb} runs only in the set-up (the kernel runs it with nothing else)"
        if lane is not None:
            pinned = self.lanes.get(op.actor)
            if pinned is not None and pinned != lane:
                return f"{op.actor} already runs on cpu{pinned}: a thread runs on one CPU"
        kind = spec.actor
        if kind == "process":
            return self._process(op)
        if kind == "kernel thread":
            return self._kernel(op)
        return None

    def _region(self, p: ProcState, region: str, index: int | None) -> str | None:
        if region == "anon":
            if p.anon is None:
                return "the anonymous entry is unmapped"
            if index is not None and index >= ANON_PAGES:
                return f"the anonymous entry has {ANON_PAGES} pages"
            return None
        n = int(region[4:] if region.startswith("file") else region[3:])
        if region.startswith("shm"):
            if n >= len(self.world.shm):
                return f"the world has {len(self.world.shm)} shared-memory segments"
            if n not in p.shm:
                return f"{region} is not attached"
            pages = self.world.shm[n]
        else:
            if n >= len(self.world.files):
                return f"the world has {len(self.world.files)} files"
            if n not in p.files:
                return f"{region} is not mapped"
            pages = self.world.files[n]
        if index is not None and index >= pages:
            return f"{region} has {pages} pages"
        return None

    def _process(self, op: Op) -> str | None:
        if op.actor not in self.procs:
            return (
                f"{op.actor} does not exist (the world has {self.world.procs} processes "
                "p0..; fork makes others)"
            )
        p = self.procs[op.actor]
        if p is None:
            return f"{op.actor} has exited"
        v, a = op.verb, op.args
        if v in ("fault", "touch", "wire", "unwire"):
            region, index = a[0], int(a[1])
            why = self._region(p, region, index)
            if why:
                return why
            write = v in ("fault", "touch") and a[2] == "w"
            if region == "anon" and write and index in p.cow:
                return (
                    f"anon page {index} is shared copy-on-write: a write would promote it "
                    "(uvm_fault case 1B), which the model does not have"
                )
            if v == "wire":
                if (region, index) in p.wired:
                    return f"{region} page {index} is already wired by {op.actor}"
                if region == "anon" and p.anon != "own":
                    return "the anonymous entry is shared with another process (fork)"
            if v == "unwire" and (region, index) not in p.wired:
                return f"{op.actor} has not wired {region} page {index}"
            return None
        if v == "madvise":
            if a[0].startswith("file"):
                return "madvise is for anon and shmN (files: msync)"
            return self._region(p, a[0], None)
        if v == "msync":
            why = self._region(p, a[0], None)
            if why:
                return why
            if a[1] == "invalidate" and int(a[0][4:]) in self.wired_files:
                return f"{a[0]} has pages some process wires: they must not be freed under it"
            return None
        if v == "munmap":
            return self._region(p, a[0], None)
        if v == "fork":
            child = a[0]
            if child in self.procs:
                return f"{child} already exists"
            if any(r == "anon" for r, _i in p.wired):
                return "the parent has wired anon pages (fork would copy them now: amap_cow_now)"
            if p.anon not in ("own", None):
                return "the parent's anonymous entry is already shared or copy-on-write"
            return None
        if v == "shmat":
            n = int(a[0][3:])
            if n >= len(self.world.shm):
                return f"the world has {len(self.world.shm)} shared-memory segments"
            if n in p.shm:
                return f"{a[0]} is already attached"
            if n in self.shm_removed:
                return f"{a[0]} was removed (IPC_RMID)"
            return None
        if v == "shmrm":
            n = int(a[0][3:])
            if n >= len(self.world.shm):
                return f"the world has {len(self.world.shm)} shared-memory segments"
            if n in self.shm_removed:
                return f"{a[0]} was already removed"
            return None
        return None

    def _kernel(self, op: Op) -> str | None:
        v, a = op.verb, op.args
        if v in ("kmalloc", "kfree"):
            k = int(a[0])
            if k >= self.world.kmem:
                return f"the world has {self.world.kmem} pages of kernel memory"
            owner, allocated = self.kpages.get(k, (op.actor, False))
            if owner != op.actor:
                return f"kernel page {k} belongs to {owner}"
            if v == "kmalloc" and allocated:
                return f"kernel page {k} is allocated"
            if v == "kfree" and not allocated:
                return f"kernel page {k} is not allocated"
            return None
        if v in ("bread", "bflip", "brelse"):
            b = a[0]
            owner, exists, _dma = self.bufs.get(b, (op.actor, False, True))
            if owner != op.actor:
                return f"buffer {b} belongs to {owner}"
            if v == "bread":
                if b in self.bufs:
                    return f"buffer {b} was already read"
                if not 1 <= int(a[1]) <= 4:
                    return "a buffer has 1 to 4 pages"
                return None
            if not exists:
                return f"buffer {b} does not exist"
            return None
        if v == "flush":
            n = int(a[0][4:])
            if n >= len(self.world.files):
                return f"the world has {len(self.world.files)} files"
            if "free" in a[1].split(",") and n in self.wired_files:
                return f"{a[0]} has pages some process wires: they must not be freed under it"
            return None
        return None

    # -- effects ---------------------------------------------------------------------------

    def apply(self, op: Op, lane: int | None) -> None:
        if lane is not None:
            self.lanes.setdefault(op.actor, lane)
        v, a = op.verb, op.args
        p = self.procs.get(op.actor)
        if v == "fault" or v == "touch":
            if a[0] == "anon":
                p.populated.add(int(a[1]))
        elif v == "wire":
            p.wired.add((a[0], int(a[1])))
            if a[0] == "anon":
                p.populated.add(int(a[1]))
        elif v == "unwire":
            p.wired.discard((a[0], int(a[1])))
        elif v == "madvise":
            if a[0] == "anon" and a[1] == "free" and p.anon == "own":
                wired = {i for r, i in p.wired if r == "anon"}
                p.populated &= wired
        elif v == "munmap":
            p.wired = {(r, i) for r, i in p.wired if r != a[0]}
            if a[0] == "anon":
                p.anon = None
                p.populated.clear()
            elif a[0].startswith("shm"):
                p.shm.discard(int(a[0][3:]))
            else:
                p.files.discard(int(a[0][4:]))
        elif v == "fork":
            child = ProcState(shm=set(p.shm), files=set(p.files), lane=lane)
            if p.anon is not None:
                if a[1:] == ("share",):
                    p.anon = child.anon = "shared"
                else:
                    p.anon = child.anon = "cow"
                    p.cow |= p.populated
                    child.cow = set(p.cow)
            else:
                child.anon = None
            self.procs[a[0]] = child
            if lane is not None:
                self.lanes[a[0]] = lane
        elif v == "exit":
            self.procs[op.actor] = None
        elif v == "shmat":
            p.shm.add(int(a[0][3:]))
        elif v == "shmrm":
            self.shm_removed.add(int(a[0][3:]))
        elif v == "kmalloc":
            self.kpages[int(a[0])] = (op.actor, True)
        elif v == "kfree":
            self.kpages[int(a[0])] = (op.actor, False)
        elif v == "bread":
            self.bufs[a[0]] = (op.actor, True, True)
        elif v == "bflip":
            owner, exists, _dma = self.bufs[a[0]]
            self.bufs[a[0]] = (owner, exists, a[1] == "dma")
        elif v == "brelse":
            owner, _e, dma = self.bufs[a[0]]
            self.bufs[a[0]] = (owner, False, dma)


def wired_files(ops: Iterable[Op]) -> set[int]:
    """Files some operation of the program wires a page of (never flushed with PGO_FREE)."""
    return {
        int(op.args[0][4:]) for op in ops if op.verb == "wire" and op.args[0].startswith("file")
    }


def all_ops(prog: Program) -> list[Op]:
    return list(prog.setup) + [op for ops in prog.cpus for op in ops]


def check_legal(prog: Program, where: str = "program") -> None:
    """Raise ProgramError at the first operation that breaks a rule (`Ledger`)."""
    why = first_illegal(prog)
    if why is not None:
        place, op, reason = why
        raise ProgramError(f"{where}: {place}: {op.text()!r}: {reason}")


def first_illegal(prog: Program) -> tuple[str, Op, str] | None:
    """(place, operation, reason) of the first operation that breaks a rule, or None.

    The set-up runs first; then each CPU's list in CPU order.  A process forked after the
    set-up lives on its parent's CPU (`ProcState.lane`), so its operations may only follow
    the fork on that CPU.
    """
    ledger = Ledger(prog.world, wired_files(all_ops(prog)))
    for i, op in enumerate(prog.setup):
        why = ledger.why_not(op, None)
        if why:
            return f"setup[{i}]", op, why
        ledger.apply(op, None)
    for c, ops in enumerate(prog.cpus):
        for i, op in enumerate(ops):
            why = ledger.why_not(op, c)
            if why:
                return f"cpu[{c}].ops[{i}]", op, why
            ledger.apply(op, c)
    return None


# ---- files and references --------------------------------------------------------------


def to_ref(prog: Program) -> str:
    """The program as a scenario reference a replay token can carry (`program:<data>`)."""
    text = json.dumps(prog.canonical(), sort_keys=True, separators=(",", ":"))
    body = base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")
    return PROGRAM_REF + body


def from_ref(ref: str) -> Program:
    """The program a `program:<data>` reference carries, validated."""
    body = ref[len(PROGRAM_REF) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        d = zlib.decompressobj()
        text = d.decompress(raw, MAX_FILE_BYTES)
        if d.unconsumed_tail:
            raise ValueError("too long")
        doc = json.loads(text)
    except (ValueError, zlib.error, RecursionError):
        raise ProgramError("scenario reference: the program it carries cannot be decoded") from None
    if isinstance(doc, dict) and isinstance(doc.get("world"), dict):
        doc["world"] = dict(doc["world"])
    return program_from_data(doc, "scenario reference")


def _toml_str(s: str) -> str:
    return json.dumps(s)  # a TOML basic string is a JSON string for printable text


def dump(prog: Program, header: Iterable[str] = ()) -> str:
    """The program as a TOML scenario file (`uvmsim check --scenario FILE.toml`)."""
    w = prog.world
    lines = [f"# {h}" for h in header]
    lines += [
        f"name = {_toml_str(prog.name or 'program-' + prog.digest())}",
        f"summary = {_toml_str(prog.summary)}",
        "setup = [",
        *(f"  {_toml_str(op.text())}," for op in prog.setup),
        "]",
        "",
        "[world]",
        f"pages = {w.pages}",
        f"freetarg = {w.freetarg}",
        f"dma_share = {w.dma_share!r}",
        f"procs = {w.procs}",
        f"shm = {list(w.shm)}",
        f"files = {list(w.files)}",
        f"kmem = {w.kmem}",
    ]
    if w.swap:
        lines += ["", "[world.swap]"]
        for key, value in w.swap:
            lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    for ops in prog.cpus:
        lines += ["", "[[cpu]]", "ops = ["]
        lines += [f"  {_toml_str(op.text())}," for op in ops]
        lines.append("]")
    return "\n".join(lines) + "\n"


def loads(text: str, where: str) -> Program:
    """A program from the text of a TOML scenario file; `where` names it in errors."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgramError(f"{where}: not valid TOML ({exc})") from None
    allowed = ("name", "summary", "setup", "world", "cpu", "found_on", "failure", "replay")
    for key in doc:
        if key not in allowed:
            raise ProgramError(f"{where}: field {key!r} is unknown; accepted: {', '.join(allowed)}")
    for key in ("found_on", "failure", "replay"):
        if key in doc and not isinstance(doc[key], str):
            raise ProgramError(f"{where}: {key}: expected a string")
    cpus = doc.get("cpu")
    if not isinstance(cpus, list) or not cpus:
        raise ProgramError(f"{where}: cpu: expected at least one [[cpu]] table with ops = [...]")
    cpu_ops = []
    for i, table in enumerate(cpus):
        if not isinstance(table, dict) or set(table) != {"ops"}:
            raise ProgramError(f"{where}: cpu[{i}]: expected exactly one field, ops = [...]")
        cpu_ops.append(table["ops"])
    data = {
        "world": doc.get("world", {}),
        "setup": doc.get("setup", []),
        "cpus": cpu_ops,
        "name": doc.get("name", os.path.splitext(os.path.basename(where))[0]),
        "summary": doc.get("summary", ""),
    }
    return program_from_data(data, where)


def load_file(path: str) -> Program:
    """A program from a TOML scenario file, with one line naming the file and the field when
    it is not a legal program."""
    return loads(read_input_text(path, MAX_FILE_BYTES, "scenario file", ProgramError), path)
