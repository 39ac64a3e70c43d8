"""The grammar: generated and mutated programs are legal, deterministic, 2-6 CPUs, and a
fixed protocol shows nothing on them (a failure there would be a generator bug)."""

import random

from uvmsim.machine import RandomEngine
from uvmsim.runs.fuzz import is_stall
from uvmsim.runs.names import get_protocol
from uvmsim.runs.target import ScenarioTarget
from uvmsim.scenarios.base import forget
from uvmsim.scenarios.entry_points import to_scenario
from uvmsim.scenarios.grammar import generate, mutate
from uvmsim.scenarios.program import first_illegal


def test_generated_programs_are_legal_and_deterministic():
    a = [generate(random.Random(7)) for _ in range(3)]
    rng = random.Random(7)
    progs = [generate(rng) for _ in range(150)]
    assert [p.digest() for p in a] == [progs[0].digest()] * 3
    for p in progs:
        assert first_illegal(p) is None
        assert 2 <= len(p.cpus) <= 6
    verbs = {op.verb for p in progs for cpu in (p.setup, *p.cpus) for op in cpu}
    # every operation of the language is drawn
    assert verbs == {
        "fault", "touch", "wire", "unwire", "madvise", "msync", "munmap", "fork", "exit",
        "shmat", "shmrm", "pageout", "aiodone", "kmalloc", "kfree", "bread", "bflip",
        "brelse", "flush", "hibernate",
    }  # fmt: skip
    assert len({p.digest() for p in progs}) == 150


def test_mutations_stay_legal():
    rng = random.Random(3)
    prog = generate(rng)
    changed = 0
    for _ in range(200):
        m = mutate(rng, prog)
        if m is None:
            continue
        assert first_illegal(m) is None
        changed += m != prog
        prog = m
    assert changed > 150


def test_no_false_alarm_on_the_fixed_protocol():
    """40 generated programs, 4 random executions each, on seed-fixed: nothing but stalls
    (a closed program waiting for a daemon it does not have)."""
    proto = get_protocol("seed-fixed")
    rng = random.Random(11)
    failures = []
    stalls = 0
    for _ in range(40):
        scenario = to_scenario(generate(rng))
        target = ScenarioTarget(scenario, proto, max_steps=50_000)
        for seed in range(4):
            f = target.execute(RandomEngine(seed)).failure
            if f is not None:
                if is_stall(f):
                    stalls += 1
                else:
                    failures.append(f.message)
        forget(scenario)
    assert failures == []
    assert stalls < 20
