"""`uvmsim check` / `uvmsim replay`: exit codes, replay byte for byte, bad input."""

import json

from click.testing import CliRunner

from uvmsim.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def token_of(output: str) -> str:
    return next(line.split()[-1] for line in output.splitlines() if line.startswith("replay:"))


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
