"""Plain depth-first search: every schedule, no preemption bound (small programs only)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from uvmsim.check.strategies.bounded import Bounded
from uvmsim.check.strategy import Options


class Dfs(Bounded):
    """Every interleaving, in depth-first order; with `state_digest`, visited states are cut
    (sound for this unbounded search: a state's subtree was explored before backtracking)."""

    name = "dfs"
    summary = "every schedule"

    def __init__(
        self,
        *,
        depth: int | None = None,
        state_digest: Callable[[Any], Hashable] | None = None,
    ):
        super().__init__(depth=depth, state_digest=state_digest)
        self.bound_ = None

    @classmethod
    def from_options(cls, o: Options) -> Dfs:
        return cls(depth=o.depth)
