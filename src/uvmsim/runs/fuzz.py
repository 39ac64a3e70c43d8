"""Coverage-guided fuzzing: generated kernel workloads, run under PCT and random schedules.

A campaign draws programs (`scenarios/grammar.py`: legal kernel workloads) and runs each
under `pct` PCT executions and `random` random-walk executions (the check strategies, through
`check.strategy.explore`).  A program that reaches something no earlier program reached is
kept in the corpus, and later programs are mutations of corpus programs as often as new
ones.  Coverage is counted in *features*, all of them taken from what the engines already see
at every visible step, so measuring it costs no tracing:

- a model site: the visible operation (kind) at a place (function, instruction) of the
  model's code (`uvmsim/uvm/`): every line that touches shared state or a lock;
- a lock pair: a lock class acquired while another is held, at the acquiring function: the
  combinations WITNESS orders and the recursion check watches, where locking bugs live;
- a switch read: a protocol switch read by a model function, so that every hunk of the diff
  reached on this protocol counts (`SwitchReads`).

Line coverage proper would need `sys.settrace` on every line (several times slower on
Python 3.11); the visible sites are the lines where interleavings differ, which is what a
schedule explorer can make use of.  `--coverage` adds a per-function pass (`sys.setprofile`
over one execution of each corpus program) for the report of model functions never reached.

Every failure is grouped by signature (a recorded finding's label, else its kind and message
with object numbers left out), and the first of each group is minimized on both axes: delta
debugging over the program's operations and CPUs (each candidate legal, the same failure
found again within a budget of executions), then the fewest preemptions (`check.minimize`),
and written as a scenario file with its replay token.  Results are a function of the seed
and the number of programs, whatever `--jobs` or `--cluster` run them.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.report import Explanation
from uvmsim.check.result import CheckResult, Coverage
from uvmsim.check.strategies.pct import Pct
from uvmsim.check.strategies.random_walk import RandomWalk
from uvmsim.check.strategy import explore
from uvmsim.check.token import failure_signature
from uvmsim.machine import Engine, Failure
from uvmsim.machine.failure import DEADLOCK, STEP_BOUND, InputError
from uvmsim.machine.sites import frame_site
from uvmsim.output_files import write_atomically
from uvmsim.protocols import Protocol
from uvmsim.protocols.base import ALL_SWITCHES, SWITCHES
from uvmsim.protocols.hunks import HUNKS
from uvmsim.runs.check import CheckSpec, counterexample
from uvmsim.runs.executors import make_executor
from uvmsim.runs.names import get_protocol
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios.base import SetupError, forget
from uvmsim.scenarios.entry_points import to_scenario
from uvmsim.scenarios.findings import classify
from uvmsim.scenarios.grammar import generate, mutate
from uvmsim.scenarios.program import Program, dump, first_illegal, load_file, to_ref

MODEL_DIR = os.sep + os.path.join("uvmsim", "uvm") + os.sep
BATCH = 8  # programs drawn from one corpus state; results do not depend on --jobs
MAX_STEPS = 50_000


# ---- coverage features --------------------------------------------------------------------

_SWITCH_NAMES = frozenset(ALL_SWITCHES)
SWITCH_READS: set[tuple[str, str]] = set()
"""(switch, model function) pairs read in this process since the last `take_switch_reads`."""


class SwitchReads(Protocol):
    """A protocol that records which model function reads which switch (`SWITCH_READS`).

    Its switches and name are the protocol's, so tokens and digests are unchanged; the world
    snapshot keeps it, so reads in the set-up count too.
    """

    def __getattribute__(self, name: str) -> Any:
        if name in _SWITCH_NAMES:
            code = frame_site(sys._getframe(1))[0]
            SWITCH_READS.add((name, code.co_name))
        return object.__getattribute__(self, name)


def observed(proto: Protocol) -> Protocol:
    """`proto` as a `SwitchReads` (same name, description and switches)."""
    values = {f.name: getattr(proto, f.name) for f in dataclasses.fields(proto)}
    return SwitchReads(**values)


def take_switch_reads() -> set[tuple[str, str]]:
    reads = set(SWITCH_READS)
    SWITCH_READS.clear()
    return reads


_LOCK_KINDS = frozenset({"mtx_enter", "mtx_enter_try", "rw_enter", "rw_enter_try"})


class CoverageEngine(Engine):
    """Wraps an engine and records the features of every visible operation it is asked about
    (module docstring): model sites and lock pairs."""

    def __init__(self, inner: Engine, features: set):
        self.inner = inner
        self.features = features

    def begin(self, machine: Any) -> None:
        self.inner.begin(machine)

    def end(self, machine: Any) -> None:
        self.inner.end(machine)

    def choose(self, machine: Any, current: Any) -> Any:
        if current is not None:
            kind, obj, _field, site = current.op
            code = site[0] if site else None
            if code is not None and MODEL_DIR in code.co_filename:
                feats = self.features
                feats.add((kind, code.co_name, site[1]))
                if kind in _LOCK_KINDS and (current.mutexes or current.rwlocks):
                    cls = getattr(obj, "lock_class", None)
                    for held in current.mutexes:
                        feats.add(("pair", held.lock_class, cls, code.co_name))
                    for lk, _s in current.rwlocks:
                        feats.add(("pair", lk.lock_class, cls, code.co_name))
        return self.inner.choose(machine, current)


# ---- failures -----------------------------------------------------------------------------

_NUMBERED = re.compile(r"\b([A-Za-z_]+)(?:#)?\d+\b")


def failure_label(f: Failure) -> str:
    """The group a failure belongs to: a recorded finding's id (docs/findings.md), else its
    signature with object numbers left out (pg23.uobject and pg7.uobject are one race)."""
    finding = classify(f)
    if finding is not None:
        return finding
    return _NUMBERED.sub(r"\1N", failure_signature(f))


def is_stall(f: Failure) -> bool:
    """A closed program that cannot go on for want of a thread it does not have: every CPU
    left sleeps (for an I/O the aiodone daemon would complete, for free memory the
    pagedaemon would make), or the step bound.  Not a kernel failure."""
    if f.kind == STEP_BOUND:
        return True
    if f.kind != DEADLOCK:
        return False
    waits = f.message.split("; ")[1:]
    return bool(waits) and all("(sleeping)" in w for w in waits)


# ---- one program --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramTask:
    """One program of a campaign: run it `pct` + `random` times (an executor task)."""

    protocol: str
    program: Program
    index: int
    seed: int
    pct: int
    random: int
    profile: bool = False

    @property
    def key(self) -> str:
        return f"fuzz-{self.index}-{self.program.digest()}"

    def label(self) -> str:
        return f"program {self.index} on {self.protocol}"


@dataclass
class Found:
    """The first execution of a program that failed with a given label."""

    label: str
    failure: Failure
    schedule: tuple[int, ...]
    program: Program  # the program that ran (its sequential form for a set-up failure)
    engine: str  # which execution found it: "pct 123", "random 45", "setup"


@dataclass
class ProgramResult:
    index: int
    features: frozenset
    switches: frozenset
    functions: frozenset
    found: list[Found]
    executions: int
    stalls: int
    elapsed: float


def _program_seed(task: ProgramTask) -> int:
    return random.Random(f"{task.seed}:{task.index}").randrange(1 << 31)


def run_program(task: ProgramTask) -> ProgramResult:
    """Run one program under PCT and random schedules, with coverage (module docstring)."""
    t0 = time.monotonic()
    proto = observed(get_protocol(task.protocol))
    features: set = set()
    found: dict[str, Found] = {}
    executions = stalls = 0
    functions: set[str] = set()
    take_switch_reads()
    scenario = to_scenario(task.program)
    target = ScenarioTarget(scenario, proto, max_steps=MAX_STEPS)
    base = _program_seed(task)
    try:
        for strategy, count in ((Pct, task.pct), (RandomWalk, task.random)):
            if count <= 0:
                continue
            strat = (
                Pct(seed=base, depth=2, start=0, stop=count)
                if strategy is Pct
                else RandomWalk(seed=base, start=0, stop=count)
            )
            strat.begin(target, Coverage())
            while not strat.done:
                engine = CoverageEngine(strat.next_engine(), features)
                if task.profile:
                    result = _profiled(target, engine, functions)
                else:
                    result = target.execute(engine)
                executions += 1
                f = result.failure
                if f is not None:
                    if is_stall(f):
                        stalls += 1
                    else:
                        lab = failure_label(f)
                        if lab not in found:
                            found[lab] = Found(
                                lab,
                                f,
                                result.schedule,
                                task.program,
                                f"{strategy.name} {strat.label()}",
                            )
                strat.observe(result)
    except SetupError:
        # The set-up failed on its own: one CPU, no interleaving needed.  Run the program
        # sequentially on one CPU to get the failure as a check reports it.
        seq = task.program.sequential()
        seq_scenario = to_scenario(seq)
        seq_target = ScenarioTarget(seq_scenario, proto, max_steps=MAX_STEPS)
        strat = RandomWalk(seed=base, start=0, stop=1)
        strat.begin(seq_target, Coverage())
        result = seq_target.execute(CoverageEngine(strat.next_engine(), features))
        executions += 1
        f = result.failure
        if f is not None and not is_stall(f):
            lab = failure_label(f)
            found[lab] = Found(lab, f, result.schedule, seq, "setup")
        forget(seq_scenario)
    forget(scenario)
    return ProgramResult(
        task.index,
        frozenset(features),
        frozenset(take_switch_reads()),
        frozenset(functions),
        list(found.values()),
        executions,
        stalls,
        time.monotonic() - t0,
    )


def _profiled(target: ScenarioTarget, engine: Engine, functions: set[str]) -> Any:
    """One execution under `sys.setprofile`, adding the model functions it called
    (module.name) to `functions`."""
    seen: set[Any] = set()

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            seen.add(frame.f_code)

    sys.setprofile(hook)
    try:
        result = target.execute(engine)
    finally:
        sys.setprofile(None)
    functions.update(
        f"{os.path.basename(c.co_filename)[:-3]}.{c.co_name}"
        for c in seen
        if MODEL_DIR in c.co_filename
    )
    return result


# ---- the campaign ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzSpec:
    """Everything that determines a campaign (`uvmsim fuzz`)."""

    protocol: str
    programs: int | None = None
    time_limit: float | None = None
    seed: int = 0
    jobs: int = 1
    cluster: str | None = None
    pct: int = 12
    random: int = 12
    faults: bool = True
    corpus: str | None = None  # a directory of scenario files: read first, kept up to date
    coverage: bool = False  # profile model functions too (the --coverage report)
    stop_at: str | None = None  # stop at the first failure with this label, or a label
    # that extends it by "|..." (benchmarks: "data-race|data race on uvmexp.wired" is either
    # racing pair)

    def validate(self) -> None:
        get_protocol(self.protocol)
        if self.programs is None and self.time_limit is None:
            raise InputError("fuzz: give --programs N or --time-limit SECONDS")
        if self.programs is not None and not 1 <= self.programs <= 10_000_000:
            raise InputError(f"--programs must be between 1 and 10000000, got {self.programs}")
        if self.time_limit is not None and not 0 < self.time_limit <= 1e7:
            raise InputError(f"--time-limit must be > 0 seconds, got {self.time_limit}")
        for name, value in (("--pct", self.pct), ("--random", self.random)):
            if not 0 <= value <= 100_000:
                raise InputError(f"{name} must be between 0 and 100000, got {value}")
        if self.pct + self.random == 0:
            raise InputError("--pct and --random cannot both be 0")
        if (
            self.corpus is not None
            and os.path.exists(self.corpus)
            and not os.path.isdir(self.corpus)
        ):
            raise InputError(f"--corpus {self.corpus}: not a directory")


@dataclass
class Group:
    """The failures of one label: how often, the first one, and its minimized form."""

    label: str
    first: Found
    program_index: int
    seconds: float
    programs_failed: int = 1
    minimized: Program | None = None
    token: str = ""
    preemptions: int | None = None
    explanation: Explanation | None = None
    file: str = ""
    name: str = ""  # the scenario's name (and file name): unique within the campaign


@dataclass
class FuzzResult:
    spec: FuzzSpec
    programs: int = 0
    executions: int = 0
    stalls: int = 0
    corpus: list[Program] = field(default_factory=list)
    features: set = field(default_factory=set)
    switches: set = field(default_factory=set)
    functions: set = field(default_factory=set)
    groups: dict[str, Group] = field(default_factory=dict)
    elapsed: float = 0.0
    stopped_by: str = ""


def _corpus_programs(directory: str | None) -> list[Program]:
    if not directory or not os.path.isdir(directory):
        return []
    progs = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".toml"):
            progs.append(load_file(os.path.join(directory, name)))
    return progs


def fuzz(spec: FuzzSpec, progress: Callable[[FuzzResult], None] | None = None) -> FuzzResult:
    """Run a campaign (module docstring); failures are grouped, not yet minimized."""
    spec.validate()
    t0 = time.monotonic()
    rng = random.Random(spec.seed)
    res = FuzzResult(spec)
    seeds = _corpus_programs(spec.corpus)
    seen: set[str] = set()
    executor = make_executor(spec.jobs, spec.cluster)
    index = 0
    try:
        while True:
            batch: list[ProgramTask] = []
            while len(batch) < BATCH:
                if spec.programs is not None and index + len(batch) >= spec.programs:
                    break
                if seeds:
                    prog = seeds.pop(0)
                elif res.corpus and rng.random() < 0.6:
                    prog = mutate(rng, rng.choice(res.corpus), spec.faults)
                    if prog is None:
                        continue
                else:
                    prog = generate(rng, spec.faults)
                digest = prog.digest()
                if digest in seen:
                    continue
                seen.add(digest)
                batch.append(
                    ProgramTask(
                        spec.protocol,
                        prog,
                        index + len(batch),
                        spec.seed,
                        spec.pct,
                        spec.random,
                        spec.coverage,
                    )
                )
            if not batch:
                break
            results = dict(executor.run(batch, run_program))
            for task in batch:
                r = results[task]
                res.programs += 1
                res.executions += r.executions
                res.stalls += r.stalls
                res.switches |= r.switches
                res.functions |= r.functions
                new = r.features - res.features
                if new or (r.switches - res.switches):
                    res.corpus.append(task.program)
                    _save_corpus(spec.corpus, task.program)
                res.features |= r.features
                for found in r.found:
                    g = res.groups.get(found.label)
                    if g is None:
                        res.groups[found.label] = Group(
                            found.label, found, task.index, time.monotonic() - t0
                        )
                    else:
                        g.programs_failed += 1
            index += len(batch)
            if progress is not None:
                res.elapsed = time.monotonic() - t0
                progress(res)
            if spec.stop_at is not None and any(_matches(lab, spec.stop_at) for lab in res.groups):
                res.stopped_by = "stop-at"
                break
            if spec.programs is not None and index >= spec.programs:
                break
            if spec.time_limit is not None and time.monotonic() - t0 > spec.time_limit:
                res.stopped_by = "time-limit"
                break
    finally:
        executor.close()
    res.elapsed = time.monotonic() - t0
    taken: set[str] = set()
    for g in res.groups.values():
        name = base = f"fuzz-{spec.protocol}-{group_slug(g)}"
        n = 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        g.name = name
    return res


def _matches(label: str, wanted: str) -> bool:
    return label == wanted or label.startswith(wanted + "|")


def first_group(res: FuzzResult, wanted: str) -> Group | None:
    """The earliest group whose label is `wanted` or extends it (`FuzzSpec.stop_at`)."""
    hits = [g for lab, g in res.groups.items() if _matches(lab, wanted)]
    return min(hits, key=lambda g: g.program_index) if hits else None


def _save_corpus(directory: str | None, prog: Program) -> None:
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{prog.digest()}.toml")
    if not os.path.exists(path):
        write_atomically(path, dump(prog.with_name(f"corpus-{prog.digest()}"), _HEADER))


_HEADER = ("A uvmsim program (uvmsim fuzz): uvmsim check -p PROTOCOL --scenario THIS_FILE",)


# ---- minimization -------------------------------------------------------------------------


def reproduces(
    proto: Protocol, prog: Program, label: str, budget: int, seed: int = 0
) -> tuple[Failure, tuple[int, ...]] | None:
    """A failure of `prog` with `label` within `budget` PCT and random executions, or None.
    Illegal programs never reproduce anything."""
    if first_illegal(prog) is not None or not any(prog.cpus):
        return None
    scenario = to_scenario(prog)
    target = ScenarioTarget(scenario, proto, max_steps=MAX_STEPS)
    hit: list[tuple[Failure, tuple[int, ...]]] = []
    try:
        for strategy in (
            Pct(seed=seed, start=0, stop=budget // 2, depth=2),
            RandomWalk(seed=seed, start=0, stop=budget - budget // 2),
        ):
            explore(
                target,
                strategy,
                accept=lambda f: not is_stall(f) and failure_label(f) == label,
                on_failure=lambda f, s: hit.append((f, s)),
            )
            if hit:
                break
    except SetupError:
        hit = []
    finally:
        forget(scenario)
    return hit[0] if hit else None


SECOND_PASS = 4  # the second ddmin pass gives each candidate this many times the budget


def shrink_program(
    proto: Protocol, prog: Program, label: str, budget: int = 40, seed: int = 0
) -> Program:
    """Delta debugging (ddmin) over the operations of `prog`, then over its world's knobs:
    the smallest legal program found that still fails with `label`.

    Two passes: the first with `budget` executions per candidate, the second, on what the
    first left, with SECOND_PASS times as many.  A failure that needs a narrow interleaving
    shows up in a small candidate less often than in the big program (fewer threads to
    preempt into it), so a small budget stops ddmin early (F1 on seed, campaign seed 2: 11
    operations after budget 40, 5 after 160); a second pass on an already small program
    affords the bigger budget."""
    small = _ddmin(proto, prog, label, budget, seed)
    small = _ddmin(proto, small, label, budget * SECOND_PASS, seed)
    return _shrink_world(proto, small, label, budget, seed)


def _ddmin(proto: Protocol, prog: Program, label: str, budget: int, seed: int) -> Program:
    ops = [(None, op) for op in prog.setup] + [
        (c, op) for c, cpu in enumerate(prog.cpus) for op in cpu
    ]

    def build(keep: list[tuple[int | None, Any]]) -> Program:
        setup = tuple(op for lane, op in keep if lane is None)
        cpus = tuple(tuple(op for lane, op in keep if lane == c) for c in range(len(prog.cpus)))
        cpus = tuple(c for c in cpus if c) or ((),)
        return dataclasses.replace(prog, setup=setup, cpus=cpus)

    def fails(keep: list) -> bool:
        return reproduces(proto, build(keep), label, budget, seed) is not None

    current = ops
    n = 2
    while len(current) >= 2:
        chunk = max(1, len(current) // n)
        subsets = [current[i : i + chunk] for i in range(0, len(current), chunk)]
        reduced = False
        for i in range(len(subsets)):
            complement = [x for j, s in enumerate(subsets) if j != i for x in s]
            if complement and fails(complement):
                current = complement
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if n >= len(current):
                break
            n = min(len(current), n * 2)
    return build(current)


def _shrink_world(proto: Protocol, prog: Program, label: str, budget: int, seed: int) -> Program:
    """Knobs back to their defaults, segments and files dropped, where the failure stays."""
    w = prog.world
    candidates = [
        dataclasses.replace(w, swap=tuple(kv for kv in w.swap if kv[0] != k)) for k, _v in w.swap
    ]
    for cand_world in candidates:
        cand = dataclasses.replace(prog, world=cand_world)
        if reproduces(proto, cand, label, budget, seed) is not None:
            prog = cand
    return prog


def minimize_group(spec: FuzzSpec, group: Group, budget: int = 40) -> None:
    """Shrink the program of `group` and its schedule; fill in its token and sizes."""
    proto = get_protocol(spec.protocol)
    prog = shrink_program(proto, group.first.program, group.label, budget, spec.seed)
    found = reproduces(proto, prog, group.label, budget, spec.seed)
    if found is None:  # the shrunk program lost it (it never should): keep the original
        prog = group.first.program
        failure, schedule = group.first.failure, group.first.schedule
    else:
        failure, schedule = found
    summary = f"found by uvmsim fuzz on {spec.protocol}: {group.first.failure.message}"
    prog = prog.with_name(group.name, summary.splitlines()[0][:300])
    group.minimized = prog
    check = CheckSpec(protocol=spec.protocol, scenario=to_ref(prog), max_steps=MAX_STEPS)
    res = CheckResult("fuzz", {}, Coverage(), failure, schedule)
    cx = counterexample(check, res)
    group.token = cx.token
    group.explanation = cx.explanation
    group.preemptions = cx.minimized.preemptions if cx.minimized else None


def group_slug(group: Group) -> str:
    """A file name for a group: the finding's id, else the failure's kind and field or lock
    (e.g. `data-race-uvmexp.wired`, `recursion-pageqlock`)."""
    if "|" not in group.label:
        return group.label
    f = group.first.failure
    what = ""
    if f.kind == "data-race":
        what = _NUMBERED.sub(r"\1N", f.message.split(":", 1)[0].split()[-1])
    else:
        m = re.search(r"mtx (\S+)|\"([^\"]+)\"", f.message)
        what = (m.group(1) or m.group(2)) if m else ""
    return re.sub(r"[^A-Za-z0-9.]+", "-", f"{f.kind}-{what}").strip("-")[:60]


def write_group(directory: str, spec: FuzzSpec, group: Group) -> str:
    """The minimized program of `group` as a scenario file in `directory`; its path."""
    assert group.minimized is not None
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{group.minimized.name}.toml")
    failure = group.explanation.failure if group.explanation else group.first.failure
    header = (
        f"Found by uvmsim fuzz --protocol {spec.protocol} --seed {spec.seed} "
        f"(program {group.program_index}); minimized.",
        f"Failure: {failure.message.splitlines()[0] if failure else group.label}",
        f"Check it:  uvmsim check -p {spec.protocol} --scenario {os.path.basename(path)}",
        "Replay the counterexample:",
        f"  uvmsim replay {group.token}",
    )
    write_atomically(path, dump(group.minimized, header))
    group.file = path
    return path


# ---- hand-written scenarios in a program's units -----------------------------------------

# Calls a hand-written scenario makes that a program does not count as operations: the
# objects a program declares in its [world] table, and the locks an operation takes itself.
_NOT_OPERATIONS = frozenset(
    {
        "new_pmap",
        "new_amap",
        "uao_create",
        "uvn_attach",
        "fault_entry",
        "fault_range",
        "swap_slot",
        "uvm_lock_pageq",
        "uvm_unlock_pageq",
        "uvm_lock_pageq_for_queue_op",
        "uvm_unlock_pageq_for_queue_op",
    }
)
_SETUP_HELPERS = os.sep + os.path.join("uvmsim", "scenarios", "setup.py")
# The invariants the machine runs at quiescent points are checks, not operations.  A release
# that leaves nothing held runs them from inside the machine; with the machine compiled
# (no Python frames) the profile hook would see them called by the scenario's own code.
_CHECKS = os.sep + os.path.join("uvmsim", "uvm", "invariants.py")


def scenario_size(name: str, protocol: str = "seed-fixed") -> tuple[int, int]:
    """A hand-written scenario's size in a program's units (`Program.size`): (operations,
    CPUs).  An operation is a call the scenario's own code (set-up, per-CPU functions and
    their helpers) makes into the model or the set-up helpers, e.g. S.fault_anon, amap_unref,
    uvm_pageout, uvm_fault_upper then uvm_fault_unwire (two, as `wire` and `unwire` are);
    creating objects and taking locks are not.  Counted on one round-robin execution of a
    protocol on which the scenario holds, so no failure cuts it short."""
    from uvmsim.machine import RoundRobinEngine
    from uvmsim.runs.names import get_scenario
    from uvmsim.scenarios.base import build, run_scenario

    scenario = get_scenario(name)
    proto = get_protocol(protocol)
    own = {
        inspect.getsourcefile(scenario.setup),
        inspect.getsourcefile(scenario.program),
    }
    count = 0

    def hook(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event != "call" or frame.f_back is None or frame.f_back.f_code.co_filename not in own:
            return
        code = frame.f_code
        callee = code.co_filename
        if (
            (MODEL_DIR in callee or callee.endswith(_SETUP_HELPERS))
            and not callee.endswith(_CHECKS)
            and code.co_name not in _NOT_OPERATIONS
            and not code.co_name.startswith("_")
        ):
            count += 1

    forget(scenario)
    sys.setprofile(hook)
    try:
        build(scenario, proto)
        setup_ops, count = count, 0
        ex = run_scenario(scenario, proto, RoundRobinEngine())
    finally:
        sys.setprofile(None)
        forget(scenario)
    if ex.failure is not None:
        raise InputError(f"scenario {name} fails on {protocol}: count it on one where it holds")
    return setup_ops + count, scenario.cpus


# ---- the coverage report ------------------------------------------------------------------


@dataclass(frozen=True)
class HunkReach:
    number: int
    function: str
    switches: tuple[str, ...]
    reached: bool
    how: str


def hunk_reach(reads: Iterable[tuple[str, str]], protocol: Protocol) -> list[HunkReach]:
    """For each of the diff's hunks: was its switched code reached (its switch read by the
    hunk's function) by some generated program, and which side this protocol took."""
    reads = set(reads)
    out = []
    for h in HUNKS:
        sws = tuple(s.name for s in SWITCHES if h.number in s.hunks)
        fn = h.function.split(" ")[0]
        if h.number == 26:
            # struct uvmexp: the `wired` annotation, read where uvmexp.wired changes
            hit = [(s, f) for s, f in reads if s == "wired_atomic" and f != "uvmexp_init"]
        else:
            hit = [(s, f) for s, f in reads if s in sws and f == fn]
        if hit:
            side = ", ".join(f"{s}={getattr(protocol, s)}" for s in sorted({s for s, _ in hit}))
            how = f"reached ({side})"
        else:
            how = f"not reached: no generated program made {fn} read {', '.join(sws)}"
        out.append(HunkReach(h.number, h.function, sws, bool(hit), how))
    return out


