"""`uvmsim review`: every question of the seed thread, answered (docs/review.md)."""

from __future__ import annotations

import json
import sys

import click

from uvmsim.cli.status import EXIT_FOUND
from uvmsim.cli.status_line import StatusLine
from uvmsim.output_files import check_output_dir
from uvmsim.review.render import render_text, to_json, write_html
from uvmsim.review.run import run_review


@click.command()
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

    One row per question R1-R9 of the thread (docs/review.md): a verdict (holds, FAILS, UNPROVEN,
    measured), the evidence (scenarios, executions, bounds, simulator figures), and a
    minimized counterexample with its replay token where something fails.  Failures of the
    reviewed protocol itself are printed first.  Exit status 1 when any verdict FAILS or is
    UNPROVEN (a result, as for `check`), 0 otherwise.

    \b
    Examples:
      uvmsim review
      uvmsim review --protocol seed-fixed
      uvmsim review --protocol examples/my_diff.py:SEED_MISSED_ANFREE --html out/review
    """
    if html_dir is not None:
        check_output_dir(html_dir, "--html")  # before a minute of work, not after
    status = StatusLine(quiet=as_json)
    rv = run_review(protocol, baseline, thorough, status.progress)
    status.clear()
    if html_dir:
        path = write_html(rv, html_dir)
        if not as_json:
            click.echo(f"HTML report: {path}")
    if as_json:
        click.echo(json.dumps(to_json(rv), indent=2))
    else:
        render_text(rv, timing=sys.stdout.isatty())
    sys.exit(EXIT_FOUND if any(v.verdict in ("fails", "unproven") for v in rv.verdicts) else 0)
