"""The command line's first screen: --help, --version, review, and input errors."""

import itertools
import shlex
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from uvmsim import __version__
from uvmsim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_help_and_version():
    runner = CliRunner()
    r = runner.invoke(main, ["--help"])
    assert r.exit_code == 0
    assert "Check and measure locking changes" in r.output
    r = runner.invoke(main, ["--version"])
    assert r.exit_code == 0
    assert r.output.strip() == f"uvmsim, version {__version__}"


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "uvmsim.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert __version__ in out.stdout


def _help_texts() -> dict[str, str]:
    """`uvmsim [group ...] command --help` for every command, keyed by its path."""
    texts: dict[str, str] = {}

    def walk(cmd: click.Command, path: list[str]) -> None:
        r = CliRunner().invoke(main, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        texts[" ".join(path) or "uvmsim"] = r.output
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(main, [])
    return texts


def test_every_name_in_a_help_example_exists(monkeypatch):
    """Each example in --help names real protocols, scenarios and workloads.

    `protocols --help` once named SEED_ATOMIC_QUEUES, which examples/my_diff.py never defined.
    """
    from uvmsim.runs.names import get_protocol
    from uvmsim.scenarios import SCENARIOS
    from uvmsim.workloads import WORKLOADS

    monkeypatch.chdir(ROOT)  # examples/my_diff.py is named relative to a checkout
    seen = {"protocol": 0, "scenario": 0, "workload": 0}
    for where, text in _help_texts().items():
        for line in text.splitlines():
            if not line.strip().startswith("uvmsim "):
                continue
            args = shlex.split(line)
            for flag, value in itertools.pairwise(args):
                if flag in ("-p", "--protocol", "-b", "--baseline"):
                    for spec in value.split(","):
                        get_protocol(spec)  # raises InputError for a name that does not exist
                        seen["protocol"] += 1
                elif flag in ("-s", "--scenario"):
                    assert value in SCENARIOS or value.endswith(".toml"), (where, line)
                    seen["scenario"] += 1
                elif flag in ("-w", "--workload"):
                    assert value in WORKLOADS, (where, line)
                    seen["workload"] += 1
    assert all(seen.values()), seen  # the examples were found and checked
