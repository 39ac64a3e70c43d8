"""The grammar `uvmsim fuzz` draws programs from: legal kernel workloads, generated and mutated.

`generate(rng)` draws a world (2-6 CPUs, a memory size whose free target keeps the
pagedaemon scanning, swap with or without injected failures), a set-up and one list of
operations per CPU.  Every operation is drawn for a thread whose state allows it
(`program.Ledger`): a process faults, wires, advises, syncs, unmaps, forks and exits; the
pagedaemon runs rounds; the aiodone daemon completes swap writes; kernel threads allocate
and free kernel memory, read, flip and release buffers and flush files.  Threads are placed
on CPUs before the concurrent part is drawn; a process forked there runs on its parent's
CPU.  `mutate(rng, program)` changes one thing (an operation added, removed, replaced or
moved between the set-up and a CPU, a world knob) and keeps the result only if it is still
legal.  Everything is drawn from the `random.Random` it is given: the same seed gives the
same programs.
"""

from __future__ import annotations

import random
from dataclasses import replace

from uvmsim.scenarios.program import (
    ANON_PAGES,
    CHOICES,
    FLUSH_FLAGS,
    SWAP_KNOBS,
    VERBS,
    Ledger,
    Op,
    Program,
    WorldSpec,
    all_ops,
    first_illegal,
    wired_files,
)

MIN_CPUS, MAX_CPUS = 2, 6

# How often each operation is drawn for a thread that may run it.
PROCESS_WEIGHTS = {
    "fault": 30,
    "touch": 10,
    "wire": 7,
    "unwire": 7,
    "madvise": 7,
    "msync": 4,
    "munmap": 2,
    "fork": 4,
    "exit": 3,
    "shmat": 8,
    "shmrm": 2,
}
KERNEL_WEIGHTS = {
    "kmalloc": 8,
    "kfree": 6,
    "bread": 4,
    "bflip": 4,
    "brelse": 3,
    "flush": 8,
    "hibernate": 1,
}
# Flag sets of uvn_flush's VFS callers (uvm_vnp_sync, uvm_vnp_terminate, truncation) and of
# msync/madvise through uvm_map_clean.
FLUSH_SETS = (
    "cleanit,allpages",
    "cleanit,syncio,allpages",
    "cleanit,free,allpages",
    "cleanit,free,syncio",
    "free,allpages",
    "deactivate",
    "cleanit,deactivate",
    "cleanit",
)


