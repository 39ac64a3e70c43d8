"""Hunks the benchmark's generated programs did not reach on one side or both (docs/fuzz.md,
"Coverage of the diff") are within the grammar: each program of tests/fuzz/reach/, legal by
the same rules, makes the hunk's function read its switch on the kernel before the diff and
on the diff."""

import os

import pytest

from uvmsim.protocols.hunks import HUNKS
from uvmsim.runs.fuzz import ProgramTask, hunk_reach, run_program
from uvmsim.runs.names import get_protocol
from uvmsim.scenarios.program import load_file

REACH = os.path.join(os.path.dirname(__file__), "reach")
CASES = {
    "a-uao-flush.toml": {4},  # MADV_FREE by the last process attached to a removed segment
    "b-uao-get.toml": {5},  # an aobj page back from swap, with a read error
    "c-anonget.toml": {6},  # an anon page back from swap, with a read error
    "d-drop.toml": {19, 20},  # hibernate's uvmpd_drop of a clean file page
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("protocol", ["openbsd-pre", "seed"])
def test_the_program_reaches_its_hunks(name, protocol):
    prog = load_file(os.path.join(REACH, name))
    res = run_program(ProgramTask(protocol, prog, 0, 0, pct=1, random=1))
    assert res.found == []
    reached = {h.number for h in hunk_reach(res.switches, get_protocol(protocol)) if h.reached}
    assert CASES[name] <= reached
    assert len(HUNKS) == 26
