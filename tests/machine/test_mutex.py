"""Spin mutexes: recursion, ownership, LIFO release, IPL, mutual exclusion."""

import pytest

from uvmsim.machine import (
    IPL_VM,
    MUTEX_ASSERT_LOCKED,
    MUTEX_ASSERT_UNLOCKED,
    Machine,
    Mutex,
    RandomEngine,
    RoundRobinEngine,
    Shared,
    SharedObject,
    curcpu,
    mtx_enter,
    mtx_enter_try,
    mtx_leave,
    peek,
)
from uvmsim.machine.core import Chooser

from .explore import all_executions


def run(*program, engine=None):
    return Machine(engine or RoundRobinEngine()).run(list(program))


def test_recursion_panics_with_both_acquisition_sites():
    m = Mutex("pageqlock", IPL_VM)

    def inner():
        mtx_enter(m)

    def outer():
        mtx_enter(m)
        inner()

    f = run(outer).failure
    assert f.kind == "recursion"
    assert f.message == "panic: mtx pageqlock: locking against myself"
    assert f.sites[0].startswith("first acquired at outer (test_mutex.py:")
    assert f.sites[1].startswith("again at inner (test_mutex.py:")
    assert f.stacks == ((0, ("outer", "inner")),)


def test_try_recursion_panics_too():
    m = Mutex("fpageqlock")

    def cpu():
        mtx_enter(m)
        mtx_enter_try(m)

    assert run(cpu).failure.kind == "recursion"


def test_leave_by_non_owner_panics():
    m = Mutex("pageqlock")

    def cpu():
        mtx_leave(m)

    f = run(cpu).failure
    assert f.kind == "panic"
    assert f.message == "panic: mutex pageqlock not held in mtx_leave"


def test_release_must_be_lifo():
    a, b = Mutex("pageqlock"), Mutex("fpageqlock")

    def cpu():
        mtx_enter(a)
        mtx_enter(b)
        mtx_leave(a)

    f = run(cpu).failure
    assert f.kind == "mutex-rule"
    assert "mtx_leave pageqlock out of LIFO order: fpageqlock" in f.message


def test_assert_locked_and_unlocked():
    m = Mutex("pageqlock")

    def needs_lock():
        MUTEX_ASSERT_LOCKED(m)

    def cpu():
        MUTEX_ASSERT_UNLOCKED(m)
        needs_lock()

    f = run(cpu).failure
    assert f.message == "panic: mutex pageqlock not held in needs_lock"

    def cpu2():
        mtx_enter(m)
        MUTEX_ASSERT_UNLOCKED(m)

    assert run(cpu2).failure.message == "panic: mutex pageqlock held in cpu2"


def test_ipl_raised_while_held_and_restored():
    m = Mutex("pageqlock", IPL_VM)
    seen = []

    def cpu():
        seen.append(curcpu().ipl)
        mtx_enter(m)
        seen.append(curcpu().ipl)
        mtx_leave(m)
        seen.append(curcpu().ipl)

    assert run(cpu).failure is None
    assert seen == [0, IPL_VM, 0]


class Cell(SharedObject):
    v = Shared("Q")


def counter_program():
    lock = Mutex("pageqlock")
    cell = Cell("cell")

    def inc():
        mtx_enter(lock)
        cell.v = cell.v + 1
        mtx_leave(lock)

    return cell, [inc, inc], {"Q": lock}


def test_mutual_exclusion_under_every_schedule():
    finals = []
    for cell, result in all_executions(counter_program):
        assert result.failure is None, result.failure.render()
        finals.append(peek(cell, "v"))
    # Both CPUs post their mtx_enter before anything runs, so the only freedom is who enters
    # first: the other one is disabled until the leave.
    assert finals == [2, 2]


def test_try_fails_when_owned_elsewhere():
    m = Mutex("fpageqlock")
    got = []

    def holder():
        mtx_enter(m)
        mtx_leave(m)

    def trier():
        got.append(mtx_enter_try(m))
        if got[-1]:
            mtx_leave(m)

    # cpu0 enters, cpu1 tries while it is held.
    from uvmsim.machine import ReplayEngine

    r = Machine(ReplayEngine([0, 1, 0])).run([holder, trier])
    assert r.failure is None
    assert got == [0]


def test_same_seed_same_schedule():
    def build():
        m = Mutex("l")

        def cpu():
            for _ in range(5):
                mtx_enter(m)
                mtx_leave(m)

        return [cpu, cpu, cpu]

    s1 = Machine(RandomEngine(7)).run(build()).schedule
    s2 = Machine(RandomEngine(7)).run(build()).schedule
    s3 = Machine(RandomEngine(8)).run(build()).schedule
    assert s1 == s2
    assert s1 != s3


def _contended_counter():
    m = Mutex("pageqlock")
    total = []

    def cpu():
        for _ in range(3):
            mtx_enter(m)
            total.append(curcpu().index)
            mtx_leave(m)

    return [cpu, cpu, cpu], total


def test_an_engine_that_is_no_chooser_gives_the_same_run_through_a_forwarder():
    """The machine calls an engine that is not one of its own C-typed ones (no `Chooser`)
    through a forwarder: the same choices give the same run."""

    class Duck:  # neither an Engine nor a Chooser: the interface's three methods only
        def __init__(self):
            self.inner = RandomEngine(7)

        def begin(self, machine):
            self.inner.begin(machine)

        def end(self, machine):
            self.inner.end(machine)

        def choose(self, machine, current):
            return self.inner.choose(machine, current)

    runs = []
    for engine in (RandomEngine(7), Duck()):
        program, total = _contended_counter()
        r = Machine(engine).run(program)
        assert r.failure is None
        runs.append((r.schedule, total))
    assert runs[0] == runs[1]
    assert sorted(runs[0][1]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(runs[0][0]) == 18  # an mtx_enter and an mtx_leave per iteration


def test_a_chooser_without_choose_says_so():
    class Half(Chooser):
        pass

    with pytest.raises(TypeError, match="Half derives from Chooser but defines no choose"):
        Half().choose(None, None)
