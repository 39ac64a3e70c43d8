"""Exit statuses and failure modes common to every command (src/uvmsim/cli.py docstring):
0 clean, 1 failure found, 2 bad input, 3 internal error, 130 interrupted; never a traceback."""

import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from tests.conftest import default_sigint, tree_of
from uvmsim.cli import main


def test_review_html_dot_leaves_a_working_directory_untouched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaign.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x01" * 100)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    before = tree_of(tmp_path)
    t0 = time.monotonic()
    r = CliRunner().invoke(main, ["review", "--html", "."])
    assert time.monotonic() - t0 < 1.0  # refused before any work
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "--html" in r.output
    assert tree_of(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == ["campaign.sqlite", "notes"]


def test_review_with_an_unwritable_html_path_fails_before_any_work():
    t0 = time.monotonic()
    r = CliRunner().invoke(main, ["review", "--html", "/proc/uvmsim-report"])
    assert time.monotonic() - t0 < 1.0
    assert r.exit_code == 2
    assert r.output.startswith(
        "uvmsim: error: --html /proc/uvmsim-report: cannot create files in /proc"
    )


def test_review_exits_one_when_a_verdict_fails(monkeypatch, small_review):
    import uvmsim.cli.review as cli_review

    # The session's small review (its R2 and R9 fail on seed) stands in for the full one the
    # command would run; the command holds its own reference to run_review.
    monkeypatch.setattr(cli_review, "run_review", lambda *a, **k: small_review)
    r = CliRunner().invoke(main, ["review"])
    assert r.exit_code == 1, r.output
    assert "FAILS" in r.output


def test_an_internal_error_is_one_line_and_exit_three(monkeypatch):
    import uvmsim.cli.check as cli_check

    def broken(*a, **k):
        raise RuntimeError("the engine fell over")

    monkeypatch.setattr(cli_check, "run_check", broken)
    r = CliRunner().invoke(main, ["check", "-p", "seed", "-s", "flush-vs-fault"])
    assert r.exit_code == 3
    lines = r.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("uvmsim: internal error: RuntimeError: the engine fell over at ")
    assert "Traceback" not in r.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_exits_130_without_aborted_or_traceback(sig):
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvmsim.cli",
            "check",
            "-p",
            "seed-fixed",
            "-s",
            "pageclean-race",
            "--strategy",
            "random",
            "--max-executions",
            "1000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    time.sleep(3)
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    assert p.returncode == 130, (out, err)
    assert "Aborted!" not in out + err and "Traceback" not in out + err
    assert err.strip() == "uvmsim: interrupted"


def test_a_reader_that_goes_away_is_exit_141_and_silent():
    # `uvmsim scenarios | head -0`: the reader is gone before the first write (the read end
    # is closed while the interpreter is still starting)
    p = subprocess.Popen(
        [sys.executable, "-m", "uvmsim.cli", "scenarios"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=60) == 141
    assert err == b""