def draw_world(rng: random.Random, cpus: int, faults: bool = True) -> WorldSpec:
    """A world for `cpus` CPUs: memory for everything a program can hold (every process's
    anon pages, the segments, files, kernel pages and buffers, the per-CPU magazines) and a
    free target above what is left free, so the pagedaemon finds a shortage.  With `faults`
    swap may fail (read errors, a fragmented device, the NOWAIT allocations of a write)."""
    procs = rng.randint(1, 3)
    shm = tuple(rng.randint(1, 3) for _ in range(rng.randint(0, 2)))
    files = tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 2)))
    kmem = rng.randint(0, 2)
    demand = ANON_PAGES * (procs + 2) + sum(shm) + sum(files) + kmem + 8
    pages = demand + 8 * cpus + 16
    freetarg = pages - rng.randint(demand // 3, demand)
    swap: dict[str, object] = {}
    if rng.random() < 0.25:
        swap["encrypt"] = False
    if rng.random() < 0.2:
        swap["nslots"] = rng.randint(4, 24)
    if faults:
        if rng.random() < 0.1:
            swap["read_error"] = True
        if rng.random() < 0.2:
            swap["fragmented"] = True
        for knob in ("bufpool_fail", "mapin_fail", "bounce_fail"):
            if rng.random() < 0.15:
                swap[knob] = rng.randint(1, 2)
    return WorldSpec(
        pages=pages,
        freetarg=max(0, freetarg),
        dma_share=rng.choice((0.25, 0.25, 0.5, 1.0)),
        procs=procs,
        shm=shm,
        files=files,
        kmem=kmem,
        swap=tuple(sorted(swap.items())),
    )


def _region(rng: random.Random, world: WorldSpec) -> str:
    choices = ["anon"] * 3
    choices += [f"shm{i}" for i in range(len(world.shm))] * 2
    choices += [f"file{i}" for i in range(len(world.files))] * 2
    return rng.choice(choices)


def _pages(world: WorldSpec, region: str) -> int:
    if region == "anon":
        return ANON_PAGES
    if region.startswith("shm"):
        return world.shm[int(region[3:])]
    return world.files[int(region[4:])]


def draw_op(rng: random.Random, actor: str, ledger: Ledger, lane: int | None) -> Op | None:
    """An operation `actor` may run next on `lane` (None: the set-up), or None."""
    world = ledger.world
    if actor == "pd":
        args = () if rng.random() < 0.5 else (str(rng.randint(1, 4)),)
        return Op("pd", "pageout", args)
    if actor == "aio":
        return Op("aio", "aiodone")
    weights = PROCESS_WEIGHTS if actor.startswith("p") else KERNEL_WEIGHTS
    verbs = list(weights)
    for _attempt in range(12):
        verb = rng.choices(verbs, [weights[v] for v in verbs])[0]
        op = _draw_args(rng, actor, verb, world, ledger)
        if op is not None and ledger.why_not(op, lane) is None:
            return op
    return None


def _draw_args(
    rng: random.Random, actor: str, verb: str, world: WorldSpec, ledger: Ledger
) -> Op | None:
    if verb in ("fault", "touch", "wire", "unwire"):
        if verb == "unwire":
            p = ledger.procs.get(actor)
            if not p or not p.wired:
                return None
            region, index = rng.choice(sorted(p.wired))
            return Op(actor, verb, (region, str(index)))
        region = _region(rng, world)
        index = str(rng.randrange(_pages(world, region)))
        if verb == "wire":
            return Op(actor, verb, (region, index))
        rw = rng.choice(CHOICES["rw"])
        args = (region, index, rw)
        if verb == "fault" and rng.random() < 0.3:
            args += (rng.choice(CHOICES["advice"]),)
        return Op(actor, verb, args)
    if verb == "madvise":
        region = _region(rng, world)
        if region.startswith("file"):
            return None
        return Op(actor, verb, (region, rng.choice(CHOICES["madv"])))
    if verb == "msync":
        if not world.files:
            return None
        return Op(
            actor, verb, (f"file{rng.randrange(len(world.files))}", rng.choice(CHOICES["msync"]))
        )
    if verb == "munmap":
        return Op(actor, verb, (_region(rng, world),))
    if verb == "fork":
        child = f"p{len(ledger.procs)}"
        return Op(actor, verb, (child,) if rng.random() < 0.7 else (child, "share"))
    if verb == "exit":
        return Op(actor, verb)
    if verb in ("shmat", "shmrm"):
        if not world.shm:
            return None
        return Op(actor, verb, (f"shm{rng.randrange(len(world.shm))}",))
    if verb in ("kmalloc", "kfree"):
        if not world.kmem:
            return None
        k = str(rng.randrange(world.kmem))
        return Op(actor, verb, (k, rng.choice(CHOICES["wiring"])) if verb == "kmalloc" else (k,))
    if verb == "bread":
        mine = [b for b, (o, _e, _d) in ledger.bufs.items() if o == actor]
        return (
            Op(actor, verb, (f"b{len(ledger.bufs)}", str(rng.randint(1, 2))))
            if len(mine) < 2
            else None
        )
    if verb in ("bflip", "brelse"):
        mine = sorted(b for b, (o, e, _d) in ledger.bufs.items() if o == actor and e)
        if not mine:
            return None
        b = rng.choice(mine)
        return Op(actor, verb, (b, rng.choice(CHOICES["memory"])) if verb == "bflip" else (b,))
    if verb == "flush":
        if not world.files:
            return None
        return Op(actor, verb, (f"file{rng.randrange(len(world.files))}", rng.choice(FLUSH_SETS)))
    if verb == "hibernate":
        return Op(actor, verb)
    raise AssertionError(verb)


def _threads(world: WorldSpec, rng: random.Random) -> list[str]:
    threads = [f"p{i}" for i in range(world.procs)] + ["pd"]
    if rng.random() < 0.8:
        threads.append("aio")
    threads += [f"k{i}" for i in range(rng.choice((0, 1, 1, 2)))]
    return threads


def generate(rng: random.Random, faults: bool = True, max_ops: int = 40) -> Program:
    """A new legal program of 2-6 CPUs (module docstring)."""
    while True:
        prog = _draw_program(rng, faults, max_ops)
        if len(prog.cpus) >= MIN_CPUS:
            return prog


def _draw_program(rng: random.Random, faults: bool, max_ops: int) -> Program:
    cpus = rng.randint(MIN_CPUS, MAX_CPUS)
    world = draw_world(rng, cpus, faults)
    threads = _threads(world, rng)
    ledger = Ledger(world)
    setup: list[Op] = []
    for _ in range(rng.randint(0, max_ops // 2)):
        op = draw_op(
            rng, rng.choice(threads + [t for t in ledger.procs if t not in threads]), ledger, None
        )
        if op is not None:
            setup.append(op)
            ledger.apply(op, None)
    # Threads still alive go to CPUs: the pagedaemon and the aiodone daemon on CPUs of their
    # own when there are enough, the others anywhere.
    alive = [t for t in [*threads, *sorted(ledger.procs)] if ledger.procs.get(t, True) is not None]
    alive = list(dict.fromkeys(alive))
    rng.shuffle(alive)
    lanes: dict[str, int] = {}
    for i, t in enumerate(alive):
        lanes[t] = i % cpus if i < cpus else rng.randrange(cpus)
    ops: list[list[Op]] = [[] for _ in range(cpus)]
    for _ in range(rng.randint(cpus, max_ops - len(setup) + cpus)):
        lane = rng.randrange(cpus)
        mine = [t for t, c in lanes.items() if c == lane and ledger.procs.get(t, True) is not None]
        mine += [
            t
            for t, c in ledger.lanes.items()
            if c == lane and t not in lanes and ledger.procs.get(t, True) is not None
        ]
        if not mine:
            continue
        op = draw_op(rng, rng.choice(mine), ledger, lane)
        if op is not None:
            ops[lane].append(op)
            ledger.apply(op, lane)
    prog = Program(world, tuple(setup), tuple(tuple(o) for o in ops if o) or ((),))
    prog = _fit_cpus(prog)
    # Drawn one operation at a time against the ledger, the program is legal; a file wired
    # late may forbid a free-flush drawn earlier: drop such operations.
    return _legalize(prog)


def _fit_cpus(prog: Program) -> Program:
    cpus = tuple(c for c in prog.cpus if c)
    if len(cpus) < 1:
        cpus = ((),)
    return replace(prog, cpus=cpus)


def _legalize(prog: Program) -> Program:
    """Drop operations until the program is legal (the first illegal one each time)."""
    for _ in range(prog.size() + 1):
        bad = first_illegal(prog)
        if bad is None:
            return prog
        prog = _drop_at(prog, bad[0])
    return prog


def _drop_at(prog: Program, place: str) -> Program:
    if place.startswith("setup["):
        i = int(place[6:-1])
        return replace(prog, setup=prog.setup[:i] + prog.setup[i + 1 :])
    c = int(place[4 : place.index("]")])
    i = int(place[place.rindex("[") + 1 : -1])
    ops = prog.cpus[c]
    cpus = list(prog.cpus)
    cpus[c] = ops[:i] + ops[i + 1 :]
    return _fit_cpus(replace(prog, cpus=tuple(cpus)))


# ---- mutation -----------------------------------------------------------------------------


def mutate(rng: random.Random, prog: Program, faults: bool = True) -> Program | None:
    """`prog` changed in one way (module docstring), legal; None if no attempt was legal."""
    for _attempt in range(20):
        kind = rng.choices(
            ("insert", "delete", "replace", "move", "world", "split"), (6, 3, 3, 2, 1, 1)
        )[0]
        cand = _MUTATIONS[kind](rng, prog, faults)
        if cand is not None and cand != prog and first_illegal(cand) is None:
            return cand
    return None


def _positions(prog: Program) -> list[tuple[int | None, int]]:
    """(lane, index) of every operation; lane None is the set-up."""
    out: list[tuple[int | None, int]] = [(None, i) for i in range(len(prog.setup))]
    out += [(c, i) for c, ops in enumerate(prog.cpus) for i in range(len(ops))]
    return out


def _ops_of(prog: Program, lane: int | None) -> tuple[Op, ...]:
    return prog.setup if lane is None else prog.cpus[lane]


def _with(prog: Program, lane: int | None, ops: tuple[Op, ...]) -> Program:
    if lane is None:
        return replace(prog, setup=ops)
    cpus = list(prog.cpus)
    cpus[lane] = ops
    return _fit_cpus(replace(prog, cpus=tuple(cpus)))


def _ledger_before(prog: Program, lane: int | None, index: int) -> Ledger:
    """The ledger as `lane`'s operation `index` would see it (`first_illegal`'s order)."""
    ledger = Ledger(prog.world, wired_files(all_ops(prog)))
    for op in prog.setup[: index if lane is None else len(prog.setup)]:
        ledger.apply(op, None)
    if lane is None:
        return ledger
    for c, ops in enumerate(prog.cpus):
        for op in ops[: index if c == lane else len(ops)]:
            ledger.apply(op, c)
        if c == lane:
            break
    return ledger


def _actors_on(prog: Program, lane: int | None, ledger: Ledger) -> list[str]:
    actors = {op.actor for op in _ops_of(prog, lane)}
    actors |= {t for t, c in ledger.lanes.items() if c == lane}
    if lane is None:
        actors |= set(ledger.procs) | {"pd", "aio", "k0"}
    return sorted(a for a in actors if ledger.procs.get(a, True) is not None)


def _insert(rng: random.Random, prog: Program, faults: bool) -> Program | None:
    lanes: list[int | None] = [None, *range(len(prog.cpus))]
    lane = rng.choice(lanes)
    ops = _ops_of(prog, lane)
    index = rng.randint(0, len(ops))
    ledger = _ledger_before(prog, lane, index)
    actors = _actors_on(prog, lane, ledger)
    if not actors:
        return None
    op = draw_op(rng, rng.choice(actors), ledger, lane)
    if op is None:
        return None
    return _with(prog, lane, (*ops[:index], op, *ops[index:]))


def _delete(rng: random.Random, prog: Program, faults: bool) -> Program | None:
    pos = _positions(prog)
    if not pos:
        return None
    lane, index = rng.choice(pos)
    ops = _ops_of(prog, lane)
    return _with(prog, lane, ops[:index] + ops[index + 1 :])


def _replace(rng: random.Random, prog: Program, faults: bool) -> Program | None:
    pos = _positions(prog)
    if not pos:
        return None
    lane, index = rng.choice(pos)
    ops = _ops_of(prog, lane)
    ledger = _ledger_before(prog, lane, index)
    op = draw_op(rng, ops[index].actor, ledger, lane)
    if op is None:
        return None
    return _with(prog, lane, (*ops[:index], op, *ops[index + 1 :]))


def _move(rng: random.Random, prog: Program, faults: bool) -> Program | None:
    """The last set-up operation becomes the first of a CPU, or the other way round."""
    if prog.setup and rng.random() < 0.5:
        op = prog.setup[-1]
        lane = rng.randrange(len(prog.cpus))
        moved = replace(prog, setup=prog.setup[:-1])
        return _with(moved, lane, (op,) + prog.cpus[lane])
    lanes = [c for c, ops in enumerate(prog.cpus) if ops]
    if not lanes:
        return None
    lane = rng.choice(lanes)
    op = prog.cpus[lane][0]
    moved = _with(prog, lane, prog.cpus[lane][1:])
    return replace(moved, setup=(*prog.setup, op))


def _split(rng: random.Random, prog: Program, faults: bool) -> Program | None:
    """A new CPU takes the pagedaemon's (or another thread's) operations of one CPU."""
    if len(prog.cpus) >= MAX_CPUS:
        return None
    lane = rng.randrange(len(prog.cpus))
    actors = sorted({op.actor for op in prog.cpus[lane]})
    if len(actors) < 2:
        return None
    actor = rng.choice(actors)
    if actor.startswith("p") and any(
        op.verb == "fork" for op in prog.cpus[lane] if op.actor == actor
    ):
        return None
    keep = tuple(op for op in prog.cpus[lane] if op.actor != actor)
    took = tuple(op for op in prog.cpus[lane] if op.actor == actor)
    cpus = list(prog.cpus)
    cpus[lane] = keep
    cpus.append(took)
    return replace(prog, cpus=tuple(cpus))


def _world(rng: random.Random, prog: Program, faults: bool) -> Program | None:
    w = prog.world
    swap = dict(w.swap)
    choice = rng.randrange(4)
    if choice == 0:
        w = replace(w, freetarg=max(0, w.freetarg + rng.choice((-4, 4))))
    elif choice == 1:
        w = replace(w, dma_share=rng.choice((0.25, 0.5, 1.0)))
    elif choice == 2:
        swap["encrypt"] = not swap.get("encrypt", True)
    elif faults:
        knob = rng.choice(("read_error", "fragmented", "bufpool_fail", "mapin_fail", "bounce_fail"))
        if knob in ("read_error", "fragmented"):
            swap[knob] = not swap.get(knob, False)
        else:
            swap[knob] = rng.randint(0, 2)
    swap = {k: v for k, v in swap.items() if v != SWAP_KNOBS[k][1]}
    return replace(prog, world=replace(w, swap=tuple(sorted(swap.items()))))


_MUTATIONS = {
    "insert": _insert,
    "delete": _delete,
    "replace": _replace,
    "move": _move,
    "world": _world,
    "split": _split,
}

__all__ = ["FLUSH_FLAGS", "VERBS", "generate", "mutate"]
