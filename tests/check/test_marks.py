"""Which steps a counterexample marks, and the stacks it gives them, on small programs."""

from __future__ import annotations

from uvmsim.check.report import Explanation, explain, render_interleaving
from uvmsim.check.strategies import Dpor
from uvmsim.check.strategy import explore
from uvmsim.check.target import ProgramTarget
from uvmsim.machine import KASSERT, Analyses, Mutex, mtx_enter, mtx_leave

from .programs import cells


def first_failure(build, analyses: Analyses) -> Explanation:
    target = ProgramTarget(build, analyses=analyses)
    res = explore(target, Dpor())
    assert res.failure is not None
    return explain(target, res.schedule)


def marked(ex: Explanation) -> list[tuple[int, str]]:
    return [(ex.steps[n - 1].cpu, ex.steps[n - 1].op) for n in ex.marked]


def test_a_race_marks_its_two_accesses_and_both_have_stacks():
    def build():
        cs = cells(1)

        def bump():
            cs[0].v = cs[0].v + 1

        def bump_too():
            bump()

        return cs, [bump, bump_too]

    ex = first_failure(build, Analyses())
    assert ex.failure.kind == "data-race"
    assert ex.legend == "the two racing accesses"
    assert len(ex.marked) == 2
    assert {cpu for cpu, _op in marked(ex)} == {0, 1}
    for n in ex.marked:
        step = ex.steps[n - 1]
        assert step.stack and step.stack[-1] == "bump"
    assert ex.steps[ex.marked[-1] - 1].stack[0] in ("bump", "bump_too")


def test_a_kassert_marks_the_write_its_read_saw():
    def build():
        cs = cells(2)

        def setter():
            cs[1].v = 5  # unrelated
            cs[0].v = 1

        def checker():
            flag = cs[0].v
            KASSERT(flag == 0, "flag == 0")

        return cs, [setter, checker]

    ex = first_failure(build, Analyses(races=False))
    assert ex.failure.kind == "kassert"
    assert marked(ex) == [(0, "write c0.v"), (1, "read c0.v")]
    lines = render_interleaving(ex, 80)
    assert lines[0].startswith("> marks cpu1's last step, and each read")
    assert sum(1 for line in lines if " > " in line[:8]) == 2


def test_a_recursion_marks_the_first_acquisition_and_where_the_cpu_was():
    def build():
        cs = cells(1)
        m = Mutex("m")

        def twice():
            mtx_enter(m)
            cs[0].v = 1
            mtx_enter(m)

        return cs, [twice]

    ex = first_failure(build, Analyses())
    assert ex.failure.kind == "recursion"
    assert marked(ex) == [(0, "mtx_enter m"), (0, "write c0.v")]
    assert ex.legend.startswith("the operations the failure names")


def test_a_deadlock_marks_the_last_step_of_each_stuck_cpu():
    def build():
        cs = cells(1)
        a, b = Mutex("a"), Mutex("b")

        def ab():
            mtx_enter(a)
            mtx_enter(b)
            mtx_leave(b)
            mtx_leave(a)

        def ba():
            mtx_enter(b)
            mtx_enter(a)
            mtx_leave(a)
            mtx_leave(b)

        return cs, [ab, ba]

    ex = first_failure(build, Analyses(witness=False))
    assert ex.failure.kind == "deadlock"
    assert ex.legend == "the last step of each CPU that cannot run"
    assert sorted(marked(ex)) == [(0, "mtx_enter a"), (1, "mtx_enter b")]
