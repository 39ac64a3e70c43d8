"""The one way uvmsim makes a rich Console.

Rich exits with status 1 when the reader of a pipe goes away (`uvmsim report S | head`),
which would read as "failure found" for `check`.  Our consoles raise BrokenPipeError instead,
and the command line ends such a run quietly with status 141 (128 + SIGPIPE, what a shell
reports for a program killed by the signal).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console


class UvmsimConsole(Console):
    """A rich Console whose broken pipe is an exception the command line maps to 141."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def console(**kwargs: Any) -> Console:
    """`rich.console.Console(**kwargs)`, with uvmsim's broken-pipe behaviour."""
    return UvmsimConsole(**kwargs)
