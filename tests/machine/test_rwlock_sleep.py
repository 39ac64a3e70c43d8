"""Sleeping rwlocks and sleep/wakeup."""

from uvmsim.machine import (
    EBUSY,
    RW_NOSLEEP,
    RW_READ,
    RW_WRITE,
    Machine,
    Mutex,
    ReplayEngine,
    RoundRobinEngine,
    RWLock,
    mtx_enter,
    mtx_leave,
    rw_enter,
    rw_exit,
    rw_held_by_me,
    rw_lock_held,
    rw_write_held,
    sleep_on,
    wakeup,
)

from .explore import all_executions


def run(program, engine=None):
    return Machine(engine or RoundRobinEngine()).run(program)


def test_readers_share_writers_exclude():
    lk = RWLock("vmobjlock")
    holders = []

    def reader():
        rw_enter(lk, RW_READ)
        holders.append(tuple(c.name for c in lk.readers))
        rw_exit(lk)

    # Both readers take it before either leaves.
    r = run([reader, reader], ReplayEngine([0, 1, 0, 1]))
    assert r.failure is None
    assert ("cpu0", "cpu1") in holders


def test_writer_blocks_until_reader_leaves():
    def build():
        lk = RWLock("vmobjlock")
        order = []

        def reader():
            rw_enter(lk, RW_READ)
            order.append("r")
            rw_exit(lk)

        def writer():
            rw_enter(lk, RW_WRITE)
            order.append("w")
            rw_exit(lk)

        return order, [reader, writer]

    orders = [tuple(o) for o, r in all_executions(build) if r.failure is None]
    assert sorted(orders) == [("r", "w"), ("w", "r")]


def test_nosleep_try_returns_ebusy():
    lk = RWLock("vmobjlock")
    got = []

    def holder():
        rw_enter(lk, RW_WRITE)
        rw_exit(lk)

    def trier():
        got.append(rw_enter(lk, RW_WRITE | RW_NOSLEEP))

    r = run([holder, trier], ReplayEngine([0, 1, 0]))
    assert r.failure is None
    assert got == [EBUSY]


def test_blocking_rwlock_under_a_mutex_is_a_failure_but_a_try_is_not():
    pageqlock = Mutex("pageqlock")
    lk = RWLock("vmobjlock")

    def trylock_owner():
        mtx_enter(pageqlock)
        if rw_enter(lk, RW_WRITE | RW_NOSLEEP) == 0:
            rw_exit(lk)
        mtx_leave(pageqlock)

    assert run([trylock_owner]).failure is None

    def wrong():
        mtx_enter(pageqlock)
        rw_enter(lk, RW_WRITE)

    f = run([wrong]).failure
    assert f.kind == "sleep-with-mutex"
    assert "(rwlock) vmobjlock while holding mtx pageqlock" in f.message


def test_holder_predicates():
    lk = RWLock("amaplock")
    seen = {}

    def cpu0():
        rw_enter(lk, RW_READ)
        seen["c0"] = (rw_write_held(lk), rw_lock_held(lk), rw_held_by_me(lk))
        rw_exit(lk)

    other = Mutex("other")

    def cpu1():
        mtx_enter(other)  # a visible step, so this runs while cpu0 read-holds the lock
        seen["c1"] = (rw_write_held(lk), rw_lock_held(lk), rw_held_by_me(lk))
        mtx_leave(other)

    r = run([cpu0, cpu1], ReplayEngine([0, 1, 1, 0]))
    assert r.failure is None
    assert seen["c0"] == (False, True, True)
    # The kernel's rw_lock_held is true on cpu1 too (someone read-holds it); ours is stricter.
    assert seen["c1"] == (False, True, False)


def test_rw_recursion_and_unheld_exit():
    lk = RWLock("vmobjlock")

    def twice():
        rw_enter(lk, RW_WRITE)
        rw_enter(lk, RW_READ)

    f = run([twice]).failure
    assert f.kind == "recursion"
    assert f.message == "panic: rw_enter: vmobjlock locking against myself"

    lk2 = RWLock("amaplock")

    def unheld():
        rw_exit(lk2)

    assert run([unheld]).failure.message == "panic: rw_exit: amaplock not held by cpu0"


def test_waiting_writer_keeps_new_readers_out():
    lk = RWLock("vmobjlock")
    order = []

    def first_reader():
        rw_enter(lk, RW_READ)
        order.append("r1")
        rw_exit(lk)

    def writer():
        rw_enter(lk, RW_WRITE)
        order.append("w")
        rw_exit(lk)

    def late_reader():
        rw_enter(lk, RW_READ)
        order.append("r2")
        rw_exit(lk)

    # Prime posts all three; cpu0 takes it for read; cpu1 now waits to write, so cpu2 (a new
    # reader) is not runnable: the replay naming it must be refused.
    m = Machine(ReplayEngine([0, 2]))
    import pytest

    from uvmsim.machine import InputError

    with pytest.raises(InputError, match="replay step 1 names cpu2, which cannot run"):
        m.run([first_reader, writer, late_reader])


def test_sleep_releases_interlock_atomically_and_wakeup_resumes():
    def build():
        lk = RWLock("vmobjlock")
        state = {"busy": True, "log": []}

        def waiter():
            rw_enter(lk, RW_WRITE)
            if state["busy"]:
                sleep_on(state, lk, "pgwait")
                state["log"].append("woken")
            else:
                rw_exit(lk)

        def unbusier():
            rw_enter(lk, RW_WRITE)
            state["busy"] = False
            wakeup(state)
            rw_exit(lk)

        return state, [waiter, unbusier]

    results = list(all_executions(build))
    # No interleaving loses the wakeup or deadlocks.
    assert all(r.failure is None for _, r in results), [r.failure for _, r in results]
    assert any(s["log"] == ["woken"] for s, _ in results)


def test_sleep_while_holding_a_mutex_panics():
    m = Mutex("pageqlock")

    def cpu():
        mtx_enter(m)
        sleep_on(object(), None, "uvmwait")

    f = run([cpu]).failure
    assert f.kind == "sleep-with-mutex"
    assert "assertwaitok: non-zero mutex count" in f.message


def test_sleep_without_wakeup_is_a_deadlock():
    def cpu():
        sleep_on("never", None, "forever")

    f = run([cpu]).failure
    assert f.kind == "deadlock"
    assert "cpu0 waits for wakeup on str (sleeping)" in f.message
