"""The minimizer shrinks a counterexample to its fewest preemptions, then fewest steps.

The schedule it starts from is a random walk's: dozens of context switches, most of them
noise.  The bug needs exactly one preemption (the checker cannot do with none: the writer's
two stores are consecutive in its program), so the minimum is known.
"""

from uvmsim.check.minimize import count_preemptions, minimize
from uvmsim.check.target import ProgramTarget
from uvmsim.check.token import failure_signature
from uvmsim.machine import KASSERT, Analyses, RandomEngine, ReplayEngine

from .programs import cells


def window():
    def build():
        cs = cells(4)

        def writer():
            cs[0].v = 1  # the window opens
            for i in range(12):
                cs[1].v = i
            cs[0].v = 0  # and closes

        def reader():
            for i in range(6):
                cs[2].v = i
            KASSERT(cs[0].v == 0, "flag == 0")

        def noise():
            for i in range(12):
                cs[3].v = i

        return cs, [writer, reader, noise]

    return build


TARGET = ProgramTarget(window(), analyses=Analyses(races=False))


def _noisy_failure():
    for seed in range(500):
        r = TARGET.execute(RandomEngine(seed))
        if r.failure is not None and count_preemptions(TARGET, r.schedule) >= 8:
            return r
    raise AssertionError("no noisy failing schedule in 500 seeds")


def test_a_noisy_schedule_shrinks_to_the_one_preemption_the_bug_needs():
    r = _noisy_failure()
    before = count_preemptions(TARGET, r.schedule)
    mini = minimize(TARGET, r.failure, r.schedule)
    assert before >= 8
    assert mini.original_preemptions == before
    assert mini.preemptions == 1
    assert count_preemptions(TARGET, mini.schedule) == 1
    # fewest steps among the one-preemption schedules: the writer's first store, then the
    # reader's six writes and its read (it fails on the read), nothing else
    assert len(mini.schedule) == 1 + 7
    replayed = TARGET.execute(ReplayEngine(mini.schedule))
    assert failure_signature(replayed.failure) == failure_signature(r.failure)
