"""The `uvmsim` command line.

Exit statuses, for every command: 0 nothing found (or the work done); 1 a check, replay or
review found a failure (a failing verdict is a result); 2 bad input (one line on stderr naming
the option or field and what it accepts); 3 an internal error (one line; UVMSIM_DEBUG=1 adds
the traceback); 130 interrupted (Ctrl-C or SIGTERM); 141 the reader of a pipe went away
(`| head`).  No command prints a Python traceback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import traceback
from typing import Any

import click

from uvmsim import __version__
from uvmsim.machine.failure import InputError

EXIT_FOUND = 1  # a check or review found a failure: a result, not an error
EXIT_INPUT = 2  # the user's input (options, files, tokens, specs) is wrong
EXIT_INTERNAL = 3  # uvmsim itself failed
EXIT_INTERRUPT = 130  # Ctrl-C or SIGTERM, as a shell reports SIGINT
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (`| head`), as a shell reports SIGPIPE


def _internal_error(exc: BaseException) -> None:
    """One line for an unexpected exception; the traceback only with UVMSIM_DEBUG=1."""
    if os.environ.get("UVMSIM_DEBUG"):
        traceback.print_exception(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {os.path.basename(where.filename)}:{where.lineno}" if where else ""
    text = str(exc).splitlines()[0] if str(exc) else ""
    click.echo(
        f"uvmsim: internal error: {type(exc).__name__}{': ' + text if text else ''}{at} "
        "(please report it; UVMSIM_DEBUG=1 shows the traceback)",
        err=True,
    )


class UvmsimGroup(click.Group):
    """A click group with uvmsim's exit statuses (module docstring) and no tracebacks.

    click's standalone mode prints "Aborted!" and exits 1 on Ctrl-C, which would read as
    "failure found" for `check`; every outcome is mapped here instead.
    """

    def invoke(self, ctx: click.Context) -> Any:
        # click turns a broken pipe into a silent exit 1 ("failure found" for check); carry
        # it past click as an exception of our own instead.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _ReaderGone from None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        previous = signal.getsignal(signal.SIGTERM)
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _sigterm)
        try:
            rv = super().main(*args, **kwargs)
        except InputError as exc:
            click.echo(f"uvmsim: error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        except click.exceptions.UsageError as exc:
            exc.show()
            sys.exit(EXIT_INPUT)
        except click.exceptions.ClickException as exc:
            exc.show()
            sys.exit(EXIT_INPUT)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("uvmsim: interrupted", err=True)
            sys.exit(EXIT_INTERRUPT)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except _ReaderGone:
            # `uvmsim ... | head`: the reader left.  Say nothing, keep the interpreter from
            # complaining when it flushes stdout at exit, and exit as SIGPIPE would.
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except SystemExit:
            raise
        except Exception as exc:
            _internal_error(exc)
            sys.exit(EXIT_INTERNAL)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)


class _ReaderGone(Exception):
    """The reader of stdout went away (a broken pipe), past click's own handling of it."""


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


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
    reviewed protocol itself are printed first.  Exit status 1 when any verdict FAILS (a
    result, as for `check`), 0 otherwise.

    \b
    Examples:
      uvmsim review
      uvmsim review --protocol seed-fixed
      uvmsim review --protocol examples/my_diff.py:SEED_MISSED_ANFREE --html out/review
    """
    import json
    import time

    from uvmsim.output_files import check_output_dir
    from uvmsim.review.render import render_text, to_json, write_html
    from uvmsim.review.run import run_review

    if html_dir is not None:
        check_output_dir(html_dir, "--html")  # before a minute of work, not after
    tty = sys.stderr.isatty() and not as_json
    t0 = time.monotonic()

    # A status line overwritten in place: it must fit the terminal's width, or every update
    # would scroll a new line.
    width = shutil.get_terminal_size((100, 24)).columns - 12

    def progress(text: str) -> None:
        if tty:
            sys.stderr.write(f"\r  [{time.monotonic() - t0:5.0f} s] {text[:width]:<{width}}")
            sys.stderr.flush()

    rv = run_review(protocol, baseline, thorough, progress)
    if tty:
        sys.stderr.write("\r" + " " * (width + 12) + "\r")
    if html_dir:
        path = write_html(rv, html_dir)
        if not as_json:
            click.echo(f"HTML report: {path}")
    if as_json:
        click.echo(json.dumps(to_json(rv), indent=2))
    else:
        render_text(rv, timing=sys.stdout.isatty())
    sys.exit(EXIT_FOUND if any(v.verdict == "fails" for v in rv.verdicts) else 0)


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
