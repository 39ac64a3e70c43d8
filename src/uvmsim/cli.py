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
@click.option(
    "--protocol",
    "-p",
    default="seed",
    show_default=True,
    metavar="NAME|FILE.py:NAME",
    help="The protocol under review.",
)
@click.option(
    "--baseline",
    "-b",
    default="openbsd-pre",
    show_default=True,
    help="What the measurements compare against.",
)
@click.option(
    "--thorough", is_flag=True, help="Exhaustive where feasible, longer campaigns and simulations."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (docs/review.md).")
@click.option(
    "--html",
    "html_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write a static HTML report into DIR.",
)
def review(
    protocol: str, baseline: str, thorough: bool, as_json: bool, html_dir: str | None
) -> None:
    """Answer every concern of the pageqlock review thread with computed evidence.

    One row per question R1-R9 of the thread (docs/review.md): a verdict (holds, FAILS,
    measured), the evidence (scenarios, executions, bounds, simulator figures), and a
    minimized counterexample with its replay token where something fails.  Failures of the
    reviewed protocol itself are printed first.

    \b
    Examples:
      uvmsim review
      uvmsim review --protocol seed-fixed
      uvmsim review --protocol examples/my_diff.py:SEED_MISSED_ANFREE --html out/review
    """
    import json
    import time

    from uvmsim.review.render import render_text, to_json, write_html
    from uvmsim.review.run import run_review

    tty = sys.stderr.isatty() and not as_json
    t0 = time.monotonic()

    def progress(text: str) -> None:
        if tty:
            sys.stderr.write(f"\r  [{time.monotonic() - t0:5.0f} s] {text[:90]:<90}")
            sys.stderr.flush()

    rv = run_review(protocol, baseline, thorough, progress)
    if tty:
        sys.stderr.write("\r" + " " * 110 + "\r")
    if html_dir:
        path = write_html(rv, html_dir)
        if not as_json:
            click.echo(f"HTML report: {path}")
    if as_json:
        click.echo(json.dumps(to_json(rv), indent=2))
    else:
        render_text(rv, timing=sys.stdout.isatty())


def _register() -> None:
    from uvmsim.cli_catalog import protocols_cmd, scenarios_cmd
    from uvmsim.cli_check import check_cmd, replay_cmd
    from uvmsim.cli_simulate import scale_cmd, simulate_cmd
    from uvmsim.cli_sweep import report_cmd, sweep_cmd

    main.add_command(protocols_cmd)
    main.add_command(scenarios_cmd)
    main.add_command(check_cmd)
    main.add_command(replay_cmd)
    main.add_command(simulate_cmd)
    main.add_command(scale_cmd)
    main.add_command(sweep_cmd)
    main.add_command(report_cmd)


_register()

if __name__ == "__main__":
    main()
