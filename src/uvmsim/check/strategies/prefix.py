"""What the stateless tree searches (DPOR, bounded DFS) share: an execution replays a prefix
of the previous one's choices, then extends it; after it, the search picks the deepest
unexplored alternative as the next prefix, or is done."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from uvmsim.check.result import Coverage
from uvmsim.check.strategy import Strategy
from uvmsim.check.target import Target
from uvmsim.machine import Engine, Execution


class PrefixSearch(Strategy):
    """A search tree of `nodes` (one per step of the current execution)."""

    def __init__(self, *, depth: int | None = None):
        super().__init__()
        self.depth = depth  # alternatives only in the first `depth` steps
        self.nodes: list[Any] = []
        self._replay_len = 0

    def begin(self, target: Target, coverage: Coverage) -> None:
        super().begin(target, coverage)
        self.nodes = []
        self._replay_len = 0

    def next_engine(self) -> Engine:
        return self.engine(self._replay_len)

    def observe(self, execution: Execution) -> None:
        self.learn(execution)
        nxt = self._next_branch()
        if nxt is None:
            self.done = True
        else:
            self._replay_len = nxt

    @abstractmethod
    def engine(self, replay_len: int) -> Engine:
        """The engine that replays the first `replay_len` choices, then extends them."""

    def learn(self, execution: Execution) -> None:
        """Before the next branch is chosen: what the search learns from an execution."""
        return

    @abstractmethod
    def _next_branch(self) -> int | None:
        """Set up the deepest unexplored alternative; its replay length, or None if none."""
