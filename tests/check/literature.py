"""Benchmark programs of the DPOR literature, written against uvmsim.machine.

Each function returns a `build()` for `ProgramTarget`: a fresh world and one function per CPU.

- `lastzero(n)`: Abdulla, Aronis, Jonsson, Sagonas, "Optimal dynamic partial order reduction"
  (POPL 2014), the program on which source-DPOR explores sleep-set blocked executions and
  optimal DPOR does not.  An array of n+1 zeros; thread 0 scans it from index n down for the
  last zero; thread i (1..n) sets ``array[i] = array[i-1] + 1``.
- `indexer(n)`: Flanagan and Godefroid, "Dynamic partial-order reduction for model checking
  software" (POPL 2005).  n threads each insert 4 messages into a hash table of 128 entries
  with compare-and-swap, probing linearly on a collision.  The hash spreads the messages of up
  to 11 threads over distinct entries (one trace); from 12 threads on, insertions collide.
- `filesystem(n)`: Flanagan and Godefroid 2005.  n threads each allocate a disk block to an
  inode, both guarded by per-entry locks.  Threads t and t+13 start at the same block, so
  the first conflicts appear with 14 threads.

The programs are written as in the papers' C, one visible operation per shared access; a CAS
is `atomic_cas` (one indivisible write, also when it fails), a lock a `Mutex`.
"""

from __future__ import annotations

from collections.abc import Callable

from uvmsim.check.target import ProgramTarget
from uvmsim.machine import (
    Analyses,
    Mutex,
    Shared,
    SharedObject,
    atomic_cas,
    mtx_enter,
    mtx_leave,
)


class Slot(SharedObject):
    """One shared word (an array element, a table entry, an inode or a block flag), 0 at first."""

    v = Shared("")


def _slots(prefix: str, n: int) -> list[Slot]:
    return [Slot(f"{prefix}{i}") for i in range(n)]


def lastzero(n: int) -> Callable[[], tuple]:
    """Abdulla et al. 2014: thread 0 finds the last zero while threads 1..n fill the array."""

    def build() -> tuple:
        array = _slots("a", n + 1)
        found = _slots("found", 1)

        def scanner() -> None:
            i = n
            while array[i].v != 0:
                i -= 1
            found[0].v = i

        def filler(i: int) -> Callable[[], None]:
            def fill() -> None:
                array[i].v = array[i - 1].v + 1

            return fill

        return (array, found), [scanner, *[filler(i) for i in range(1, n + 1)]]

    return build


TABLE_SIZE = 128
MESSAGES = 4


def indexer(n: int) -> Callable[[], tuple]:
    """Flanagan and Godefroid 2005: n threads insert MESSAGES entries each with CAS."""

    def build() -> tuple:
        table = _slots("t", TABLE_SIZE)

        def thread(tid: int) -> Callable[[], None]:
            def insert_all() -> None:
                m = 0
                while m < MESSAGES:
                    m += 1
                    w = m * 11 + tid
                    h = (w * 7) % TABLE_SIZE
                    while atomic_cas(table[h], "v", 0, w) != 0:
                        h = (h + 1) % TABLE_SIZE

            return insert_all

        return table, [thread(t) for t in range(n)]

    return build


NUM_INODES = 32
NUM_BLOCKS = 26


def filesystem(n: int) -> Callable[[], tuple]:
    """Flanagan and Godefroid 2005: n threads allocate a free block to their inode."""

    def build() -> tuple:
        inode = _slots("inode", NUM_INODES)
        busy = _slots("busy", NUM_BLOCKS)
        locki = [Mutex(f"locki{i}") for i in range(NUM_INODES)]
        lockb = [Mutex(f"lockb{b}") for b in range(NUM_BLOCKS)]

        def thread(tid: int) -> Callable[[], None]:
            def allocate() -> None:
                i = tid % NUM_INODES
                b = (i * 2) % NUM_BLOCKS
                mtx_enter(locki[i])
                if inode[i].v == 0:
                    while True:
                        mtx_enter(lockb[b])
                        if not busy[b].v:
                            busy[b].v = 1
                            inode[i].v = b + 1
                            mtx_leave(lockb[b])
                            break
                        mtx_leave(lockb[b])
                        b = (b + 1) % NUM_BLOCKS
                mtx_leave(locki[i])

            return allocate

        return (inode, busy), [thread(t) for t in range(n)]

    return build


PROGRAMS = {"lastzero": lastzero, "indexer": indexer, "filesystem": filesystem}


def program_target(name: str, n: int, races: bool = False) -> ProgramTarget:
    """`name`(n) as a checker target (a module-level recipe: distributed runs pickle it)."""
    return ProgramTarget(PROGRAMS[name](n), name=f"{name}({n})", analyses=Analyses(races=races))
