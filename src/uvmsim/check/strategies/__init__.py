"""The exploration strategies, one file each, and their registry.

A new strategy is a `Strategy` subclass (check/strategy.py) in a new file here, plus one line
in `STRATEGIES`; `runs/` turns the name a user gives into it.
"""

from uvmsim.check.strategies.bounded import Bounded
from uvmsim.check.strategies.dfs import Dfs
from uvmsim.check.strategies.dpor import Dpor
from uvmsim.check.strategies.odpor import Odpor
from uvmsim.check.strategies.pct import Pct
from uvmsim.check.strategies.random_walk import RandomWalk
from uvmsim.check.strategy import Strategy

STRATEGIES: dict[str, type[Strategy]] = {
    "dpor": Dpor,
    "odpor": Odpor,
    "bounded": Bounded,
    "dfs": Dfs,
    "random": RandomWalk,
    "pct": Pct,
}

__all__ = ["STRATEGIES", "Bounded", "Dfs", "Dpor", "Odpor", "Pct", "RandomWalk", "Strategy"]
