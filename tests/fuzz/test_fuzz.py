"""`uvmsim fuzz`: the three rediscoveries (small budgets, pinned), minimized no larger than
the hand-written scenarios, determinism over --jobs, the coverage report, the command."""

import json

from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.runs.fuzz import (
    FuzzSpec,
    fuzz,
    hunk_reach,
    minimize_group,
    model_functions,
    scenario_size,
)
from uvmsim.runs.names import get_protocol


def campaign(protocol, seed, programs=16):
    return fuzz(FuzzSpec(protocol=protocol, programs=programs, seed=seed, pct=6, random=6))


def test_f1_on_seed_minimized_below_pageclean_race():
    res = campaign("seed", 1, programs=8)
    g = res.groups["F1"]
    assert g.program_index == 5
    minimize_group(res.spec, g)
    # pageclean-race: 5 set-up operations and 3 CPU paths on 3 CPUs
    assert scenario_size("pageclean-race") == (8, 3)
    assert (g.minimized.size(), len(g.minimized.cpus), g.preemptions) == (3, 2, 1)
    assert g.explanation.failure is not None and g.token.startswith("uvm1.")


def test_wired_drift_on_seed_plain_wired():
    res = campaign("seed-plain-wired", 0, programs=8)
    # one group per pair of racing sites (uvm_pageclean against uvm_pagewire or unwire)
    labels = [lab for lab in res.groups if "uvmexp.wired" in lab]
    assert len(labels) == 2
    g = res.groups[labels[0]]
    assert sorted(res.groups[lab].program_index for lab in labels) == [5, 6]
    minimize_group(res.spec, g)
    # wired-counter: 4 set-up faults and 5 operations on 3 CPUs
    assert scenario_size("wired-counter") == (9, 3)
    assert (g.minimized.size(), len(g.minimized.cpus)) == (4, 2)


def test_recursion_on_seed_no_dequeue_first_and_not_on_seed_fixed():
    res = campaign("seed-no-dequeue-first", 0, programs=4)
    assert list(res.groups) == ["recursion|panic: mtx pageqlock: locking against myself"]
    control = campaign("seed-fixed", 0, programs=8)
    assert control.groups == {}


def test_results_do_not_depend_on_jobs():
    one = fuzz(FuzzSpec(protocol="seed", programs=10, seed=4, pct=3, random=3))
    two = fuzz(FuzzSpec(protocol="seed", programs=10, seed=4, pct=3, random=3, jobs=2))
    assert [p.digest() for p in one.corpus] == [p.digest() for p in two.corpus]
    assert one.features == two.features and one.switches == two.switches
    assert {k: g.program_index for k, g in one.groups.items()} == {
        k: g.program_index for k, g in two.groups.items()
    }


def test_hunk_report_names_what_was_not_reached():
    proto = get_protocol("seed")
    rows = hunk_reach(
        {("uao_detach_unlocked", "uao_detach"), ("wired_atomic", "uvm_pagewire")}, proto
    )
    reached = {r.number for r in rows if r.reached}
    assert reached == {3, 13, 26}
    assert rows[0].how.startswith("not reached: no generated program made uvm_anfree_list read")
    assert "uvm_page.uvm_pageclean" in model_functions()


def test_the_command_is_deterministic_and_writes_checkable_scenarios(tmp_path):
    out = tmp_path / "out"
    args = ["fuzz", "-p", "seed-no-dequeue-first", "--programs", "3", "--pct", "2",
            "--random", "2", "--minimize-budget", "8", "--out", str(out)]  # fmt: skip
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1, r.output
    again = CliRunner().invoke(main, args)
    assert again.output == r.output
    (path,) = out.iterdir()
    assert path.name == "fuzz-seed-no-dequeue-first-recursion-pageqlock.toml"
    check = CliRunner().invoke(main, ["check", "-p", "seed-no-dequeue-first", "-s", str(path)])
    assert check.exit_code == 1
    assert check.output.startswith("panic: mtx pageqlock: locking against myself")
    doc = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    (f,) = doc["failures"]
    assert f["cpus"] == 1 and f["operations"] <= 3
    assert CliRunner().invoke(main, ["replay", f["replay_token"]]).exit_code == 1


def test_handwritten_sizes_count_operations_not_objects_or_locks():
    # again-cluster: two set-up calls (fault, deactivate), then uvm_pageout against
    # amap_unref; new_pmap/new_amap are the world, not operations
    assert scenario_size("again-cluster") == (4, 2)
    # object-fault-io: two resident file pages (alloc + activate each; rw_enter, the pageq
    # lock and the busy-bit clear are not counted), then the fault against the flush
    assert scenario_size("object-fault-io") == (6, 2)
