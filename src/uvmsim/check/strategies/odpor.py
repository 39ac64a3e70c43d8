"""Optimal DPOR with wakeup trees (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014; JACM 2017).

Source-DPOR (strategies/dpor.py) adds one *initial* of each reversed race to a backtrack set
and relies on sleep sets to cut what repeats an explored trace; the cut executions
(sleep-set blocked, "redundant") are wasted work, on some programs (`lastzero`) most of it.
Optimal DPOR instead remembers, for each race, the whole *wakeup sequence* that reverses it,
and explores a state's alternatives by following those sequences, kept in a *wakeup tree*
so that sequences equivalent up to their beginning share a branch.  Then every execution
explored is a different Mazurkiewicz trace and none ends blocked by its sleep set.

The algorithm (JACM 2017, Algorithm 2), stated on the explored execution E:

- after each maximal execution E, for every race e ≲_E e' (`races.HappensBefore`: dependent
  operations of different CPUs, e happening before e' directly, e' able to run first): let E'
  be the prefix of E before e and v = notdep(e, E).e' (the events after e that do not happen
  after e, in E's order, then e').  Unless some CPU q in sleep(E') is a *weak initial* of v
  after E', v is inserted into wut(E'), the wakeup tree at E';
- at a state E whose wakeup tree is not empty, its branches are explored in order: the first
  event p of the leftmost branch runs with the sleep set {q in sleep(E) | p and q
  independent} and the subtree under p as the wakeup tree of E.p; then p joins sleep(E).  A
  state with an empty wakeup tree runs any CPU that is enabled and not asleep.

Weak initials.  For a sequence w after E, CPU q is in WI_[E](w) when either q occurs in w and
its first event there depends on no earlier event of w (an initial), or q does not occur in w
and its next operation depends on no event of w (it commutes to the front).  Both only ask
whether two *operations* are dependent and program order, so they are computed on keys: a
wakeup sequence is a list of (cpu, key) pairs recorded in the execution that found the race.
A sequence u (a branch of the tree) is *compatible* with w, u ~_[E] w, when each event p of
u in turn is a weak initial of what remains of w, p's own event removed from w when it occurs
there.  Inserting w into a tree (JACM 2017, section 6.2): find the first node u in post-order
with u ~ w (greedily: from the root, descend into the first compatible child); if u is a
leaf, an execution reversing the race is already scheduled and the tree is unchanged, else
u.w' (w' what remains of w) becomes u's last branch.

Event identity.  An event is a CPU's next operation, identified by the CPU and the
operation's key: for a deterministic program the pending operation of a CPU is a function of
the events it depends on.  When a branch is *run* and its next CPU is disabled or posts
another operation than recorded (the model is not deterministic, or its enabledness depends
on something the keys do not show), the branch is abandoned: the divergence is counted,
noted in the result, and the run is not reported complete.

Races and locks are `races.py`'s, shared with source-DPOR: every sequence v it yields is
executable after E' (its notdep part is a happens-before-closed part of E, and e' finds the
lock or channel as it was before e).  With that the papers' proofs apply: a sleeping CPU is
woken by the end of every wakeup-tree branch, beyond a branch's end the sleep set is empty,
so no execution ends with every enabled CPU asleep and `coverage.redundant` stays 0.

Limits.  An rwlock's readers also wait while a writer waits (RWLOCK_WRWANT): a branch may
replay into a blocked reader; it is abandoned as a divergence (above) and the run says it is
not complete (the UVM model takes no read holds).  Failures: an execution stopped by a
failure is treated as maximal, but its races with operations the other CPUs would have run
after the failure are not seen; going on past failures, traces that differ from a failing
execution only beyond its failure point may be missed (source-DPOR misses others), so the
trace counts of the two differ on scenarios that fail.  Until the first failure every
execution is maximal, so a program with a reachable failure has one reported.

Cost.  The race analysis after each execution is linear in the execution per race, and every
race of the execution is reconsidered (a wakeup sequence runs to the execution's end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

from uvmsim.check.ops import Key
from uvmsim.check.result import CheckResult
from uvmsim.check.strategies.dpor import DporSearch, Node, _preempts
from uvmsim.check.strategies.races import HappensBefore
from uvmsim.check.strategies.split import Branch, Path, SharedNode
from uvmsim.check.strategy import Options
from uvmsim.machine import Execution

Event = tuple[int, Key]
"""An event of a wakeup sequence: the CPU and the key of the operation it performs."""


@dataclass
class WakeupNode:
    """A node of a wakeup tree: one event, then the ordered branches that continue it."""

    cpu: int
    key: Key
    children: list[WakeupNode] = field(default_factory=list)

    def __reduce__(self) -> tuple:
        # Pickled flat (preorder, with child counts), not nested: a tree as deep as a long
        # execution would exceed the pickler's recursion limit on its way to a worker.
        flat = []
        todo = [self]
        while todo:
            n = todo.pop()
            flat.append((n.cpu, n.key, len(n.children)))
            todo.extend(reversed(n.children))
        return (_unflatten, (flat,))


def _unflatten(flat: list[tuple[int, Key, int]]) -> WakeupNode:
    """The tree `WakeupNode.__reduce__` flattened."""
    cpu, key, count = flat[0]
    root = WakeupNode(cpu, key)
    open_nodes = [[root, count]] if count else []
    for cpu, key, count in flat[1:]:
        node = WakeupNode(cpu, key)
        parent = open_nodes[-1]
        parent[0].children.append(node)
        parent[1] -= 1
        if parent[1] == 0:
            open_nodes.pop()
        if count:
            open_nodes.append([node, count])
    return root


def copy_trees(trees: Sequence[WakeupNode]) -> list[WakeupNode]:
    """A deep copy of wakeup trees, made without recursion: a wakeup sequence is as long as
    an execution (hundreds of steps in the UVM scenarios), deeper than `copy.deepcopy` can
    follow within Python's recursion limit."""
    out = [WakeupNode(t.cpu, t.key) for t in trees]
    todo = list(zip(trees, out, strict=True))
    while todo:
        old, new = todo.pop()
        for child in old.children:
            twin = WakeupNode(child.cpu, child.key)
            new.children.append(twin)
            todo.append((child, twin))
    return out


