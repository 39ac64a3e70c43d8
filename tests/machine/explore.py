"""A tiny exhaustive schedule enumerator used by the machine tests.

It replays a prefix of choices and extends it with the first enabled CPU, recording at each
step which CPUs were enabled; then it backtracks to the deepest step with an untried CPU.  This
is plain DFS over all interleavings, so tests can state "under some schedule" and "under no
schedule" about programs a few steps long without depending on the checker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from uvmsim.machine import Analyses, Engine, Execution, Machine


class _Extend(Engine):
    def __init__(self, prefix: list[int]):
        self.prefix = prefix
        self.enabled_at: list[list[int]] = []

    def choose(self, machine, current):
        enabled = [c.index for c in machine.enabled()]
        step = machine.steps
        self.enabled_at.append(enabled)
        if not enabled:
            return None
        if step < len(self.prefix):
            return machine.cpus[self.prefix[step]]
        return machine.cpus[enabled[0]]


def all_executions(
    build: Callable[[], tuple[object, list]], analyses: Analyses | None = None
) -> Iterator[tuple[object, Execution]]:
    """Yield (world, execution) for every interleaving of the program `build()` returns.

    `build()` returns (world, program) or (world, program, bindings), where bindings maps
    annotation letters to the locks they mean in that world.
    """
    stack: list[list[int]] = [[]]
    while stack:
        prefix = stack.pop()
        world, program, *rest = build()
        engine = _Extend(prefix)
        machine = Machine(engine, analyses=analyses or Analyses())
        for letter, lock in (rest[0] if rest else {}).items():
            machine.bind_annotation(letter, lock)
        result = machine.run(program)
        yield world, result
        sched = list(result.schedule)
        # Branch on every step at or after the prefix where another CPU was enabled.
        for step in range(len(sched) - 1, len(prefix) - 1, -1):
            for alt in engine.enabled_at[step]:
                if alt > sched[step]:
                    stack.append([*sched[:step], alt])
