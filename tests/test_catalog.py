"""`uvmsim protocols` / `uvmsim scenarios` at any width: names whole, user text literal."""

import json
import re

import pytest
from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.protocols import PROTOCOLS, SWITCHES
from uvmsim.scenarios import SCENARIOS

ODD_PROTOCOL = """
from uvmsim.protocols import PROTOCOLS

ODD = PROTOCOLS["seed"].variant("[/x]", "a description with [/F1] and [bold]markup[/bold]")
"""


def invoke(*args: str, columns: int = 80):
    # CliRunner's output is not a terminal: this is the piped case, at COLUMNS columns.
    return CliRunner().invoke(main, list(args), env={"COLUMNS": str(columns)})


def _no_cut(output: str) -> None:
    assert "…" not in output
    assert all(len(line) <= 80 for line in output.splitlines()), output


@pytest.mark.parametrize("columns", [80, 60, 40])
def test_protocols_never_cut_a_name(columns):
    r = invoke("protocols", columns=columns)
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    assert all(len(line) <= columns for line in r.output.splitlines()), r.output
    words = set(re.findall(r"[\w.-]+", r.output))
    for name in PROTOCOLS:
        assert name in words, name
    for switch in SWITCHES:
        assert switch.name in words, switch.name


def test_protocols_keep_the_matrix_while_it_fits():
    wide = invoke("protocols", columns=250).output
    assert re.search(r"switch +┃ hunks +┃ openbsd-pre ┃ seed ┃", wide)
    # ten protocols (linux-lruvec, issue 16): the numbered matrix needs about 95 columns
    narrow = invoke("protocols", columns=100).output
    assert re.search(r"┃ 1 ┃ 2 ┃", narrow)  # numbered columns, the names in the legend
    assert "1 = openbsd-pre: " in narrow


def test_hunks_and_scenarios_never_cut_a_name():
    r = invoke("protocols", "--hunks")
    assert r.exit_code == 0
    _no_cut(r.output)
    hunks = json.loads(invoke("protocols", "--hunks", "--json").output)["hunks"]
    for h in hunks:
        assert h["function"] in r.output and h["header"] in r.output
    r = invoke("scenarios")
    assert r.exit_code == 0
    _no_cut(r.output)
    for name in SCENARIOS:
        assert re.search(rf"^{re.escape(name)}$", r.output, re.M) or f" {name} " in r.output


@pytest.mark.parametrize("columns", [250, 80, 40])
def test_user_protocol_with_square_brackets_prints_literally(tmp_path, columns):
    path = tmp_path / "odd.py"
    path.write_text(ODD_PROTOCOL)
    r = invoke("protocols", "--protocol", f"{path}:ODD", columns=columns)
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert "a description with [/F1] and [bold]markup[/bold]" in r.output.replace("\n    ", " ")
    assert "[/x]" in r.output


def test_check_with_a_bracketed_protocol_prints_literally(tmp_path):
    path = tmp_path / "odd.py"
    path.write_text(ODD_PROTOCOL)
    r = invoke("check", "-p", f"{path}:ODD", "-s", "wired-counter", "--max-executions", "3")
    assert r.exit_code == 0, r.output
    assert "protocol [/x]" in r.output
