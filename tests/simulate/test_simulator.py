"""The simulator's commands, outputs and the review's measured questions."""

import json
import time

import pytest
from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.simulate import simulate
from uvmsim.simulate.costs import cost_table
from uvmsim.workloads import WORKLOADS


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
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and {"name", "ph", "ts", "dur", "tid"} <= set(spans[0])


def test_trace_names_the_process_and_every_cpu_track(tmp_path):
    trace = tmp_path / "out.json"
    r = invoke("simulate", "-p", "seed", "-w", "build", "-n", 3, "--ops", 100, "--trace", trace)
    assert r.exit_code == 0, r.output
    doc = json.loads(trace.read_text())
    meta = [e for e in doc["traceEvents"] if e["ph"] == "M"]
    process = [e for e in meta if e["name"] == "process_name"]
    assert [e["args"]["name"] for e in process] == ["uvmsim build on seed"]
    threads = {e["tid"]: e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert threads == {0: "cpu0", 1: "cpu1", 2: "cpu2"}
    # Every span lands on a named track of the named process.
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert spans and {e["tid"] for e in spans} <= set(threads)
    assert {e["pid"] for e in doc["traceEvents"]} == {process[0]["pid"]}


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


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("simulate", "-n", 2, "--cycles", "nan"), "--cycles nan: accepted values are finite"),
        (("simulate", "-n", 2, "--cycles", "inf"), "--cycles inf: accepted values are finite"),
        (("simulate", "-n", 2, "--cycles", "-3"), "--cycles -3.0: accepted values are finite"),
        (("simulate", "-n", 2, "--cycles", "0"), "--cycles 0.0: accepted values are finite"),
        (("simulate", "-n", 100000), "--cpus 100000: accepted range is 1..1024"),
        (("simulate", "-n", 1025), "--cpus 1025: accepted range is 1..1024"),
        (("simulate", "-n", -4), "--cpus -4: accepted range is 1..1024"),
        (("scale", "-n", "8,2000"), "--cpus 2000: accepted range is 1..1024"),
        (("simulate", "-n", 2, "--think", "nan"), "option think must be a finite number"),
        (("scale", "-n", "2", "--hold", "inf"), "option hold must be a finite number"),
    ],
)
def test_bounds_are_refused_at_once_with_the_range(args, says):
    # Before: nan/inf cycles never stopped and -n 100000 spent minutes building CPUs.
    cmd, *rest = args
    start = time.monotonic()
    r = invoke(cmd, "-p", "seed", "-w", "spinlock", *rest)
    assert time.monotonic() - start < 5
    assert r.exit_code == 2, r.output
    assert r.output == f"uvmsim: error: {r.output.split('error: ', 1)[1]}"
    assert r.output.count("\n") == 1 and says in r.output, r.output


def test_max_cpus_itself_runs():
    r = invoke("simulate", "-p", "seed", "-w", "spinlock", "-n", 1024, "--ops", 200, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["cpus"] == 1024


@pytest.mark.parametrize("command", ["simulate", "scale"])
def test_help_lists_every_workload_option_with_its_default(command):
    r = invoke(command, "--help")
    assert r.exit_code == 0
    text = " ".join(r.output.split())  # undo click's wrapping
    assert "Workload options" in text
    for wl in WORKLOADS.values():
        assert f"{wl.name}: " in text
        for opt in wl.options:
            assert f"--{opt.name} " in text, (wl.name, opt.name)
            assert f"(default {opt.default}" in text, (wl.name, opt.name)


def test_bracketed_protocol_name_prints_literally(tmp_path):
    path = tmp_path / "odd.py"
    path.write_text(
        "from uvmsim.protocols import PROTOCOLS\n"
        'ODD = PROTOCOLS["seed"].variant("[/x]", "described with [/F1]")\n'
    )
    r = invoke("simulate", "-p", f"{path}:ODD", "-w", "spinlock", "-n", 2, "--ops", 100)
    assert r.exit_code == 0, r.output
    assert "spinlock on [/x], 2 CPUs" in r.output
    # At the tables' natural width (140, piped) the header keeps "[/x]: sys/op" together; a
    # pytest-xdist worker may see a terminal of another width.
    r = CliRunner().invoke(
        main,
        ["scale", "-p", f"seed,{path}:ODD", "-w", "spinlock", "-n", "2", "--ops", "100"],
        env={"COLUMNS": "140"},
    )
    assert r.exit_code == 0, r.output
    assert "[/x]: sys/op" in " ".join(r.output.split())


def test_cost_table_rejects_a_missing_or_unknown_entry():
    from uvmsim.machine import InputError
    from uvmsim.simulate.costs import CostTable

    with pytest.raises(InputError, match="cost table: unknown entry 'warp'"):
        cost_table(warp=3)
    with pytest.raises(InputError, match="cost table: no entry for work 'defrag'"):
        CostTable().work("defrag")


@pytest.mark.parametrize("columns", ["80", "140"])
def test_scale_table_never_cuts_a_protocol_name(columns):
    args = ["scale", "-p", "openbsd-2024-nocache,openbsd-pre", "-w", "spinlock", "-n", "2,4"]
    r = CliRunner().invoke(main, [*args, "--ops", "200"], env={"COLUMNS": columns})
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    assert all(len(line) <= int(columns) for line in r.output.splitlines())
    assert "openbsd-2024-nocache" in r.output and "openbsd-pre" in r.output
