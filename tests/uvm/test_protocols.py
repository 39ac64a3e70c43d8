"""Protocols: every hunk is a switch, the named protocols are what they say, users add theirs."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.machine import InputError
from uvmsim.protocols import HUNKS, PROTOCOLS, SWITCHES, Protocol
from uvmsim.protocols.base import KNOBS, NOT_IN_DIFF
from uvmsim.runs.names import get_protocol

ROOT = Path(__file__).resolve().parents[2]


def test_every_hunk_of_the_diff_maps_to_a_switch():
    assert [h.number for h in HUNKS] == list(range(1, 27))
    covered = {n for s in SWITCHES for n in s.hunks}
    assert covered == set(range(1, 27))
    assert all(s.functions for s in SWITCHES)


SEED_DIFF = ROOT.parent / "shared" / "seed" / "pageqlock-diff-reflowed.txt"
HEADERS = Path(__file__).with_name("seed-hunk-headers.txt")


def _hunk_headers(text: str) -> list[str]:
    return [line.split(" @@")[0] + " @@" for line in text.splitlines() if line.startswith("@@")]


def test_hunk_table_matches_the_seed_diff_headers():
    assert _hunk_headers(HEADERS.read_text()) == [h.header for h in HUNKS]


@pytest.mark.skipif(not SEED_DIFF.exists(), reason="../shared/seed is not next to this checkout")
def test_committed_headers_are_those_of_the_seed_diff_file():
    assert _hunk_headers(SEED_DIFF.read_text()) == _hunk_headers(HEADERS.read_text())


def test_protocol_fields_are_exactly_the_switches():
    assert set(Protocol.switch_names()) == {s.name for s in SWITCHES} | set(NOT_IN_DIFF)


def test_named_protocols():
    pre, seed = PROTOCOLS["openbsd-pre"], PROTOCOLS["seed"]
    diff_switches = [s.name for s in SWITCHES]
    assert not any(getattr(pre, s) for s in diff_switches) and pre.percpu_magazines
    assert all(getattr(seed, s) for s in diff_switches) and seed.percpu_magazines
    assert PROTOCOLS["seed-plain-wired"].diff_from(seed) == {"wired_atomic": (True, False)}
    assert set(PROTOCOLS["seed-no-dequeue-first"].diff_from(seed)) == {
        "pdaemon_clean_dequeue_first",
        "pdaemon_released_dequeue_first",
        "uvn_flush_dequeue_first",
        "uvn_flush_cluster_dequeue_first",
    }
    assert PROTOCOLS["openbsd-2024-nocache"].diff_from(pre) == {"percpu_magazines": (True, False)}
    assert PROTOCOLS["seed-fixed"].diff_from(seed) == {
        "pageclean_dequeue_before_remove": (False, True)
    }


def test_bad_switch_and_bad_protocol_are_clear_errors():
    with pytest.raises(InputError, match="protocol switch 'wired_atomik' is unknown; accepted:"):
        PROTOCOLS["seed"].variant("x", wired_atomik=True)
    with pytest.raises(InputError, match="protocol 'sed' is unknown; accepted: openbsd-pre"):
        get_protocol("sed")
    with pytest.raises(InputError, match="has no Protocol named 'NOPE'"):
        get_protocol(str(ROOT / "examples" / "my_diff.py") + ":NOPE")
    with pytest.raises(InputError, match="no file"):
        get_protocol("examples/missing.py:X")


def test_user_protocol_loads_through_the_cli():
    runner = CliRunner()
    spec = str(ROOT / "examples" / "my_diff.py") + ":PRE_ATOMIC_WIRED"
    r = runner.invoke(main, ["protocols", "--protocol", spec, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    mine = [p for p in doc["protocols"] if p["name"] == "pre-atomic-wired"]
    assert mine and mine[0]["switches"]["wired_atomic"] is True
    assert mine[0]["switches"]["anfree_list_unlocked"] is False
    r = runner.invoke(main, ["protocols", "--protocol", "examples/nothere.py:X"])
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "no file examples/nothere.py" in r.output


def test_protocols_lists_the_knobs_and_who_sets_them(monkeypatch):
    """The terminal listing names every knob with its default and accepted values, and the
    protocols that set it to something else (a variant from a file here)."""
    monkeypatch.setenv("COLUMNS", "100")
    spec = str(ROOT / "examples" / "queue_counters.py") + ":SEED_PERCPU"
    r = CliRunner().invoke(main, ["protocols", "--protocol", spec])
    assert r.exit_code == 0, r.output
    out = r.output.split("Knobs: integers a protocol variant sets")[1]
    blocks = {b.split("\n")[0]: b for b in out.strip().split("\n\n")}
    assert list(blocks)[1:] == list(KNOBS)
    assert (
        "  default: 0\n  accepted: 0, 1, 2, 3\n  set otherwise in: seed-percpu-counters (3)"
        in (blocks["queue_counters"])
    )
    assert (
        "  default: 128\n  accepted: a positive integer\n  set otherwise in: -"
        in (blocks["pdq_size"])
    )
    doc = json.loads(CliRunner().invoke(main, ["protocols", "--json"]).output)
    assert [k["name"] for k in doc["knobs"]] == list(KNOBS)
    assert doc["knobs"][2] == {
        "name": "pqbatch_flush",
        "default": 2,
        "accepted": [1, 2],
        "doc": KNOBS["pqbatch_flush"].doc,
    }


def test_protocols_hunks_json_is_the_table():
    r = CliRunner().invoke(main, ["protocols", "--hunks", "--json"])
    rows = json.loads(r.output)["hunks"]
    assert len(rows) == 26
    by_hunk = {row["hunk"]: row for row in rows}
    assert by_hunk[12]["switches"] == ["pageclean_locks_dequeue", "wired_atomic"]
    assert by_hunk[17]["model_functions"] == ["uvmpd_scan_inactive"]
    assert by_hunk[26]["file"] == "uvm/uvmexp.h"


def test_scenarios_command_lists_the_required_names():
    r = CliRunner().invoke(main, ["scenarios", "--json"])
    names = {s["name"] for s in json.loads(r.output)["scenarios"]}
    assert {
        "pageclean-race",
        "wired-counter",
        "fault-vs-free",
        "pdaemon-vs-free",
        "flush-vs-fault",
        "aiodone-vs-flush",
    } <= names
