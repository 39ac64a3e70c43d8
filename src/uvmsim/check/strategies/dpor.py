"""Source-DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014).

Exploration is stateless: each execution replays a prefix of choices and then continues with
the CPU that ran last if it can, else the lowest-numbered CPU that is enabled and not asleep.
After an execution, every *race* (two dependent operations of different CPUs, the first
happening before the second directly, the second able to run first: `races.HappensBefore`)
adds to the backtrack set of the state before the first operation one *initial* of the
sequence that reverses it; sleep sets keep explored alternatives from being explored again,
so every complete execution is a different Mazurkiewicz trace, and executions that could only
repeat one end early ("redundant", sleep-set blocked, counted).

How locks race (a blocking acquisition with the acquisition it could have overtaken, a
try-lock with the operation before it, a release with the failed try-lock before it) is
`races.py`'s, shared with optimal DPOR (strategies/odpor.py), which explores the same traces
without blocked executions.

`DporSearch` is what both share: the search tree of `Node`s, the engine that replays a prefix
and extends it, sleep sets, preemption and depth bounds, and the subtree mode in which a
worker of a distributed run explores given `branches` (strategies/split.py) and hands back
what it did not finish.

An optional preemption bound cuts executions that would preempt a runnable CPU more than K
times (bounded DPOR: incomplete even within the bound, but a cheap first pass).
"""

from __future__ import annotations

from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from uvmsim.check.ops import Key, dependent, op_key
from uvmsim.check.result import Coverage
from uvmsim.check.strategies.prefix import PrefixSearch
from uvmsim.check.strategies.races import NO_LOCK, HappensBefore, LockState, lock_before
from uvmsim.check.strategies.split import Branch, Handback, Path, SharedNode
from uvmsim.check.strategy import Options
from uvmsim.check.target import Target
from uvmsim.machine import Engine, Execution
from uvmsim.machine.core import Chooser
from uvmsim.machine.engines import StopExecution


class Node:
    """The state before one step of the current execution.

    `backtrack` and `done` are source-DPOR's; `wut` (the wakeup tree without the branch being
    explored) is optimal DPOR's.  Nodes above a subtree's root (its prefix) only record what
    race analysis needs: `enabled`, `ops`, `chosen`, `lock`.

    A slotted class with its own `__init__` rather than a dataclass: one is made per step an
    execution adds, and a compiled build makes it a C type (dpor.pxd).
    """

    __slots__ = (
        "backtrack",
        "chosen",
        "done",
        "enabled",
        "foreign",
        "lock",
        "ops",
        "preemptions",
        "sleep",
        "wut",
    )

    def __init__(
        self,
        enabled: tuple[int, ...],
        ops: dict[int, Key],  # pending operation of every live CPU
        sleep: dict[int, Key],  # CPUs asleep here, with the operation they sleep on
        chosen: int = -1,
        backtrack: set[int] | None = None,
        done: set[int] | None = None,
        preemptions: int = 0,  # preemptions on the path up to (not including) this step
        lock: tuple[LockState, bool] = NO_LOCK,  # `races.lock_before` of the chosen operation
        wut: list | None = None,
        foreign: frozenset[int] = frozenset(),  # sleepers from above a subtree's root (split)
    ):
        self.enabled = enabled
        self.ops = ops
        self.sleep = sleep
        self.chosen = chosen
        self.backtrack = set() if backtrack is None else backtrack
        self.done = set() if done is None else done
        self.preemptions = preemptions
        self.lock = lock
        self.wut = [] if wut is None else wut
        self.foreign = foreign

    def __repr__(self) -> str:
        return (
            f"Node(enabled={self.enabled!r}, ops={self.ops!r}, sleep={self.sleep!r}, "
            f"chosen={self.chosen!r}, backtrack={self.backtrack!r}, done={self.done!r}, "
            f"preemptions={self.preemptions!r}, lock={self.lock!r}, wut={self.wut!r}, "
            f"foreign={self.foreign!r})"
        )


_NONE: frozenset[int] = frozenset()


