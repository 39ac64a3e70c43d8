"""The analyses on every visible operation: annotations, lock order, races, deadlock."""

import pytest

from uvmsim.machine import (
    IPL_VM,
    RW_WRITE,
    Analyses,
    InputError,
    Machine,
    Mutex,
    ReplayEngine,
    RoundRobinEngine,
    RWLock,
    Shared,
    SharedObject,
    atomic_dec_int,
    atomic_rmw_ordered,
    mtx_enter,
    mtx_leave,
    racy_read,
    rw_enter,
    rw_exit,
    unlocked_read,
)

from .explore import all_executions


class Uvmexp(SharedObject):
    active = Shared("L")
    free = Shared("F")
    wired = Shared("a")


class Page(SharedObject):
    wire_count = Shared("o")

    def __init__(self, name, owner_lock):
        super().__init__(name)
        self.__dict__["lock"] = owner_lock

    annotation_locks = {"o": lambda pg: pg.__dict__["lock"]}


def machine(engine=None, **kw):
    return Machine(engine or RoundRobinEngine(), **kw)


def test_L_field_written_without_pageqlock_names_field_and_site():
    pageqlock = Mutex("pageqlock", IPL_VM)
    uvmexp = Uvmexp("uvmexp")

    def uvm_pagedequeue():
        uvmexp.active = 0

    m = machine()
    m.bind_annotation("L", pageqlock)
    f = m.run([uvm_pagedequeue]).failure
    assert f.kind == "annotation"
    assert f.message == (
        "annotation violation: plain write of uvmexp.active [L] without pageqlock held on cpu0"
    )
    assert f.sites[0].startswith("uvm_pagedequeue (test_analyses.py:")


def test_L_field_written_with_pageqlock_is_fine():
    pageqlock = Mutex("pageqlock", IPL_VM)
    uvmexp = Uvmexp("uvmexp")

    def cpu():
        mtx_enter(pageqlock)
        uvmexp.active = uvmexp.active + 1
        mtx_leave(pageqlock)

    m = machine()
    m.bind_annotation("L", pageqlock)
    assert m.run([cpu]).failure is None


def test_owner_annotation_needs_the_owner_write_held():
    vmobjlock = RWLock("vmobjlock")
    pg = Page("pg0", vmobjlock)

    def reader_writes():
        from uvmsim.machine import RW_READ

        rw_enter(vmobjlock, RW_READ)
        pg.wire_count = 1
        rw_exit(vmobjlock)

    f = machine().run([reader_writes]).failure
    assert "plain write of pg0.wire_count [o] without vmobjlock write-held" in f.message

    # A fresh world: the failed execution above left its lock read-held.
    lock2 = RWLock("vmobjlock")
    pg2 = Page("pg0", lock2)

    def writer_writes():
        rw_enter(lock2, RW_WRITE)
        pg2.wire_count = 1
        rw_exit(lock2)

    assert machine().run([writer_writes]).failure is None


def test_unlocked_read_skips_the_annotation_but_not_the_race_detector():
    pageqlock = Mutex("pageqlock")
    uvmexp = Uvmexp("uvmexp")

    def reader():
        unlocked_read(uvmexp, "active")

    def writer():
        mtx_enter(pageqlock)
        uvmexp.active = 5
        mtx_leave(pageqlock)

    m = machine(ReplayEngine([1, 1, 1, 0]))
    m.bind_annotation("L", pageqlock)
    f = m.run([reader, writer]).failure
    assert f.kind == "data-race"
    assert "uvmexp.active" in f.message


def _reader_and_writer(read):
    """A reader of `uvmexp.active` through `read` on cpu0, a locked writer on cpu1."""
    pageqlock = Mutex("pageqlock")
    uvmexp = Uvmexp("uvmexp")
    seen = []

    def reader():
        seen.append(read(uvmexp, "active"))

    def writer():
        mtx_enter(pageqlock)
        uvmexp.active = 5
        mtx_leave(pageqlock)

    return pageqlock, [reader, writer], seen


@pytest.mark.parametrize("order", [[1, 1, 1, 0], [0, 1, 1, 1]])
def test_racy_read_is_not_a_race_with_the_write_it_is_marked_for(order):
    # Either order (the read after the write, or before it) is fine; `unlocked_read` in the
    # same place is reported (the control).
    for read, kind in ((racy_read, None), (unlocked_read, "data-race")):
        pageqlock, cpus, seen = _reader_and_writer(read)
        m = machine(ReplayEngine(list(order)))
        m.bind_annotation("L", pageqlock)
        f = m.run(cpus).failure
        assert (f.kind if f else None) == kind, read.__name__
        if f is None:
            assert seen == [5 if order[0] == 1 else 0]


def test_racy_read_is_a_visible_read_both_values_are_explored():
    def build():
        pageqlock, cpus, seen = _reader_and_writer(racy_read)
        return seen, cpus, {"L": pageqlock}

    values = set()
    for seen, ex in all_executions(build):
        assert ex.failure is None
        values.update(seen)
    assert values == {0, 5}


def test_racy_read_leaves_other_reads_of_the_field_race_checked():
    pageqlock = Mutex("pageqlock")
    uvmexp = Uvmexp("uvmexp")

    def reader():
        racy_read(uvmexp, "active")
        unlocked_read(uvmexp, "active")

    def writer():
        mtx_enter(pageqlock)
        uvmexp.active = 5
        mtx_leave(pageqlock)

    m = machine(ReplayEngine([1, 1, 1, 0, 0]))
    m.bind_annotation("L", pageqlock)
    f = m.run([reader, writer]).failure
    assert f.kind == "data-race"
    # The plain read (the reader's second line) is the one reported.
    line = reader.__code__.co_firstlineno + 2
    assert f.sites[1] == f"cpu0 read at reader (test_analyses.py:{line})"


