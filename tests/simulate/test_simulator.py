"""The simulator's commands, outputs and the review's measured questions."""

import json

from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.protocols import PROTOCOLS
from uvmsim.simulate.costs import cost_table
from uvmsim.simulate.run import simulate


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_json_shape_is_the_documented_one():
    r = invoke("simulate", "-p", "seed", "-w", "build", "-n", 4, "--ops", 400, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert {
        "protocol",
        "workload",
        "cpus",
        "seed",
        "cycles",
        "cpu_time",
        "throughput",
        "locks",
    } <= set(doc)
    assert set(doc["cpu_time"]) == {"user", "system", "spin", "idle"}
    pageq = doc["locks"]["pageqlock"]
    assert {"acquisitions", "contended", "wait_cycles", "hold_cycles", "handoffs", "sites"} <= set(
        pageq
    )
    site = next(iter(pageq["sites"].values()))
    assert {"acquisitions", "contended", "wait_cycles", "hold_cycles", "handoffs"} <= set(site)


def test_same_seed_same_json():
    a = invoke("simulate", "-p", "openbsd-pre", "-w", "build", "-n", 8, "--ops", 500, "--json")
    b = invoke("simulate", "-p", "openbsd-pre", "-w", "build", "-n", 8, "--ops", 500, "--json")
    assert a.output == b.output


def test_seed_has_less_pageqlock_wait_than_pre_at_32_cpus():
    pre = simulate("build", PROTOCOLS["openbsd-pre"], 32, ops=3000, seed=1)
    seed = simulate("build", PROTOCOLS["seed"], 32, ops=3000, seed=1)
    assert seed.locks["pageqlock"]["wait_cycles"] < pre.locks["pageqlock"]["wait_cycles"]


def test_magazines_remove_fpageq_contention():
    nocache = simulate("build", PROTOCOLS["openbsd-2024-nocache"], 16, ops=2000, seed=1)
    pre = simulate("build", PROTOCOLS["openbsd-pre"], 16, ops=2000, seed=1)
    assert (
        pre.locks["fpageqlock"]["acquisitions"] * 10 < nocache.locks["fpageqlock"]["acquisitions"]
    )
    assert pre.locks["fpageqlock"]["wait_cycles"] < nocache.locks["fpageqlock"]["wait_cycles"]


def test_flush_variants_differ_in_fpageq_acquisitions():
    nomag = PROTOCOLS["seed"].variant("seed-nocache", percpu_magazines=False)
    acq = {}
    for proto in (PROTOCOLS["openbsd-pre"], PROTOCOLS["seed"], nomag):
        r = simulate("flush", proto, 4, ops=400, seed=1)
        acq[proto.name] = r.locks["fpageqlock"]["acquisitions"]
    # per-page free without magazines > one batched free per flush > magazines
    assert acq["seed-nocache"] > acq["openbsd-pre"] > acq["seed"]


def test_pressure_runs_the_pagedaemon():
    r = simulate("pressure", PROTOCOLS["seed"], 3, ops=2000, seed=1)
    assert r.failure is None
    assert r.counters["pdfreed"] > 0


def test_scale_table_json_and_plot(tmp_path):
    png = tmp_path / "scale.png"
    r = invoke(
        "scale",
        "-p",
        "openbsd-pre,seed",
        "-w",
        "build",
        "-n",
        "4,8",
        "--ops",
        300,
        "--plot",
        png,
        "--json",
    )
    assert r.exit_code == 0, r.output
    runs = json.loads(r.output)["runs"]
    assert [(x["protocol"], x["cpus"]) for x in runs] == [
        ("openbsd-pre", 4),
        ("openbsd-pre", 8),
        ("seed", 4),
        ("seed", 8),
    ]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_folded_and_trace_outputs(tmp_path):
    folded, trace = tmp_path / "out.folded", tmp_path / "out.json"
    r = invoke(
        "simulate",
        "-p",
        "seed",
        "-w",
        "build",
        "-n",
        2,
        "--ops",
        100,
        "--folded",
        folded,
        "--trace",
        trace,
    )
    assert r.exit_code == 0, r.output
    lines = folded.read_text().splitlines()
    assert any(";uvm_fault_upper;" in line for line in lines)
    stack, count = lines[0].rsplit(" ", 1)
    assert stack.startswith("cpu") and int(count) > 0
    events = json.loads(trace.read_text())["traceEvents"]
    assert events and {"name", "ph", "ts", "dur", "tid"} <= set(events[0])


def test_bad_input_is_one_line_and_exit_two():
    cases = [
        ("simulate", "-p", "seed", "-w", "nope", "-n", 2),
        ("simulate", "-p", "seed", "-w", "build", "-n", 0),
        ("simulate", "-p", "seed", "-w", "build", "-n", 2, "--faults", "x"),
        ("simulate", "-p", "seed", "-w", "spinlock", "-n", 2, "--color", "red"),
        ("scale", "-p", "seed", "-w", "build", "-n", "8,-1"),
        ("scale", "-p", "seed", "-w", "build", "-n", "8", "--plot", "x.pdf"),
    ]
    for args in cases:
        r = invoke(*args)
        assert r.exit_code == 2, (args, r.output)
        assert r.output.startswith("uvmsim: error: ") and r.output.count("\n") == 1, r.output


def test_cost_table_rejects_a_missing_or_unknown_entry():
    import pytest

    from uvmsim.machine import InputError
    from uvmsim.simulate.costs import CostTable

    with pytest.raises(InputError, match="cost table: unknown entry 'warp'"):
        cost_table(warp=3)
    with pytest.raises(InputError, match="cost table: no entry for work 'defrag'"):
        CostTable().work("defrag")
