"""CPU greenlets outlive an execution: the next one runs on them, after failures too."""

import gc
import threading
import weakref

import pytest

from uvmsim.machine import Machine, Mutex, RoundRobinEngine, core, kernel_work, mtx_enter, mtx_leave
from uvmsim.machine.kassert import panic


def _counting(log: list, n: int = 3) -> list:
    m = Mutex("m")

    def cpu(i):
        def fn():
            mtx_enter(m)
            log.append(i)
            mtx_leave(m)

        return fn

    return [cpu(i) for i in range(n)]


def _ids(machine: Machine) -> set[int]:
    return {id(c.greenlet) for c in machine.cpus}


def test_the_next_execution_runs_on_the_same_greenlets():
    log: list[int] = []
    a = Machine(RoundRobinEngine())
    assert a.run(_counting(log)).completed
    b = Machine(RoundRobinEngine())
    assert b.run(_counting(log)).completed
    assert _ids(a) == _ids(b)
    assert log == [0, 1, 2, 0, 1, 2]
    idle = core._idle_workers()
    assert {id(c.greenlet) for c in b.cpus} <= {id(g) for g in idle}


def _panics_holding(order: list) -> list:
    m = Mutex("m")

    def holder():
        mtx_enter(m)
        kernel_work("copy")
        panic("uvm_pagefree: freeing free page")

    def spinner():
        mtx_enter(m)
        order.append("spinner ran on")  # never: the execution fails while it spins
        mtx_leave(m)

    return [holder, spinner]


def test_a_failed_execution_unwinds_its_cpus_and_gives_their_greenlets_back():
    order: list[str] = []
    first = Machine(RoundRobinEngine())
    f1 = first.run(_panics_holding(order)).failure
    assert f1 is not None and f1.kind == "panic"
    assert all(c.done for c in first.cpus)  # the spinner was unwound, not left suspended
    second = Machine(RoundRobinEngine())
    f2 = second.run(_panics_holding(order)).failure
    assert _ids(first) == _ids(second)
    assert f2.render() == f1.render()
    assert order == []


def _fails_while_priming() -> list:
    def first():
        panic("vm_page_free: page on a queue")

    def later():
        mtx_enter(Mutex("m"))

    return [first, later, later]


def test_a_failure_while_priming_leaves_the_cpus_that_never_began_alone():
    # On fresh greenlets, then on reused idle ones: the same failure, the same stacks (the
    # CPUs that never entered their function have none), and no idle greenlet is disturbed.
    core._idle_workers().clear()
    fresh = Machine(RoundRobinEngine())
    f1 = fresh.run(_fails_while_priming()).failure
    assert fresh.primed == 1
    assert [stack for _i, stack in f1.stacks] == [("first",), (), ()]
    reused = Machine(RoundRobinEngine())
    f2 = reused.run(_fails_while_priming()).failure
    assert _ids(fresh) == _ids(reused)
    assert f2.render() == f1.render()
    log: list[int] = []
    assert Machine(RoundRobinEngine()).run(_counting(log)).completed
    assert log == [0, 1, 2]


def test_an_exception_that_escapes_a_cpu_ends_its_greenlet_for_good():
    def interrupted():
        raise KeyboardInterrupt

    log: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        Machine(RoundRobinEngine()).run([interrupted, *_counting(log, 1)])
    assert not any(g.dead for g in core._idle_workers())
    assert Machine(RoundRobinEngine()).run(_counting(log)).completed


def test_each_thread_runs_on_greenlets_of_its_own():
    log: list[int] = []
    main = Machine(RoundRobinEngine())
    main.run(_counting(log))
    other: list[Machine] = []

    def run_in_thread() -> None:
        m = Machine(RoundRobinEngine())
        m.run(_counting(log))
        other.append(m)

    t = threading.Thread(target=run_in_thread)
    t.start()
    t.join()
    assert other and other[0].cpus[0].done
    assert log == [0, 1, 2, 0, 1, 2]
    assert not _ids(main) & _ids(other[0])


def test_an_idle_greenlet_keeps_nothing_of_its_last_execution():
    # Between executions the world of the last one must be free to go (a checker keeps a
    # greenlet per CPU idle for the whole exploration).
    log: list[int] = []
    m = Machine(RoundRobinEngine())
    program = _counting(log)
    assert m.run(program).completed
    fns = [weakref.ref(fn) for fn in program]  # reachable from the machine and its CPUs
    del m, program
    gc.collect()
    assert [fn() for fn in fns] == [None, None, None]
