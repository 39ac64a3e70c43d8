"""`uvmsim compare`: protocols side by side, checker and kernel build (docs/compare.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import click

from uvmsim.cli.status import EXIT_FOUND
from uvmsim.cli.status_line import StatusLine
from uvmsim.machine.failure import InputError
from uvmsim.output_files import check_output_dir, check_output_file
from uvmsim.protocols import PROTOCOLS
from uvmsim.review.compare import (
    DEFAULT_CPUS,
    DEFAULT_PROTOCOLS,
    parse_cpus,
    parse_protocols,
    run_compare,
)
from uvmsim.review.compare_render import plot, render_text, to_json, write_html
from uvmsim.review.verdict import Bounds
from uvmsim.runs.names import get_protocol


def default_protocols() -> str:
    """The issue's five designs, those the model has (the others are named in the report)."""
    return ",".join(p for p in DEFAULT_PROTOCOLS if p in PROTOCOLS)


@click.command("compare")
@click.option(
    "--protocol",
    "-p",
    "protocols",
    default=None,
    metavar="NAME[,NAME...]",
    help=f"Protocols to compare [default: those of {', '.join(DEFAULT_PROTOCOLS)} modelled].",
)
@click.option(
    "--cpus",
    default=",".join(map(str, DEFAULT_CPUS)),
    show_default=True,
    help="CPU counts of the kernel build.",
)
@click.option("--baseline", "-b", default="openbsd-pre", show_default=True, help="Gains against.")
@click.option("--no-check", is_flag=True, help="Only the kernel build, no checker runs.")
@click.option(
    "--thorough", is_flag=True, help="Exhaustive DPOR, longer PCT, 3 seeds, a band at every count."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("--plot", "plot_path", default=None, help="Also write the plots to FILE.png.")
@click.option(
    "--html",
    "html_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write a static HTML report into DIR.",
)
def compare_cmd(
    protocols: str | None,
    cpus: str,
    baseline: str,
    no_check: bool,
    thorough: bool,
    as_json: bool,
    plot_path: str | None,
    html_dir: str | None,
) -> None:
    """Compare protocols: checker verdicts and the make kernel build at each CPU count.

    Per protocol: every scenario under DPOR and PCT, with a minimized counterexample and
    replay token for each distinct failure; and the make kernel build's pageqlock (LRU lock),
    fpageqlock and total spin, real time and throughput per CPU count, with the real-time
    gain over the baseline and its band over the unfitted parameters (as R8).  Exit status 1
    when a scenario's outcome contradicts what the catalog expects of that protocol.

    \b
    Examples:
      uvmsim compare
      uvmsim compare --protocol seed,openbsd-2026 --cpus 16,64 --no-check
      uvmsim compare --html out/compare --plot compare.png
    """
    names = parse_protocols(protocols or default_protocols())
    counts = parse_cpus(cpus)
    get_protocol(baseline)  # one-line InputError for an unknown baseline, before the work
    if html_dir is not None:
        check_output_dir(html_dir, "--html")
    if plot_path is not None:
        if not plot_path.endswith(".png"):
            raise InputError(f"--plot must name a FILE.png, got {plot_path!r}")
        check_output_file(plot_path, "--plot")
    bounds = replace(Bounds.thorough(), band_cpus=counts) if thorough else Bounds()
    status = StatusLine(quiet=as_json)
    cmp = run_compare(names, counts, baseline, bounds, status.progress, checks=not no_check)
    status.clear()
    missing = [p for p in DEFAULT_PROTOCOLS if p not in PROTOCOLS]
    if plot_path is not None:
        plot(cmp, plot_path)
    if html_dir is not None:
        write_html(cmp, html_dir)
    if as_json:
        doc = to_json(cmp)
        doc["not_modelled"] = missing if protocols is None else []
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(render_text(cmp, timing=sys.stdout.isatty()), nl=False)
        if protocols is None and missing:
            click.echo(f"not modelled yet (issue 16): {', '.join(missing)}")
    if any(pr.surprises for pr in cmp.protocols):
        sys.exit(EXIT_FOUND)