class _Engine(Chooser):  # an Engine (registered below: compiled, a C type)
    """Replays the prefix of the stack, then extends it; records a Node per step.

    `choose` runs once per visible step of every execution, most of them replayed: the
    replayed choices are read from a list made once per execution, and only the last one
    (the new branch) and steps past the replay take the slow path.
    """

    def __init__(self, search: DporSearch, replay_len: int):
        self.x = search
        self.replay_len = replay_len
        self.last_cpu = -1
        nodes = search.nodes
        known = min(replay_len, len(nodes))
        # Steps 0 .. fast-1 replay a choice already recorded and need no bookkeeping; the
        # last replayed step (the new branch) records its lock state and, for a strategy
        # that verifies replays, checks the operation its CPU posts.
        self.replay = [nodes[k].chosen for k in range(known)]
        self.fast = known if known < replay_len else replay_len - 1

    def begin(self, machine: Any) -> None:
        return

    def end(self, machine: Any) -> None:
        return

    def choose(self, machine: Any, current: Any) -> Any:
        step = len(machine.schedule)
        if step < self.fast:
            cpu = machine.cpus[self.replay[step]]
            if cpu.runnable:
                self.last_cpu = cpu.index
                return cpu
        x = self.x
        nodes = x.nodes
        if step < self.replay_len:
            if step < len(nodes):
                node = nodes[step]
                cpu = machine.cpus[node.chosen]
                if not cpu.runnable or (x.verify_replay and op_key(cpu.op) != node.ops[cpu.index]):
                    x.diverged(step, cpu, node)
                node.lock = lock_before(cpu)  # the new branch: its lock state is new
            else:  # a branch's prefix, replayed for the first time
                node = x.new_node(machine, step)
                node.chosen = x.prefix[step]
                cpu = machine.cpus[node.chosen]
                if not cpu.runnable:
                    x.diverged(step, cpu, node)
                node.lock = lock_before(cpu)
                nodes.append(node)
            self.last_cpu = node.chosen
            return cpu
        enabled = tuple([c.index for c in machine.cpus if c.runnable])
        if not enabled:
            return None
        node = x.new_node(machine, step, enabled)
        nodes.append(node)
        choice = x.follow(node) if x.guided else None
        if choice is None:
            last = self.last_cpu
            sleep = node.sleep
            if not sleep:
                choice = last if last in enabled else enabled[0]
            else:
                awake = [c for c in enabled if c not in sleep]
                if not awake:
                    raise StopExecution
                # Keep running the CPU that ran last when it can (no preemption), else the
                # lowest.
                choice = last if last in awake else awake[0]
        if (
            x.preemptions is not None
            and node.preemptions + int(self.last_cpu in enabled and choice != self.last_cpu)
            > x.preemptions
        ):
            x.coverage.pruned += 1
            raise StopExecution
        node.chosen = choice
        node.done.add(choice)
        self.last_cpu = choice
        cpu = machine.cpus[choice]
        node.lock = lock_before(cpu)
        return cpu


