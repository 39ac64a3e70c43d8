"""Source-DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014).

Exploration is stateless: each execution replays a prefix of choices and then continues with
the lowest-numbered CPU that is enabled and not asleep.  After an execution, every *race*
(two dependent operations of different CPUs, the first not happening before the second
through anything else) adds to the backtrack set of the state before the first operation
one *initial* of the sequence that reverses it; sleep sets keep explored alternatives from
being explored again, so every complete execution is a different Mazurkiewicz trace and
executions that can only repeat one end early ("redundant", counted).

Locks are handled as in stateless model checkers for C: two acquisitions of one lock race
(reversing them swaps the critical sections); a release never races with a blocking
acquisition (that acquisition was disabled before it) but orders it; a try-lock also races
with a release, since before or after it the try fails or succeeds.

An optional preemption bound cuts executions that would preempt a runnable CPU more than K
times (bounded DPOR: incomplete even within the bound, but a cheap first pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.ops import Key, dependent, op_key, resources
from uvmsim.check.result import Coverage
from uvmsim.check.strategies.prefix import PrefixSearch
from uvmsim.check.strategy import Options
from uvmsim.check.target import Target
from uvmsim.machine import Engine, Execution
from uvmsim.machine.engines import StopExecution


@dataclass
class Node:
    """The state before one step of the current execution."""

    enabled: tuple[int, ...]
    ops: dict[int, Key]  # pending operation of every live CPU
    sleep: dict[int, Key]  # CPUs asleep here, with the operation they sleep on
    chosen: int = -1
    backtrack: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    preemptions: int = 0  # preemptions on the path up to (not including) this step


class _DporEngine(Engine):
    """Replays the prefix of the stack, then extends it; records a Node per step."""

    def __init__(self, explorer: Dpor, replay_len: int):
        self.x = explorer
        self.replay_len = replay_len
        self.last_cpu = -1

    def choose(self, machine: Any, current: Any) -> Any:
        x = self.x
        step = len(machine.schedule)
        nodes = x.nodes
        if step < self.replay_len:
            node = nodes[step]
            cpu = machine.cpus[node.chosen]
            if not cpu.runnable:  # the model is not deterministic: refuse to go on
                raise RuntimeError(
                    f"DPOR replay diverged at step {step}: cpu{node.chosen} "
                    "cannot run (is the program deterministic?)"
                )
            self.last_cpu = node.chosen
            return cpu
        enabled = tuple(c.index for c in machine.cpus if c.runnable)
        if not enabled:
            return None
        if step == 0:
            ops = {c.index: op_key(c.op) for c in machine.cpus if not c.done}
        else:
            # Only the CPU that ran the last step has a new pending operation (or finished).
            ops = dict(nodes[step - 1].ops)
            ran = machine.cpus[nodes[step - 1].chosen]
            if ran.done:
                ops.pop(ran.index, None)
            else:
                ops[ran.index] = op_key(ran.op)
        if step == 0:
            sleep: dict[int, Key] = {}
            pre = 0
        else:
            prev = nodes[step - 1]
            sleep = x.next_sleep(prev)
            pre = prev.preemptions + _preempts(nodes, step - 1, prev.chosen)
        node = Node(enabled, ops, sleep, preemptions=pre)
        awake = [c for c in enabled if c not in sleep]
        if not awake:
            nodes.append(node)
            raise StopExecution
        # Keep running the CPU that ran last when it can (no preemption), else the lowest.
        choice = self.last_cpu if self.last_cpu in awake else awake[0]
        if (
            x.preemptions is not None
            and pre + int(self.last_cpu in enabled and choice != self.last_cpu) > x.preemptions
        ):
            x.coverage.pruned += 1
            nodes.append(node)
            raise StopExecution
        node.chosen = choice
        node.done.add(choice)
        nodes.append(node)
        self.last_cpu = choice
        return machine.cpus[choice]


class Dpor(PrefixSearch):
    """Explore every Mazurkiewicz trace of the target (within the optional bounds).

    `preemptions`: cut executions with more preemptions (bounded DPOR); `depth`: explore
    alternatives only in the first `depth` steps.
    """

    name = "dpor"
    summary = "one execution per Mazurkiewicz trace (source sets and sleep sets)"

    def __init__(self, *, preemptions: int | None = None, depth: int | None = None):
        super().__init__(depth=depth)
        self.preemptions = preemptions
        self.nodes: list[Node] = []
        self._hb: _HappensBefore | None = None

    @classmethod
    def from_options(cls, o: Options) -> Dpor:
        return cls(preemptions=o.preemptions, depth=o.depth)

    def begin(self, target: Target, coverage: Coverage) -> None:
        super().begin(target, coverage)
        self._hb = _HappensBefore(target.cpus)

    def engine(self, replay_len: int) -> Engine:
        return _DporEngine(self, replay_len)

    def learn(self, execution: Execution) -> None:
        self.analyse(max(0, self._replay_len - 1), len(execution.schedule))

    def bound(self) -> dict[str, Any]:
        return {"preemptions": self.preemptions, "depth": self.depth}

    # -- sleep sets and preemptions -----------------------------------------------------------
    def next_sleep(self, node: Node) -> dict[int, Key]:
        """Sleep set after taking `node.chosen` at `node`."""
        p = node.chosen
        op = node.ops[p]
        out = {}
        for q, key in list(node.sleep.items()) + [(d, node.ops[d]) for d in node.done]:
            if q != p and q not in out and not dependent(key, op):
                out[q] = key
        return out

    # -- race analysis ------------------------------------------------------------------------
    def analyse(self, start: int, steps: int) -> None:
        """Add backtrack points for every race involving events `start .. steps-1`.

        Events before `start` are those of the replayed prefix: their clocks and last
        accesses are kept from the previous execution (rolled back past `start` first), so
        each execution only pays for the events it added.
        """
        hb = self._hb
        assert hb is not None
        hb.truncate(start)
        nodes = self.nodes
        for j in range(start, steps):
            nd = nodes[j]
            for i in hb.add(j, nd.chosen, nd.ops[nd.chosen]):
                self._backtrack(i, j, hb.vcs, hb.idx_of)

    def _backtrack(self, i: int, j: int, vcs: list[list[int]], idx_of: list[int]) -> None:
        """Race (i, j): make the state before i also explore an initial of notdep(i).j."""
        nodes = self.nodes
        p = nodes[i].chosen
        v = [e for e in range(i + 1, j) if vcs[e][p] < idx_of[i]] + [j]
        first: dict[int, int] = {}
        for e in v:
            c = nodes[e].chosen
            if c not in first:
                first[c] = e
        initials = []
        for t, u in first.items():
            if all(vcs[u][s] < idx_of[w] for s, w in first.items() if s != t and w < u):
                initials.append(t)
        node = nodes[i]
        usable = [t for t in initials if t in node.enabled]
        if any(t in node.backtrack or t in node.done for t in usable):
            return
        q = nodes[j].chosen
        if usable:
            node.backtrack.add(q if q in usable else min(usable))
        else:
            node.backtrack.update(node.enabled)

    def _next_branch(self) -> int | None:
        """Set up the deepest unexplored alternative; return the replay length, or None."""
        nodes = self.nodes
        for k in range(len(nodes) - 1, -1, -1):
            nd = nodes[k]
            if self.depth is not None and k >= self.depth:
                if nd.backtrack - nd.done:
                    self.coverage.pruned += len(nd.backtrack - nd.done)
                continue
            todo = sorted(nd.backtrack - nd.done - set(nd.sleep))
            while todo:
                p = todo.pop(0)
                nd.done.add(p)
                if (
                    self.preemptions is not None
                    and nd.preemptions + _preempts(nodes, k, p) > self.preemptions
                ):
                    self.coverage.pruned += 1
                    continue
                nd.chosen = p
                del nodes[k + 1 :]
                return k + 1
        return None


class _HappensBefore:
    """Vector clocks and last accesses of the current execution's events, with an undo log.

    `add(j, cpu, key)` appends event j and returns the earlier events it races with;
    `truncate(k)` forgets events k.. (the part of the execution that will be re-run
    differently), restoring the state the prefix left.
    """

    def __init__(self, ncpu: int):
        self.n = ncpu
        self.vcs: list[list[int]] = []
        self.idx_of: list[int] = []  # 1-based index of each event within its CPU
        self.local = [0] * ncpu
        self.prev_of: dict[int, int] = {}  # CPU -> its last event
        # resource -> CPU -> access mode -> last event
        self.last: dict[tuple, dict[int, dict[str, int]]] = {}
        self.undo: list[tuple] = []

    def truncate(self, k: int) -> None:
        while len(self.vcs) > k:
            q, prev, marks_undo = self.undo.pop()
            self.vcs.pop()
            self.idx_of.pop()
            self.local[q] -= 1
            if prev is None:
                self.prev_of.pop(q, None)
            else:
                self.prev_of[q] = prev
            for marks, mode, old in reversed(marks_undo):
                if old is None:
                    del marks[mode]
                else:
                    marks[mode] = old

    def add(self, j: int, q: int, key: Key) -> list[int]:
        vcs, last = self.vcs, self.last
        self.local[q] += 1
        mine = self.local[q]
        self.idx_of.append(mine)
        res_modes = resources(key)
        deps: dict[int, list[int]] = {}  # other CPU -> its events j depends on
        cands: dict[int, int] = {}  # other CPU -> the one event that may race with j
        for res, mode in res_modes:
            per_cpu = last.get(res)
            if per_cpu is None:
                continue
            for p, marks in per_cpu.items():
                if p == q or not marks:
                    continue
                hb, cand = _relate(res[0], mode, marks)
                if hb is not None:
                    deps.setdefault(p, []).append(hb)
                if cand is not None and cand > cands.get(p, -1):
                    cands[p] = cand
        prev = self.prev_of.get(q)
        base = vcs[prev] if prev is not None else [0] * self.n
        vc = list(base)
        for evs in deps.values():
            for e in evs:
                _join(vc, vcs[e])
        vc[q] = mine
        vcs.append(vc)
        races = []
        idx_of = self.idx_of
        for p, i in cands.items():
            if len(deps) == 1:
                w = base  # no other CPU orders j: only its own program order
            else:
                w = list(base)
                for r, evs in deps.items():
                    if r != p:
                        for e in evs:
                            _join(w, vcs[e])
            if w[p] < idx_of[i]:
                races.append(i)
        marks_undo = []
        for res, mode in res_modes:
            marks = last.setdefault(res, {}).setdefault(q, {})
            marks_undo.append((marks, mode, marks.get(mode)))
            marks[mode] = j
        self.undo.append((q, prev, marks_undo))
        self.prev_of[q] = j
        return races


def _preempts(nodes: list[Node], k: int, cpu: int) -> int:
    """1 if running `cpu` at step k switches away from the CPU of step k-1 while it could run."""
    if k == 0:
        return 0
    prev = nodes[k - 1].chosen
    return int(cpu != prev and prev in nodes[k].enabled)


def _relate(kind: str, mode: str, marks: dict[str, int]) -> tuple[int | None, int | None]:
    """For an access in `mode` to a resource of `kind`, given another CPU's last accesses
    `marks` (mode -> event), return (latest event j depends on, latest event that may race)."""
    if kind == "f":
        if mode == "r":
            w = marks.get("w")
            return w, w
        e = max(marks.values())
        return e, e
    if kind == "l":
        hb = max(marks.values())
        acq = max((marks[m] for m in ("acq", "try") if m in marks), default=None)
        if mode == "acq":
            return hb, acq
        if mode == "try":
            return hb, hb
        return hb, None  # a release orders later operations but never races
    if kind == "c":
        hb = max(marks.values())
        if mode == "resume":
            return hb, None
        cand = max((marks[m] for m in ("sleep", "wake") if m in marks), default=None)
        return hb, cand
    e = max(marks.values())
    return e, e


def _join(into: list[int], other: list[int]) -> None:
    for k, t in enumerate(other):
        if t > into[k]:
            into[k] = t
