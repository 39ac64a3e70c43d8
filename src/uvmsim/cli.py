"""The `uvmsim` command line.

Every command turns bad input into one line on stderr and exit status 2; a failure found by a
check is exit status 1; nothing found is 0.
"""

from __future__ import annotations

import sys

import click

from uvmsim import __version__
from uvmsim.machine.failure import InputError


class UvmsimGroup(click.Group):
    """A click group that reports `InputError` as one line and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"uvmsim: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=UvmsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="uvmsim")
def main() -> None:
    """Check and measure locking changes in OpenBSD's UVM page layer.

    uvmsim runs an executable model of sys/uvm under two engines: a checker that explores CPU
    interleavings and reports panics, races, recursion and lock-order reversals with a
    replayable counterexample, and a timed simulator that reports lockstat-style contention.
    """


@main.command()
def review() -> None:
    """Answer every concern of the pageqlock review thread with computed evidence.

    \b
    Example:
      uvmsim review
    """
    click.echo(
        "uvmsim review is not available yet: it needs the UVM model, the checker and the\n"
        "simulator (issues 3-5). The simulated multiprocessor is in place: see README.md."
    )


def _register() -> None:
    from uvmsim.cli_catalog import protocols_cmd, scenarios_cmd
    from uvmsim.cli_check import check_cmd, replay_cmd
    from uvmsim.cli_simulate import scale_cmd, simulate_cmd

    main.add_command(protocols_cmd)
    main.add_command(scenarios_cmd)
    main.add_command(check_cmd)
    main.add_command(replay_cmd)
    main.add_command(simulate_cmd)
    main.add_command(scale_cmd)


_register()

if __name__ == "__main__":
    main()
