"""Failures are structured values; schedules replay byte for byte; bad input is reported."""

import pytest

from uvmsim.machine import (
    KASSERT,
    Analyses,
    InputError,
    Machine,
    Mutex,
    RandomEngine,
    ReplayEngine,
    RoundRobinEngine,
    Shared,
    SharedObject,
    mtx_enter,
    mtx_leave,
    panic,
    splvm,
    splx,
)
from uvmsim.machine.spl import IPL_VM, splassert


class Counters(SharedObject):
    wired = Shared("")


def lost_update_program():
    c = Counters("uvmexp")
    c.__dict__["wired"] = 2

    def uvm_pageunwire():
        c.wired -= 1

    def check():
        KASSERT(c.wired == 0, "uvmexp.wired == 0")

    return c, [uvm_pageunwire, uvm_pageunwire], check


def failing_run(seed):
    c, program, _ = lost_update_program()
    m = Machine(RandomEngine(seed), analyses=Analyses(races=False))
    m.add_check(
        lambda: (
            None if c.__dict__["wired"] == 0 else f"uvmexp.wired is {c.__dict__['wired']}, want 0"
        )
    )
    return m.run(program)


def test_replay_reproduces_the_failure_text_byte_for_byte():
    failing = next(r for r in (failing_run(s) for s in range(100)) if r.failure)
    assert failing.failure.kind == "invariant"
    c, program, _ = lost_update_program()
    m = Machine(ReplayEngine(failing.schedule), analyses=Analyses(races=False))
    m.add_check(
        lambda: (
            None if c.__dict__["wired"] == 0 else f"uvmexp.wired is {c.__dict__['wired']}, want 0"
        )
    )
    again = m.run(program)
    assert again.failure.render() == failing.failure.render()
    assert again.failure == failing.failure


def test_same_seed_same_failure_text():
    a = [failing_run(s).failure for s in range(20)]
    b = [failing_run(s).failure for s in range(20)]
    assert [f and f.render() for f in a] == [f and f.render() for f in b]


def test_kassert_message_names_expression_file_and_line():
    def uvm_pagewire():
        KASSERT(False, "rw_write_held(uobj->vmobjlock)")

    f = Machine(RoundRobinEngine()).run([uvm_pagewire]).failure
    assert f.kind == "kassert"
    assert f.message.startswith(
        'panic: kernel diagnostic assertion "rw_write_held(uobj->vmobjlock)" failed: '
        'file "test_failures_replay.py", line '
    )
    assert f.message.endswith("(uvm_pagewire)")


def test_panic_and_model_error_are_failures_not_tracebacks():
    def cpu():
        panic("uao_flush: weird flags")

    f = Machine(RoundRobinEngine()).run([cpu]).failure
    assert f.message == "panic: uao_flush: weird flags"

    def buggy():
        return {}["missing"]

    f = Machine(RoundRobinEngine()).run([buggy]).failure
    assert f.kind == "model-error"
    assert f.message == "model error: KeyError: 'missing'"
    assert "Traceback" not in f.render()
    assert any("Traceback" in line for line in f.detail)


def test_replay_naming_a_cpu_that_cannot_run_is_an_input_error():
    m1 = Mutex("pageqlock")

    def cpu():
        mtx_enter(m1)
        mtx_leave(m1)

    with pytest.raises(
        InputError,
        match=r"replay step 1 names cpu1, which cannot run "
        r"\(is blocked on mtx pageqlock \(owned by cpu0\)\)",
    ):
        Machine(ReplayEngine([0, 1])).run([cpu, cpu])
    with pytest.raises(InputError, match="replay step 0 names cpu 5, which does not exist"):
        Machine(ReplayEngine([5])).run([cpu, cpu])
    m2 = Mutex("pageqlock")

    def cpu2():
        mtx_enter(m2)
        mtx_leave(m2)

    with pytest.raises(InputError, match="replay list ended after 1 steps but cpu0 can still run"):
        Machine(ReplayEngine([0])).run([cpu2])


def test_releasing_an_unheld_lock_is_a_failure():
    m1 = Mutex("fpageqlock")

    def cpu():
        mtx_leave(m1)

    f = Machine(RoundRobinEngine()).run([cpu]).failure
    assert f.message == "panic: mutex fpageqlock not held in mtx_leave"


def test_step_bound_and_lock_leak():
    m1 = Mutex("pageqlock")

    def spin():
        while True:
            mtx_enter(m1)
            mtx_leave(m1)

    f = Machine(RoundRobinEngine(), max_steps=50).run([spin]).failure
    assert f.kind == "step-bound"
    assert f.step == 50

    def leak():
        mtx_enter(m1)

    m2 = Mutex("pageqlock")

    def leak2():
        mtx_enter(m2)

    assert Machine(RoundRobinEngine()).run([leak2]).failure.message == (
        "cpu0 finished holding pageqlock"
    )
    assert leak is not None


def test_spl_rules():
    m1 = Mutex("pageqlock", IPL_VM)

    def ok():
        s = splvm()
        splassert(IPL_VM)
        splx(s)

    assert Machine(RoundRobinEngine()).run([ok]).failure is None

    def bad():
        splassert(IPL_VM)

    assert (
        "splassert: want IPL_VM have IPL_NONE"
        in Machine(RoundRobinEngine()).run([bad]).failure.message
    )

    def lowers():
        mtx_enter(m1)
        splx(0)

    assert (
        "while holding mtx pageqlock" in Machine(RoundRobinEngine()).run([lowers]).failure.message
    )


def test_checks_run_at_step_quiescent_and_end():
    calls = {"step": 0, "quiescent": 0, "end": 0}
    m1 = Mutex("pageqlock")

    def cpu():
        mtx_enter(m1)
        mtx_leave(m1)

    m = Machine(RoundRobinEngine())
    for when in calls:
        m.add_check(lambda w=when: calls.__setitem__(w, calls[w] + 1), when)
    assert m.run([cpu]).failure is None
    assert calls["end"] == 1
    assert calls["quiescent"] == 2  # after the leave, and when the CPU finished
    # On the initial state (when mtx_enter is posted), after mtx_enter, after mtx_leave.
    assert calls["step"] == 3
    with pytest.raises(InputError, match="check time 'often' unknown"):
        m.add_check(lambda: None, "often")
