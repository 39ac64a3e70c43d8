"""Programs as text: parsing, the preconditions of every operation, TOML files, references."""

import os

import pytest
from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.scenarios.program import (
    Op,
    Program,
    ProgramError,
    WorldSpec,
    check_legal,
    dump,
    from_ref,
    loads,
    parse_op,
    to_ref,
)

GOOD = """
name = "two-cpus"
setup = ["p0 shmat shm0", "p0 fault shm0 0 w", "p0 madvise shm0 dontneed"]

[world]
pages = 48
freetarg = 16
procs = 1
shm = [1]
files = [2]
kmem = 1

[[cpu]]
ops = ["p0 exit"]

[[cpu]]
ops = ["pd pageout 1", "k0 kmalloc 0 wired", "k0 kfree 0"]
"""


def program(*cpus, setup=(), **world):
    return Program(
        WorldSpec(**world),
        tuple(parse_op(t, "t") for t in setup),
        tuple(tuple(parse_op(t, "t") for t in ops) for ops in cpus),
    )


def test_a_file_loads_and_round_trips():
    prog = loads(GOOD, "good.toml")
    assert prog.name == "two-cpus"
    assert prog.size() == 7 and len(prog.cpus) == 2
    assert prog.cpus[1][1] == Op("k0", "kmalloc", ("0", "wired"))
    again = loads(dump(prog), "again.toml")
    assert again == prog
    assert from_ref(to_ref(prog)).canonical() == prog.canonical()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p0 faullt anon 0 w", "operation 'faullt' is unknown; accepted: fault, touch"),
        ("x0 fault anon 0 w", "actor 'x0' is unknown; accepted: pN (a process)"),
        ("p0 fault anon 0 x", "rw 'x': accepted: r, w"),
        ("pd fault anon 0 w", "fault is done by a process, not a pagedaemon"),
        ("p0 fault anon", "expected 'p0 fault region index rw [advice]'"),
        ("k0 flush file0 free,deactivate", "free and deactivate exclude each other"),
    ],
)
def test_syntax_errors_name_the_field_and_what_is_accepted(text, message):
    with pytest.raises(ProgramError) as e:
        parse_op(text, "cpu[0].ops[1]")
    assert str(e.value).startswith("cpu[0].ops[1]: ")
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("cpus", "setup", "rule"),
    [
        ((["p0 unwire anon 1"], ["pd pageout"]), (), "p0 has not wired anon page 1"),
        ((["p0 exit", "p0 fault anon 0 r"], ["pd pageout"]), (), "p0 has exited"),
        ((["p0 fault anon 0 r"], ["p0 exit"]), (), "p0 already runs on cpu0"),
        ((["p0 fault shm0 0 r"],), (), "shm0 is not attached"),
        ((["p0 shmat shm0"],), (), "runs only in the set-up"),
        ((["p0 fork p1", "p1 fault anon 0 w"],), ("p0 fault anon 0 w",), "copy-on-write"),
        ((["p0 wire anon 0", "p0 fork p1"],), (), "the parent has wired anon pages"),
        ((["p0 wire file0 0"], ["k0 flush file0 free"]), (), "some process wires"),
        ((["k0 kmalloc 0 wired"], ["k1 kfree 0"]), (), "kernel page 0 belongs to k0"),
        ((["k0 brelse b0"],), (), "buffer b0 does not exist"),
    ],
)
def test_illegal_programs_are_refused_with_the_rule(cpus, setup, rule):
    prog = program(*cpus, setup=setup, procs=1, shm=(1,), files=(1,), kmem=1)
    with pytest.raises(ProgramError) as e:
        check_legal(prog, "f.toml")
    assert rule in str(e.value), str(e.value)
    assert str(e.value).startswith("f.toml: ")


def test_a_forked_child_runs_on_its_parents_cpu():
    ok = program(["p0 fork p1", "p1 fault anon 1 w", "p1 exit"], procs=1)
    check_legal(ok)
    elsewhere = program(["p0 fork p1"], ["p1 fault anon 1 w"], procs=1)
    with pytest.raises(ProgramError, match="p1 already runs on cpu0"):
        check_legal(elsewhere)


def test_check_runs_a_scenario_file_and_its_token_replays_without_it(tmp_path):
    path = tmp_path / "wired.toml"
    path.write_text(
        GOOD.replace('ops = ["p0 exit"]', 'ops = ["p0 wire anon 1", "p0 unwire anon 1"]')
    )
    r = CliRunner().invoke(
        main, ["check", "-p", "seed-plain-wired", "--scenario", str(path), "--strategy", "dpor"]
    )
    assert r.exit_code == 1, r.output
    assert r.output.startswith("data race on uvmexp.wired")
    lines = r.output.splitlines()
    token = lines[lines.index("replay: uvmsim replay \\") + 1]
    os.remove(path)
    again = CliRunner().invoke(main, ["replay", token])
    assert again.exit_code == 1
    assert again.output.startswith("data race on uvmexp.wired")
    r = CliRunner().invoke(main, ["check", "-p", "seed", "--scenario", str(tmp_path / "x.toml")])
    assert r.exit_code == 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("pages = 48", "pages = 2"), "world.pages: expected an integer 4..512, got 2"),
        (("kmem = 1", "kmem = 1\ncolour = 3"), "world: field 'colour' is unknown; accepted:"),
        (('name = "two-cpus"', "nme = 1"), "field 'nme' is unknown; accepted: name, summary"),
        (("[[cpu]]\nops", "[[cpu]]\nopz"), "cpu[0]: expected exactly one field, ops = [...]"),
        (('"p0 exit"', '"p0 exit", "p0 exit"'), "cpu[0].ops[1]: 'p0 exit': p0 has exited"),
        (("[world]", "[world"), "not valid TOML"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(*edit))
    r = CliRunner().invoke(main, ["check", "-p", "seed", "-s", str(path)])
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1
    assert message in r.stderr, r.stderr
    assert r.stderr.startswith(f"uvmsim: error: {path}: ")
