"""Engines: the scheduler oracle every execution asks at each visible operation.

The interface is Shuttle-sized (DESIGN.md §9): `begin(machine)` when an execution starts,
`choose(machine, current)` at every visible step (return an enabled CPU, or None when no CPU can
run), `end(machine)` when it stops.  `current` is the CPU that just posted its operation (None
when the driver asks, after a CPU finished).  Engines see each CPU's pending operation
(`cpu.op`) and whether it is enabled (`cpu.enabled()`); the machine records the choice.

This module ships the three engines the machine layer is tested with: round-robin, seeded
random, and replay of an explicit list of choices.  Exploration strategies (DPOR, bounded DFS,
PCT) live in `uvmsim.check`, the timed engine in `uvmsim.simulate`.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from uvmsim.machine.core import Chooser, StopExecution
from uvmsim.machine.failure import InputError

__all__ = ["Engine", "RandomEngine", "ReplayEngine", "RoundRobinEngine", "StopExecution"]


class Engine(ABC):
    """Base engine: subclasses implement `choose`."""

    def begin(self, machine: Any) -> None:
        """An execution starts on `machine` (an optional hook: most engines need nothing)."""
        return

    @abstractmethod
    def choose(self, machine: Any, current: Any) -> Any:
        """Return the CPU that performs its pending operation next, or None if none can."""

    def end(self, machine: Any) -> None:
        """The execution stopped (finished, failed or was halted); an optional hook."""
        return


class RoundRobinEngine(Chooser):  # an Engine (registered below: compiled, a C type)
    """Each CPU in turn performs `quantum` visible operations, skipping disabled CPUs."""

    def __init__(self, quantum: int = 1):
        if quantum < 1:
            raise InputError(f"quantum: must be a positive integer, got {quantum}")
        self.quantum = quantum
        self.left = 0
        self.last = -1

    def begin(self, machine: Any) -> None:
        self.left = 0
        self.last = -1

    def end(self, machine: Any) -> None:
        return

    def choose(self, machine: Any, current: Any) -> Any:
        if current is not None and self.left > 0 and current.runnable:
            self.left -= 1
            return current
        # The CPUs after the last one chosen, then from cpu0 up to and including it: two
        # plain while loops (measured faster than one with a wrap-around test, and than
        # range loops, on the machine benchmark's 4 CPUs).
        cpus = machine.cpus
        n = len(cpus)
        last = self.last
        i = last + 1
        while i < n:
            c = cpus[i]
            if c.runnable:
                self.left = self.quantum - 1
                self.last = i
                return c
            i += 1
        i = 0
        while i <= last:
            c = cpus[i]
            if c.runnable:
                self.left = self.quantum - 1
                self.last = i
                return c
            i += 1
        return None


class RandomEngine(Chooser):  # an Engine (registered below)
    """Uniform choice among enabled CPUs from a seeded generator: same seed, same run."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.rng = random.Random(seed)

    def begin(self, machine: Any) -> None:
        self.rng = random.Random(self.seed)

    def end(self, machine: Any) -> None:
        return

    def choose(self, machine: Any, current: Any) -> Any:
        enabled = machine.enabled()
        if not enabled:
            return None
        if len(enabled) == 1:
            return enabled[0]
        return enabled[self.rng.randrange(len(enabled))]


class ReplayEngine(Chooser):  # an Engine (registered below)
    """Replay an explicit list of CPU choices, one per visible step.

    A choice naming a CPU that does not exist, has finished or is blocked is an input error
    naming the step and the CPUs that could run.  When the list runs out, `then` continues the
    execution (e.g. DPOR extending a prefix); without `then`, running out while a CPU can still
    run is an input error too.
    """

    def __init__(self, choices: Sequence[int], then: Engine | None = None):
        self.choices = list(choices)
        self.then = then

    def begin(self, machine: Any) -> None:
        if self.then is not None:
            self.then.begin(machine)

    def choose(self, machine: Any, current: Any) -> Any:
        i = len(machine.schedule)  # `machine.steps`, without the property's call
        if i < len(self.choices):
            idx = self.choices[i]
            cpus = machine.cpus
            if not isinstance(idx, int) or not 0 <= idx < len(cpus):
                raise InputError(
                    f"replay step {i} names cpu {idx!r}, which does not exist "
                    f"(the program has cpu0..cpu{len(cpus) - 1})"
                )
            cpu = cpus[idx]
            if not cpu.runnable:
                why = (
                    "has finished"
                    if cpu.done
                    else "is blocked on " + cpu.blocker.describe_wait(cpu)
                )
                runnable = _names(machine.enabled()) or "none"
                raise InputError(
                    f"replay step {i} names cpu{idx}, which cannot run ({why}); "
                    f"runnable: {runnable}"
                )
            return cpu
        if self.then is not None:
            return self.then.choose(machine, current)
        enabled = machine.enabled()
        if enabled:
            raise InputError(
                f"replay list ended after {len(self.choices)} steps but "
                f"{_names(enabled)} can still run"
            )
        return None

    def end(self, machine: Any) -> None:
        if self.then is not None:
            self.then.end(machine)


def _names(cpus: list) -> str:
    """`cpu0, cpu2`: a function of its own (a compiled `choose` cannot hold a generator)."""
    return ", ".join([c.name for c in cpus])


# The machine's engines are C types in a compiled build, which cannot derive from an ABC:
# they are Engines by registration (isinstance and issubclass hold in both builds).
Engine.register(RoundRobinEngine)
Engine.register(RandomEngine)
Engine.register(ReplayEngine)