class Odpor(DporSearch):
    """Explore every Mazurkiewicz trace of the target exactly once (within the bounds).

    `divergences` counts wakeup-tree branches abandoned because the model did not replay
    them as recorded (see the module docstring); it is 0 for deterministic models.
    """

    name = "odpor"
    summary = "optimal DPOR: one execution per Mazurkiewicz trace, none blocked (wakeup trees)"
    verify_replay = True
    guided = True

    def __init__(
        self,
        *,
        preemptions: int | None = None,
        depth: int | None = None,
        branches: Sequence[Branch] | None = None,
    ):
        super().__init__(preemptions=preemptions, depth=depth, branches=branches)
        self._guide: list[WakeupNode] = []  # what continues the wakeup sequence followed
        self._pending: WakeupNode | None = None  # the branch set up by `_next_branch`
        self._divergences = 0
        self.races: list[tuple[int, int]] = []  # of the current execution, by second event
        self.events: list[Event] = []  # (cpu, key) of each step of the current execution

    @classmethod
    def from_options(cls, o: Options) -> Odpor:
        return cls(preemptions=o.preemptions, depth=o.depth)

    @property
    def exhaustive(self) -> bool:  # type: ignore[override]
        """Complete when done only if no branch was abandoned (the loop reads it then)."""
        return self._divergences == 0 and not self.yielded

    def divergences(self) -> int:
        return self._divergences

    def notes(self, result: CheckResult) -> list[str]:
        if not self._divergences:
            return []
        return [
            f"odpor: {self._divergences} wakeup-tree branches abandoned because the model "
            "did not replay them as recorded (nondeterminism, or enabledness the operation "
            "keys do not show, such as readers waiting for a waiting writer); the "
            "exploration may have missed traces"
        ]

    def _start(self, branch: Branch) -> None:
        super()._start(branch)
        # A private copy: the tree is extended in place, and in this process the branch may
        # still be the coordinator's.
        self._guide = copy_trees(branch.guide)
        self.races = []
        self.events = []

    # -- following wakeup sequences -----------------------------------------------------------
    def follow(self, node: Node) -> int | None:
        """The next CPU of the wakeup sequence being followed, if any; its siblings stay as
        the node's wakeup tree.  Branches whose event cannot run here are abandoned."""
        guide, self._guide = self._guide, []
        for k, child in enumerate(guide):
            if self.runs_here(node, child):
                node.wut = guide[k + 1 :]
                self._guide = child.children
                return child.cpu
        return None

    def runs_here(self, node: Node, child: WakeupNode) -> bool:
        """Whether a wakeup-tree branch's first event is what its CPU does at `node`;
        counts a divergence when not (the CPU is disabled, asleep, or posts another
        operation)."""
        c = child.cpu
        if c in node.enabled and c not in node.sleep and node.ops.get(c) == child.key:
            return True
        self._divergences += 1
        return False

    # -- weak initials and wakeup trees ------------------------------------------------------
    def weak_initial(self, cpu: int, key: Key, w: Sequence[Event]) -> bool:
        """Whether `cpu`, whose next operation is `key`, is in WI(w).

        Its first event in w must be that operation with no earlier event of w it depends on
        (an event with a predecessor in w depends directly on some earlier event: the first
        event of a CPU has no program-order predecessor there); without an event in w, its
        operation must depend on no event of w.
        """
        return self._scan_initial(cpu, key, w) is not False

    def _scan_initial(self, cpu: int, key: Key, w: Sequence[Event]) -> bool | None:
        """`weak_initial` on a prefix of a sequence: True or False once w decides it, None
        when `cpu` does not occur in w and commutes with all of it (what follows decides)."""
        memo = self._dep
        for c, k in w:
            if c == cpu:
                return k == key
            d = memo.get((key, k))
            if d is None:
                d = self.dependent(key, k)
            if d:
                return False
        return None

    def after(self, cpu: int, key: Key, w: list[Event]) -> list[Event] | None:
        """w after the weak initial `cpu` has run, or None if `cpu` is no weak initial of w."""
        memo = self._dep  # looked up inline: this loop is most of the tree insertion's time
        for n, (c, k) in enumerate(w):
            if c == cpu:
                return w[:n] + w[n + 1 :] if k == key else None
            d = memo.get((key, k))
            if d is None:
                d = self.dependent(key, k)
            if d:
                return None
        return w

    def insert(self, wut: list[WakeupNode], w: list[Event]) -> bool:
        """insert_[E](w, wut): add w unless a branch compatible with it is already scheduled.

        `wut` is the tree of a state on the current execution, without the branch being
        explored; that branch begins with the racing event e, which is never compatible with
        notdep(e, E).e' (e' depends on e, and e's CPU has no event in it), so the root counts
        as an inner node even when `wut` is empty.  Returns whether a branch was added.
        """
        children = wut
        at_root = True
        while True:
            if not children and not at_root:
                return False  # a leaf: a branch compatible with w is already scheduled
            for child in children:
                rest = self.after(child.cpu, child.key, w)
                if rest is not None:
                    w = rest
                    children = child.children
                    at_root = False
                    break
            else:
                branch = None
                for c, k in reversed(w):
                    branch = WakeupNode(c, k, [] if branch is None else [branch])
                if branch is None:
                    return False
                children.append(branch)
                return True

    # -- race analysis ------------------------------------------------------------------------
    def learn(self, execution: Execution) -> None:
        """Insert the reversal of every race of the execution that just ended.

        The wakeup sequence of a race depends on the whole execution (notdep(e, E) runs to
        E's end), so every race is reconsidered after every execution, as in the paper; those
        already covered are recognised by the sleep set or the tree.  Only the events the
        execution added are analysed anew (`analyse`).
        """
        steps = len(execution.schedule)
        hb = self._hb
        assert hb is not None
        keep = min(max(0, self._replay_len - 1), len(hb))
        races = self.races
        while races and races[-1][1] >= keep:
            races.pop()
        races.extend(self.analyse(keep, steps))
        nodes = self.nodes
        events = self.events
        del events[keep:]
        for e in range(keep, steps):
            nd = nodes[e]
            events.append((nd.chosen, nd.ops[nd.chosen]))
        for i, same_first in groupby(sorted(races), key=itemgetter(0)):
            self._reverse(i, [j for _, j in same_first], events, hb)

    def _reverse(self, i: int, seconds: list[int], events: list[Event], hb: HappensBefore) -> None:
        """Races (i, j) for j in `seconds`: schedule v = notdep(i, E).j at the state before i,
        unless a sleeping CPU is a weak initial of v or the tree already has a branch for it.

        notdep(i, E) does not depend on j (which happens after i), so it is computed once, and
        so is each sleeping CPU's verdict on it; only the ones it leaves open look at j.
        Above the root of a subtree the state is shared: the sequences go to the coordinator.
        """
        notdep = [events[e] for e in hb.notdep(i, len(events))]
        if i < self.root:
            for j in seconds:
                self.request(i, (*notdep, events[j]))
            return
        node = self.nodes[i]
        undecided = []  # sleepers that are weak initials of v unless its last event says no
        foreign = []  # sleepers from above the root that are initials of v if it says yes
        for q in sorted(node.sleep):
            verdict = self._scan_initial(q, node.sleep[q], notdep)
            if verdict:
                return  # explored from here already: every continuation of v starts with q
            if verdict is None:
                (foreign if q in node.foreign else undecided).append(q)
        sleep = node.sleep
        for j in seconds:
            last = [events[j]]
            if any(self._scan_initial(q, sleep[q], last) is not False for q in undecided):
                continue
            if any(self._scan_initial(q, sleep[q], last) for q in foreign):
                continue
            self.insert(node.wut, [*notdep, *last])

    def _next_branch(self) -> int | None:
        """Start the next branch of the deepest state with one left; the replay length, or
        None when every wakeup tree of the subtree is exhausted."""
        nodes = self.nodes
        for k in range(len(nodes) - 1, self.root - 1, -1):
            nd = nodes[k]
            if not nd.wut:
                continue
            if self.depth is not None and k >= self.depth:
                self.coverage.pruned += len(nd.wut)
                nd.wut = []
                continue
            if nd.chosen >= 0:  # the branch just explored: later branches need not repeat it
                nd.sleep[nd.chosen] = nd.ops[nd.chosen]
                nd.chosen = -1
            while nd.wut:
                child = nd.wut.pop(0)
                if not self.runs_here(nd, child):
                    continue
                if (
                    self.preemptions is not None
                    and nd.preemptions + _preempts(nodes, k, child.cpu) > self.preemptions
                ):
                    self.coverage.pruned += 1
                    continue
                nd.chosen = child.cpu
                del nodes[k + 1 :]
                self._pending = child
                self._guide = child.children
                return k + 1
        return None

    # -- subtrees of a distributed run --------------------------------------------------------
    def unclaim(self, node: Node) -> None:
        assert self._pending is not None
        node.wut.insert(0, self._pending)
        node.chosen = -1

    def shared(self, path: Path, node: Node) -> SharedNode:
        return SharedNode(
            path,
            node.enabled,
            node.ops,
            dict(node.sleep),
            claimed=[node.chosen] if node.chosen >= 0 else [],
            wut=node.wut,
            preemptions=node.preemptions,
            foreign=node.foreign,
        )

    def shared_request(self, node: SharedNode, payload: Any) -> None:
        """Insert the wakeup sequence `payload` at `node`, unless a CPU asleep there or an
        alternative claimed there is a weak initial of it (the alternative's exploration
        covers it: the one the race was found under never is, its event races with v's
        last)."""
        w = list(payload)
        for q, key in node.sleep.items():
            verdict = self._scan_initial(q, key, w)
            if verdict or (verdict is None and q not in node.foreign):
                return
        for c in node.claimed:
            if self._scan_initial(c, node.ops[c], w):
                return
        self.insert(node.wut, w)

    def shared_next(self, node: SharedNode, counts: dict[str, int]) -> Branch | None:
        """Claim the next branch of `node`'s wakeup tree; None when none is left."""
        if self.depth is not None and len(node.path) >= self.depth:
            counts["pruned"] += len(node.wut)
            node.wut.clear()
            return None
        while node.wut:
            child = node.wut.pop(0)
            c = child.cpu
            if (
                c not in node.enabled
                or c in node.sleep
                or c in node.claimed
                or node.ops.get(c) != child.key
            ):
                counts["divergences"] += 1
                continue
            node.claimed.append(c)
            if (
                self.preemptions is not None
                and node.preemptions + int(c != node.prev and node.prev in node.enabled)
                > self.preemptions
            ):
                counts["pruned"] += 1
                continue
            return Branch((*node.path, c), node.sleep_for(c, self.dependent), tuple(child.children))
        return None