class DporSearch(PrefixSearch):
    """What source- and optimal DPOR share (see the module docstring).

    `branches`: explore only these subtrees, one after the other (a worker of a distributed
    run); None: the whole tree.  After the run, `handback()` says what is left.
    """

    verify_replay = False  # check that the new branch's CPU posts the operation recorded
    guided = False  # whether `follow` may choose (optimal DPOR's wakeup sequences)
    stop_when: Callable[[], bool] | None = None
    """Asked after each execution in a split run: True hands back what is left now (another
    worker has nothing to do); the run then stops as if done, `yielded` and not exhaustive."""

    def __init__(
        self,
        *,
        preemptions: int | None = None,
        depth: int | None = None,
        branches: Sequence[Branch] | None = None,
    ):
        super().__init__(depth=depth)
        self.preemptions = preemptions
        self.nodes: list[Node] = []
        self.branches: deque[Branch] | None = None if branches is None else deque(branches)
        self.branch = Branch(())
        self.started = False  # whether an execution of `branch` ran
        self.prefix: Path = ()
        self.root = 0  # the first state of `branch` this search owns
        self.root_sleep: dict[int, Key] = {}
        self.requests: dict[tuple[Path, Any], None] = {}  # for shared states, in order
        self._requests: dict[tuple[int, Any], None] = {}  # of the current branch, by depth
        self.replay_error: str | None = None
        self.yielded = False
        self._hb: HappensBefore | None = None
        self._dep: dict[tuple[Key, Key], bool] = {}

    @classmethod
    def from_options(cls, o: Options) -> DporSearch:
        return cls(preemptions=o.preemptions, depth=o.depth)

    def begin(self, target: Target, coverage: Coverage) -> None:
        super().begin(target, coverage)
        self._hb = HappensBefore(target.cpus)
        self.requests = {}
        if self.branches is None:
            self._start(Branch(()))
        elif self.branches:
            self._start(self.branches.popleft())
        else:
            self.done = True

    def _start(self, branch: Branch) -> None:
        """Explore `branch`'s subtree next."""
        self._flush_requests()
        self.branch = branch
        self.started = False
        self.prefix = branch.prefix
        self.root = len(branch.prefix)
        self.root_sleep = dict(branch.sleep)
        self.nodes = []
        self._replay_len = self.root
        assert self._hb is not None
        self._hb.truncate(0)

    def engine(self, replay_len: int) -> Engine:
        self.started = True
        return _Engine(self, replay_len)

    def observe(self, execution: Execution) -> None:
        if self.replay_error is not None:
            raise RuntimeError(self.replay_error)
        self.learn(execution)
        nxt = self._next_branch()
        while nxt is None and self.branches:
            self._start(self.branches.popleft())
            nxt = self.root
        if nxt is None:
            self._flush_requests()
            self.done = True
        else:
            self._replay_len = nxt
            if self.stop_when is not None and self.stop_when():
                self.yielded = self.done = True

    @property
    def exhaustive(self) -> bool:  # type: ignore[override]
        """When done, complete unless it stopped to hand back its work."""
        return not self.yielded

    def bound(self) -> dict[str, Any]:
        return {"preemptions": self.preemptions, "depth": self.depth}

    # -- the tree ---------------------------------------------------------------------------
    def new_node(self, machine: Any, step: int, enabled: tuple[int, ...] | None = None) -> Node:
        """The node of `step`: pending operations, sleep set and preemptions so far.

        Called for every step an execution adds (the hottest code of the search after the
        machine's): the usual case, nothing asleep and one branch explored at the previous
        node, takes no sleep-set work.  The work is `_new_node`'s (a module function, whose
        locals a compiled build types).
        """
        return _new_node(self, machine, step, enabled)

    def follow(self, node: Node) -> int | None:
        """The CPU a guide (optimal DPOR's wakeup sequence) says to run at `node`, if any."""
        return None

    def diverged(self, step: int, cpu: Any, node: Node) -> None:
        """The model did not replay the prefix as recorded: stop, and let `observe` raise
        (raised from `choose`, inside a CPU, an exception would become a model failure)."""
        what = "cannot run" if not cpu.runnable else f"posts {op_key(cpu.op)}"
        self.replay_error = (
            f"{self.name} replay diverged at step {step}: cpu{cpu.index} {what}, recorded "
            f"{node.ops.get(cpu.index)} (is the program deterministic?)"
        )
        raise StopExecution

    def dependent(self, a: Key, b: Key) -> bool:
        """`ops.dependent`, memoized (keys repeat across executions)."""
        try:
            return self._dep[a, b]
        except KeyError:
            d = self._dep[a, b] = self._dep[b, a] = dependent(a, b)
            return d

    def next_sleep(self, node: Node) -> dict[int, Key]:
        """Sleep set after taking `node.chosen` at `node`."""
        p = node.chosen
        done = node.done
        if not node.sleep and len(done) == 1:  # the usual case: nothing asleep, one branch
            return {}
        op = node.ops[p]
        out = {}
        dep = self.dependent
        for q, key in list(node.sleep.items()) + [(d, node.ops[d]) for d in done]:
            if q != p and q not in out and not dep(key, op):
                out[q] = key
        return out

    def analyse(self, start: int, steps: int) -> list[tuple[int, int]]:
        """Add events `start .. steps-1` to the happens-before state; their races, as
        (first, second), in order of the second.

        Events before `start` are those of the replayed prefix: their clocks and last
        accesses are kept from the previous execution (forgotten past `start` first), so
        each execution only pays for the events it added.  The first execution of a branch
        adds its prefix too (its races are returned as well).
        """
        hb = self._hb
        assert hb is not None
        hb.truncate(min(start, len(hb)))
        nodes = self.nodes
        out = []
        for j in range(len(hb), steps):
            nd = nodes[j]
            for i in hb.add(j, nd.chosen, nd.ops[nd.chosen], nd.lock):
                out.append((i, j))
        return out

    # -- subtrees of a distributed run --------------------------------------------------------
    def request(self, i: int, payload: Any) -> None:
        """A race asks `payload` of state i, above the root: the coordinator applies it."""
        self._requests[i, payload] = None

    def _flush_requests(self) -> None:
        for i, payload in self._requests:
            self.requests[self.prefix[:i], payload] = None
        self._requests = {}

    def handback(self) -> Handback:
        """What is left after the run stopped (budget or failure) before `done`.

        The states of the current subtree from its root down to the one whose next
        alternative was set up but not run become shared (that alternative is unclaimed
        again), the branches not started are returned as they were, and the requests for
        states above the roots go with them.
        """
        self._flush_requests()
        back = Handback(requests=list(self.requests), divergences=self.divergences())
        rest = list(self.branches or ())
        if self.done and not self.yielded:
            return back
        if not self.started:
            back.branches = [self.branch, *rest]
            return back
        self.unclaim(self.nodes[-1])
        path = list(self.prefix)
        for k in range(self.root, len(self.nodes)):
            nd = self.nodes[k]
            back.nodes.append(self.shared(tuple(path), nd))
            path.append(nd.chosen)
        back.branches = rest
        return back

    def divergences(self) -> int:
        return 0

    # -- strategy-specific ----------------------------------------------------------------
    @abstractmethod
    def unclaim(self, node: Node) -> None:
        """Undo the set-up of `node`'s next alternative (it was not run)."""

    @abstractmethod
    def shared(self, path: Path, node: Node) -> SharedNode:
        """`node`, a state of this search's subtree, as a shared state."""

    @abstractmethod
    def shared_request(self, node: SharedNode, payload: Any) -> None:
        """Apply what a race below asks of `node` (a shared state above its subtree)."""

    @abstractmethod
    def shared_next(self, node: SharedNode, counts: dict[str, int]) -> Branch | None:
        """Claim `node`'s next alternative as a branch; None when none is left."""


