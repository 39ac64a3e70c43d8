"""A plain `-= 1` is a load then a store; an atomic decrement is one indivisible step."""

from uvmsim.machine import Analyses, Shared, SharedObject, atomic_dec_int, peek

from .explore import all_executions

NO_RACES = Analyses(races=False)


class Counters(SharedObject):
    wired = Shared("")
    awired = Shared("a")


def plain_program():
    c = Counters("uvmexp")
    c.__dict__["wired"] = 2

    def unwire():
        c.wired -= 1

    return c, [unwire, unwire]


def atomic_program():
    c = Counters("uvmexp")
    c.__dict__["awired"] = 2

    def unwire():
        atomic_dec_int(c, "awired")

    return c, [unwire, unwire]


def test_plain_decrement_loses_an_update_under_some_schedule():
    finals = {}
    for world, result in all_executions(plain_program, NO_RACES):
        assert result.failure is None
        finals[result.schedule] = peek(world, "wired")
    # 2 CPUs x 2 steps: C(4,2) = 6 interleavings.
    assert len(finals) == 6
    assert set(finals.values()) == {0, 1}
    lost = [s for s, v in finals.items() if v == 1]
    assert (0, 1, 0, 1) in lost


def test_atomic_decrement_never_loses_an_update():
    finals = [
        peek(world, "awired") for world, r in all_executions(atomic_program) if r.failure is None
    ]
    assert len(finals) == 2  # one step per CPU: two orders
    assert set(finals) == {0}


def test_race_detector_flags_the_plain_decrement():
    kinds = {r.failure.kind for _, r in all_executions(plain_program) if r.failure}
    assert kinds == {"data-race"}


def test_plain_write_of_atomic_field_is_an_annotation_violation():
    c = Counters("uvmexp")

    def bad():
        c.awired -= 1

    from uvmsim.machine import Machine, RoundRobinEngine

    result = Machine(RoundRobinEngine()).run([bad])
    assert result.failure.kind == "annotation"
    assert "plain write of uvmexp.awired [a]" in result.failure.message
    assert "bad (test_lost_update.py:" in result.failure.sites[0]
