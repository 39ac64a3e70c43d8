"""The one way uvmsim makes a rich Console, and tables that never cut a word.

Rich exits with status 1 when the reader of a pipe goes away (`uvmsim report S | head`),
which would read as "failure found" for `check`.  Our consoles raise BrokenPipeError instead,
and the command line ends such a run quietly with status 141 (128 + SIGPIPE, what a shell
reports for a program killed by the signal).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


class UvmsimConsole(Console):
    """A rich Console whose broken pipe is an exception the command line maps to 141."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def console(**kwargs: Any) -> Console:
    """`rich.console.Console(**kwargs)`, with uvmsim's broken-pipe behaviour."""
    return UvmsimConsole(**kwargs)


def table_fits(con: Console, table: Table) -> bool:
    """Whether `table` can be drawn at the console's width with every word whole; if so,
    size its columns so that it is.

    rich shrinks a table that is too wide by narrowing its widest columns first, without
    regard to their words, and cuts them with an ellipsis (or, given minimum widths, overflows
    the console).  So when the table fits only with some columns wrapped, each column gets its
    longest word (header included) plus a share of the room left, in proportion to how much
    more its longest line needs.
    """
    lows, highs = [], []
    for column in table.columns:
        texts = [column.header, *column.cells]
        plain = [Text.from_markup(t).plain if isinstance(t, str) else "" for t in texts]
        lows.append(max((len(w) for t in plain for w in t.split()), default=1))
        highs.append(max((len(line) for t in plain for line in t.splitlines()), default=1))
    overhead = Measurement.get(con, con.options.update_width(100_000), table).minimum
    overhead -= sum(max(lo, c.min_width or 0) for lo, c in zip(lows, table.columns, strict=True))
    room = con.width - overhead
    if sum(lows) > room:
        return False
    if sum(highs) <= room:
        return True
    spare = room - sum(lows)
    wants = [hi - lo for lo, hi in zip(lows, highs, strict=True)]
    shares = [spare * w // sum(wants) for w in wants]
    for column, lo, share in zip(table.columns, lows, shares, strict=True):
        column.width = lo + share
    return True