class Dpor(DporSearch):
    """Explore every Mazurkiewicz trace of the target (within the optional bounds).

    `preemptions`: cut executions with more preemptions (bounded DPOR); `depth`: explore
    alternatives only in the first `depth` steps.
    """

    name = "dpor"
    summary = "one execution per Mazurkiewicz trace (source sets and sleep sets)"

    @classmethod
    def from_options(cls, o: Options) -> Dpor:
        return cls(preemptions=o.preemptions, depth=o.depth)

    def learn(self, execution: Execution) -> None:
        races = self.analyse(max(0, self._replay_len - 1), len(execution.schedule))
        hb = self._hb
        assert hb is not None
        for i, j in races:
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
        q = nodes[j].chosen
        if i < self.root:
            self.request(i, (tuple(usable), q))
            return
        _add_initial(node.backtrack, node.done, node.enabled, usable, q)

    def _next_branch(self) -> int | None:
        """Set up the deepest unexplored alternative; return the replay length, or None."""
        nodes = self.nodes
        for k in range(len(nodes) - 1, self.root - 1, -1):
            nd = nodes[k]
            if not nd.backtrack:  # most states: nothing to explore, no set arithmetic
                continue
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

    # -- subtrees of a distributed run --------------------------------------------------------
    def unclaim(self, node: Node) -> None:
        node.done.discard(node.chosen)

    def shared(self, path: Path, node: Node) -> SharedNode:
        return SharedNode(
            path,
            node.enabled,
            node.ops,
            node.sleep,
            claimed=sorted(node.done),
            todo=node.backtrack - node.done,
            preemptions=node.preemptions,
            foreign=node.foreign,
        )

    def shared_request(self, node: SharedNode, payload: Any) -> None:
        """A race below asks for one of `usable` (preferably `q`) at `node`."""
        usable, q = payload
        _add_initial(node.todo, set(node.claimed), node.enabled, list(usable), q)

    def shared_next(self, node: SharedNode, counts: dict[str, int]) -> Branch | None:
        """Claim `node`'s next alternative, as `_next_branch` would; None when none is left."""
        k = len(node.path)
        if self.depth is not None and k >= self.depth:
            counts["pruned"] += len(node.todo)
            node.todo.clear()
            return None
        for p in sorted(node.todo):
            node.todo.discard(p)
            if p in node.claimed:
                continue
            node.claimed.append(p)  # asleep: claimed too, as `_next_branch` marks it done
            if p in node.sleep:
                continue
            if (
                self.preemptions is not None
                and node.preemptions + int(p != node.prev and node.prev in node.enabled)
                > self.preemptions
            ):
                counts["pruned"] += 1
                continue
            return Branch((*node.path, p), node.sleep_for(p, self.dependent))
        return None


