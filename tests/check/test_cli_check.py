"""`uvmsim check` / `uvmsim replay`: exit codes, replay byte for byte, bad input."""

import json
import re

from click.testing import CliRunner

from uvmsim.cli import main


def invoke(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def token_of(output: str) -> str:
    """The token: alone on the line after `replay: uvmsim replay \\`."""
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("replay:"))
    assert lines[at] == "replay: uvmsim replay \\"
    return lines[at + 1]


def test_failure_replays_byte_for_byte():
    r = invoke("check", "-p", "seed-no-dequeue-first", "-s", "flush-vs-fault")
    assert r.exit_code == 1
    assert r.output.startswith("panic: mtx pageqlock: locking against myself\n")
    token = token_of(r.output)
    again = invoke("replay", token)
    assert again.exit_code == 1

    def sections(text):
        # The failure (panic line, sites) and everything from the interleaving to the
        # token; `check` adds one line between them saying how it minimized.
        head = text[: text.index("\n\n")]
        return head, text[text.index("interleaving:") : text.index("replay:")]

    assert sections(again.output) == sections(r.output)
    assert invoke("replay", token).output == again.output


def test_json_output_and_replay_json_agree():
    r = invoke("check", "-p", "seed-plain-wired", "-s", "wired-counter", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.output)
    assert doc["found"] and doc["failure"]["kind"] == "data-race"
    again = json.loads(invoke("replay", doc["replay_token"], "--json").output)
    assert again["failure"] == doc["failure"]
    assert again["interleaving"] == doc["interleaving"]


def test_nothing_found_exits_zero_with_a_coverage_line():
    r = invoke("check", "-p", "openbsd-pre", "-s", "aiodone-vs-flush")
    assert r.exit_code == 0
    assert r.output.splitlines()[-1].startswith("coverage (dpor): ")
    assert "complete: every interleaving up to equivalence explored" in r.output


def test_bounded_run_says_what_it_did_not_cover():
    r = invoke("check", "-p", "seed", "-s", "flush-vs-fault", "--max-executions", "5")
    assert r.exit_code == 0
    assert "stopped by --max-executions: NOT complete" in r.output


def test_random_and_pct_with_jobs_give_the_same_answer():
    a = invoke(
        "check",
        "-p",
        "seed",
        "-s",
        "pdaemon-vs-free",
        "--strategy",
        "random",
        "--max-executions",
        "200",
        "--no-races",
        "--no-minimize",
    )
    b = invoke(
        "check",
        "-p",
        "seed",
        "-s",
        "pdaemon-vs-free",
        "--strategy",
        "random",
        "--max-executions",
        "200",
        "--no-races",
        "--no-minimize",
        "--jobs",
        "2",
    )
    assert a.exit_code == b.exit_code == 1
    assert a.output == b.output
    p = invoke(
        "check",
        "-p",
        "seed",
        "-s",
        "pdaemon-vs-free",
        "--strategy",
        "pct",
        "--max-executions",
        "300",
        "--no-races",
    )
    assert p.exit_code == 1 and "PCT depth 2" in p.output


def test_bad_input_is_one_line_and_exit_two():
    cases = [
        ("replay", "uvm1.abc.00000000"),
        ("replay", "nonsense"),
        ("check", "-p", "nope", "-s", "fault-vs-free"),
        ("check", "-p", "seed", "-s", "nope"),
        ("check", "-p", "seed", "-s", "fault-vs-free", "--preemptions", "-1"),
        ("check", "-p", "seed", "-s", "fault-vs-free", "--time-limit", "0"),
        ("check", "-p", "seed", "-s", "fault-vs-free", "--jobs", "0"),
    ]
    for args in cases:
        r = invoke(*args)
        assert r.exit_code == 2, (args, r.output)
        assert r.output.count("\n") == 1 and r.output.startswith("uvmsim: error: "), r.output


def test_token_from_another_version_or_protocol_is_refused(monkeypatch):
    r = invoke("check", "-p", "seed-no-dequeue-first", "-s", "flush-vs-fault", "--no-minimize")
    token = token_of(r.output)
    import uvmsim.check.token as tok

    monkeypatch.setattr(tok, "__version__", "9.9.9")
    r2 = invoke("replay", token)
    assert r2.exit_code == 2 and "made by uvmsim 0.1.0, this is uvmsim 9.9.9" in r2.output
    monkeypatch.undo()
    edited = token[:-10] + ("A" if token[-10] != "A" else "B") + token[-9:]
    r3 = invoke("replay", edited)
    assert r3.exit_code == 2 and "checksum mismatch" in r3.output


def _interleaving_rows(output: str) -> list[str]:
    block = output[output.index("interleaving:") : output.index("model stacks at the failure:")]
    return block.splitlines()