class Folio(SharedObject):
    data = Shared("")
    refs = Shared("a")


def _publish_then_last_put(put):
    """cpu0 writes the page's data, then drops a reference; cpu1 drops the last one, then
    reads the data (as Linux's freeing CPU does): ordered only if the drops are."""
    pg = Folio("pg")
    pg.__dict__["refs"] = 2

    def owner():
        pg.data = 1
        put(pg)

    def last():
        put(pg)
        _ = pg.data

    return [owner, last]


@pytest.mark.parametrize(
    ("put", "kind"),
    [
        (lambda pg: atomic_rmw_ordered(pg, "refs", lambda n: n - 1), None),
        (lambda pg: atomic_dec_int(pg, "refs"), "data-race"),  # OpenBSD's: orders nothing
    ],
)
def test_a_fully_ordered_atomic_orders_what_came_before_it_on_the_same_word(put, kind):
    m = machine(ReplayEngine([0, 0, 1, 1]))
    f = m.run(_publish_then_last_put(put)).failure
    assert (f.kind if f else None) == kind


def test_atomic_rmw_ordered_stores_the_update_and_returns_the_old_value():
    pg = Folio("pg")
    pg.__dict__["refs"] = 5
    seen = []
    m = machine()
    m.run([lambda: seen.append(atomic_rmw_ordered(pg, "refs", lambda n: n & ~4))])
    assert seen == [5] and pg.__dict__["refs"] == 1


def test_lock_order_reversal_reported_without_deadlock():
    pageqlock, fpageqlock = Mutex("pageqlock"), Mutex("fpageqlock")

    def pagedaemon():
        mtx_enter(pageqlock)
        mtx_enter(fpageqlock)
        mtx_leave(fpageqlock)
        mtx_leave(pageqlock)

    def wrong_order():
        mtx_enter(fpageqlock)
        mtx_enter(pageqlock)
        mtx_leave(pageqlock)
        mtx_leave(fpageqlock)

    # cpu0 runs to completion first: no deadlock is possible on this schedule.
    r = machine(ReplayEngine([0, 0, 0, 0, 1, 1, 1, 1])).run([pagedaemon, wrong_order])
    f = r.failure
    assert f.kind == "lock-order"
    assert f.message == (
        "lock order reversal: pageqlock acquired while holding fpageqlock, "
        "but pageqlock -> fpageqlock was established first"
    )
    assert f.sites[0].startswith("1st fpageqlock acquired at wrong_order (")
    assert f.sites[1].startswith("2nd pageqlock acquired at wrong_order (")
    assert "pageqlock held from pagedaemon (" in f.sites[2]
    assert "fpageqlock acquired at pagedaemon (" in f.sites[2]


def test_real_deadlock_reports_what_each_cpu_waits_for():
    a, b = Mutex("pageqlock"), Mutex("fpageqlock")

    def cpu0():
        mtx_enter(a)
        mtx_enter(b)
        mtx_leave(b)
        mtx_leave(a)

    def cpu1():
        mtx_enter(b)
        mtx_enter(a)
        mtx_leave(a)
        mtx_leave(b)

    m = machine(ReplayEngine([0, 1]), analyses=Analyses(witness=False))
    f = m.run([cpu0, cpu1]).failure
    assert f.kind == "deadlock"
    assert "cpu0 waits for mtx fpageqlock (owned by cpu1) at cpu0 (" in f.message
    assert "cpu1 waits for mtx pageqlock (owned by cpu0) at cpu1 (" in f.message


class Cell(SharedObject):
    v = Shared("")


def test_race_reported_for_unsynchronized_accesses():
    def build():
        cell = Cell("cell")

        def w():
            cell.v = 1

        def r():
            return cell.v

        return cell, [w, r]

    failures = [res.failure for _, res in all_executions(build)]
    assert all(f is not None and f.kind == "data-race" for f in failures)
    text = failures[0].message
    assert text.startswith("data race on cell.v:")
    assert any("w (test_analyses.py:" in s for s in failures[0].sites)
    assert any("r (test_analyses.py:" in s for s in failures[0].sites)


def test_no_race_for_accesses_ordered_by_a_mutex():
    def build():
        cell = Cell("cell")
        lock = Mutex("lock")

        def w():
            mtx_enter(lock)
            cell.v = 1
            mtx_leave(lock)

        def r():
            mtx_enter(lock)
            x = cell.v
            mtx_leave(lock)
            return x

        return cell, [w, r]

    results = [res for _, res in all_executions(build)]
    assert len(results) == 2
    assert all(res.failure is None for res in results)


def test_unknown_annotation_letter_is_a_clear_error():
    with pytest.raises(
        InputError, match=r"lock annotation letter 'X' in 'QX' is unknown; accepted: L, Q"
    ):
        Shared("QX")


def test_unbound_lock_letter_is_a_clear_error():
    uvmexp = Uvmexp("uvmexp")

    def cpu():
        uvmexp.free = 1

    with pytest.raises(InputError, match="annotation 'F' on Uvmexp has no lock bound"):
        machine().run([cpu])


def test_analyses_can_be_switched_off():
    def build():
        cell = Cell("cell")

        def w():
            cell.v = 1

        return cell, [w, w]

    assert all(r.failure is None for _, r in all_executions(build, Analyses(races=False)))