# Why a model function is out of reach of generated programs, where the reason is known.
UNREACHABLE_WHY = {
    "uvm_pagedaemon": "the pagedaemon's endless loop: timed workloads only (programs run rounds)",
    "uvm_bind_machine": "runs outside the machine, at boot",
    "uvm_world_init": "runs at boot, before any program",
    "uvmfault_init": "runs once when the model is loaded (uvm_fault.c's boot-time table)",
    "flag_names": "prints flags for reports; not kernel code",
}


def model_functions() -> list[str]:
    """Every function and method of the model (uvmsim/uvm), as module.name."""
    import uvmsim.uvm as pkg

    names = set()
    for fname in sorted(os.listdir(os.path.dirname(pkg.__file__))):
        if not fname.endswith(".py") or fname == "__init__.py":
            continue
        mod = __import__(f"uvmsim.uvm.{fname[:-3]}", fromlist=["_"])
        for _n, obj in vars(mod).items():
            if inspect.isfunction(obj) and obj.__module__ == mod.__name__:
                names.add(f"{fname[:-3]}.{obj.__code__.co_name}")
            elif inspect.isclass(obj) and obj.__module__ == mod.__name__:
                for _m, meth in vars(obj).items():
                    if inspect.isfunction(meth):
                        names.add(f"{fname[:-3]}.{meth.__code__.co_name}")
    # The kernel's functions, not the model's helpers (_name), dunders or decorators.
    return sorted(
        n for n in names if not n.split(".", 1)[1].startswith("_") and not n.endswith(".wrapper")
    )