def test_counterexample_at_80_columns_piped_wraps_never_cuts_and_marks_the_race():
    r = invoke("check", "-p", "seed-plain-wired", "-s", "wired-counter", env={"COLUMNS": "80"})
    assert r.exit_code == 1
    out = r.output
    assert "…" not in out
    rows = _interleaving_rows(out)
    # Every line of the view fits 80 columns, and the full names are there (36-character
    # cells cut `uvmfault_anonget: read vm_anon#0.an_lock` to `... vm_anon#0.an…`).
    assert all(len(line) <= 80 for line in rows), [x for x in rows if len(x) > 80]
    assert "uvmfault_anonget: read vm_anon#0.an_lock" in out
    assert "uvm_pageunwire: write uvmexp.wired" in out
    # The two racing accesses are marked, with a legend naming them.
    legend = " ".join(rows[1:3])
    assert "> marks the two racing accesses" in legend
    marked = [line for line in rows if re.match(r"^ *\d+ >", line)]
    assert len(marked) == 2
    assert "write uvmexp.wired" in marked[0] and "cpu0" in marked[0]
    assert "read uvmexp.wired" in marked[1] and "cpu1" in marked[1]
    # Both racing CPUs have a stack: cpu0 (the writer) had finished by the failure.
    stacks = out[out.index("model stacks at the marked steps:") :]
    assert "cpu0 (write uvmexp.wired): " in stacks and "uvm_pageunwire" in stacks
    assert "cpu1 (read uvmexp.wired): " in stacks and "uvm_pageclean" in stacks


def test_a_wide_terminal_gets_a_column_per_cpu():
    r = invoke("check", "-p", "seed-plain-wired", "-s", "wired-counter", env={"COLUMNS": "200"})
    header = next(line for line in _interleaving_rows(r.output) if line.startswith(" step"))
    assert re.search(r"cpu0 +cpu1 +cpu2 +locks held when it ran", header)
    assert "…" not in r.output


def test_a_kassert_marks_the_write_its_failing_function_read():
    # F1: the pagedaemon's uvmpd_trylockowner reads pg6.uobject that cpu1's
    # uvm_pageremove has cleared: the write, the read and the failing step are marked.
    r = invoke("check", "-p", "seed", "-s", "pageclean-race", "--no-races", env={"COLUMNS": "80"})
    assert r.exit_code == 1
    marked = [line for line in _interleaving_rows(r.output) if re.match(r"^ *\d+ >", line)]
    assert any("uvm_pageremove: write pg6.uobject" in line for line in marked)
    assert any("uvmpd_trylockowner: read pg6.uobject" in line for line in marked)


def test_json_marks_steps_and_gives_their_stacks():
    r = invoke("check", "-p", "seed-plain-wired", "-s", "wired-counter", "--json")
    doc = json.loads(r.output)
    assert [s["step"] for s in doc["interleaving"] if s["marked"]] == [
        s["step"] for s in doc["marked"]["steps"]
    ]
    assert doc["marked"]["legend"] == "the two racing accesses"
    assert all(s["stack"] for s in doc["marked"]["steps"])


def test_the_token_is_alone_and_whole_on_its_line_at_80_columns():
    r = invoke("check", "-p", "seed-plain-wired", "-s", "wired-counter", env={"COLUMNS": "80"})
    token = token_of(r.output)
    assert re.fullmatch(r"uvm1\.[A-Za-z0-9_=-]+\.[0-9a-f]{8}", token), token
    assert len(token) > 80  # so rich or a wrapper would have broken it
    again = invoke("replay", token, env={"COLUMNS": "80"})
    assert again.exit_code == 1 and token_of(again.output) == token


def test_odpor_reports_executions_traces_and_blocked_in_text_and_json():
    r = invoke("check", "-p", "seed-fixed", "-s", "pageclean-race", "--strategy", "odpor")
    assert r.exit_code == 0
    assert r.output.splitlines()[-1] == (
        "coverage (odpor): 260 executions, 260 traces, 0 redundant (sleep-set blocked), deepest "
        "280 steps; complete: every interleaving up to equivalence explored"
    )
    d = invoke("check", "-p", "seed-fixed", "-s", "pageclean-race", "--strategy", "dpor")
    assert "273 executions, 260 traces, 13 redundant (sleep-set blocked)" in d.output
    doc = json.loads(
        invoke(
            "check", "-p", "seed-fixed", "-s", "pageclean-race", "--strategy", "odpor", "--json"
        ).output
    )
    cov = doc["coverage"]
    assert doc["strategy"] == "odpor"
    assert (cov["executions"], cov["traces"], cov["redundant"], cov["complete"]) == (
        260,
        260,
        0,
        True,
    )