def _new_node(x: DporSearch, machine: Any, step: int, enabled: tuple[int, ...] | None) -> Node:
    """`DporSearch.new_node`."""
    nodes = x.nodes
    cpus = machine.cpus
    if enabled is None:
        enabled = tuple([c.index for c in cpus if c.runnable])
    if step == 0:
        ops = {c.index: op_key(c.op) for c in cpus if not c.done}
        sleep0 = dict(x.root_sleep) if x.root == 0 else {}
        return Node(enabled, ops, sleep0, -1, set(), set(), 0, NO_LOCK, [], _NONE)
    # Only the CPU that ran the last step has a new pending operation (or finished).
    prev = nodes[step - 1]
    p = prev.chosen
    ops = prev.ops.copy()
    ran = cpus[p]
    if ran.done:
        ops.pop(p, None)
    else:
        ops[p] = op_key(ran.op)
    foreign = _NONE
    root = x.root
    if step > root:
        if prev.sleep or len(prev.done) > 1:
            sleep = x.next_sleep(prev)
            if prev.foreign:
                # A list, not a generator: a compiled function cannot hold a closure.
                foreign = frozenset([q for q in prev.foreign if q in sleep])
        else:
            sleep = {}
    elif step == root:
        sleep = dict(x.root_sleep)
        foreign = frozenset(sleep)
    else:
        sleep = {}  # above the root: not this search's to use
    pre = prev.preemptions
    if step >= 2:  # did running p at step-1 preempt the CPU of step-2?
        pp = nodes[step - 2].chosen
        if p != pp and pp in prev.enabled:
            pre += 1
    return Node(enabled, ops, sleep, -1, set(), set(), pre, NO_LOCK, [], foreign)


def _add_initial(
    backtrack: set[int], done: set[int], enabled: tuple[int, ...], usable: list[int], q: int
) -> None:
    """Source-DPOR: unless an initial of the reversing sequence is already to be explored,
    add one (the racing CPU `q` if it is one); none enabled: every enabled CPU."""
    if any(t in backtrack or t in done for t in usable):
        return
    if usable:
        backtrack.add(q if q in usable else min(usable))
    else:
        backtrack.update(enabled)


def _preempts(nodes: list[Node], k: int, cpu: int) -> int:
    """1 if running `cpu` at step k switches away from the CPU of step k-1 while it could run."""
    if k == 0:
        return 0
    prev = nodes[k - 1].chosen
    return int(cpu != prev and prev in nodes[k].enabled)


Engine.register(_Engine)
