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
import signal
import sys
import traceback
from typing import Any

import click

from uvmsim import __version__
from uvmsim.cli.status import EXIT_BROKEN_PIPE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPT
from uvmsim.machine.failure import InputError


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


# The commands register themselves on `main` when their modules are imported, below the group.
from uvmsim.cli import catalog, check, compare, fuzz, review, simulate, sweep  # noqa: E402

for command in (
    review.review,
    compare.compare_cmd,
    catalog.protocols_cmd,
    catalog.scenarios_cmd,
    check.check_cmd,
    check.replay_cmd,
    fuzz.fuzz_cmd,
    simulate.simulate_cmd,
    simulate.scale_cmd,
    sweep.sweep_cmd,
    sweep.report_cmd,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
