"""The command line's first screen: --help, --version, review, and input errors."""

import subprocess
import sys

from click.testing import CliRunner

from uvmsim import __version__
from uvmsim.cli import main


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
