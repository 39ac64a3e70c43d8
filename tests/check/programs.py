"""Small concurrent programs with known answers, written against uvmsim.machine."""

from __future__ import annotations

from uvmsim.machine import (
    RW_READ,
    RW_WRITE,
    Mutex,
    RWLock,
    Shared,
    SharedObject,
    mtx_enter,
    mtx_enter_try,
    mtx_leave,
    peek,
    rw_enter,
    rw_exit,
    sleep_on,
    wakeup,
)


class Cell(SharedObject):
    v = Shared("")


def cells(n: int) -> list[Cell]:
    return [Cell(f"c{i}") for i in range(n)]


def final(world) -> tuple:
    return tuple(peek(c, "v") for c in world)


def independent(n_threads: int, k: int):
    """N threads, each writing its own cell k times: one Mazurkiewicz trace."""

    def build():
        cs = cells(n_threads)

        def mk(i):
            def thread():
                for step in range(k):
                    cs[i].v = step

            return thread

        return cs, [mk(i) for i in range(n_threads)]

    return build


def writers_and_reader(n: int):
    """N writers of distinct cells and one reader of all of them: 2^N traces."""

    def build():
        cs = cells(n + 1)

        def mk(i):
            def writer():
                cs[i].v = 1

            return writer

        def reader():
            cs[n].v = sum(c.v for c in cs[:n])

        return cs, [*[mk(i) for i in range(n)], reader]

    return build


def locked_counter():
    def build():
        cs = cells(2)
        m = Mutex("m")

        def a():
            mtx_enter(m)
            cs[0].v = cs[0].v + 1
            mtx_leave(m)
            cs[1].v = 5

        def b():
            if mtx_enter_try(m):
                cs[0].v = cs[0].v + 10
                mtx_leave(m)

        def c():
            mtx_enter(m)
            cs[0].v = cs[0].v * 3
            mtx_leave(m)
            cs[1].v = 7

        return cs, [a, b, c]

    return build


def readers_writers():
    def build():
        cs = cells(2)
        lk = RWLock("l")

        def w1():
            rw_enter(lk, RW_WRITE)
            cs[0].v = cs[0].v + 1
            rw_exit(lk)

        def r():
            rw_enter(lk, RW_READ)
            x = cs[0].v
            rw_exit(lk)
            mtx = cs[1]
            mtx.v = x

        def w2():
            rw_enter(lk, RW_WRITE)
            cs[0].v = cs[0].v * 5
            rw_exit(lk)

        return cs, [w1, r, w2]

    return build


def sleeper():
    def build():
        cs = cells(2)
        m = Mutex("m")

        def waiter():
            mtx_enter(m)
            while cs[0].v == 0:
                sleep_on(cs[0], m, "wait")
                mtx_enter(m)
            cs[1].v = cs[0].v
            mtx_leave(m)

        def setter():
            mtx_enter(m)
            cs[0].v = 7
            wakeup(cs[0])
            mtx_leave(m)

        return cs, [waiter, setter]

    return build


def racy_increments(n: int = 2):
    """N threads doing an unlocked `x += 1`: finals from 1 to N."""

    def build():
        cs = cells(1)

        def inc():
            cs[0].v = cs[0].v + 1

        return cs, [inc] * n

    return build


PROGRAMS = {
    "independent-3x2": independent(3, 2),
    "writers-reader-3": writers_and_reader(3),
    "locked-counter": locked_counter(),
    "readers-writers": readers_writers(),
    "sleeper": sleeper(),
    "racy-increments-3": racy_increments(3),
}
