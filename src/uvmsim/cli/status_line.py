"""A one-line progress report on stderr, overwritten in place (`review`, `compare`)."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable


class StatusLine:
    """`progress(text)` rewrites one line of stderr with the elapsed seconds and `text`;
    `clear()` blanks it.  Silent unless stderr is a terminal (and `quiet` is off): a pipe or
    a JSON document gets nothing.  The line must fit the terminal, or every update would
    scroll a new one."""

    def __init__(self, quiet: bool = False):
        self.on = sys.stderr.isatty() and not quiet
        self.t0 = time.monotonic()
        self.width = shutil.get_terminal_size((100, 24)).columns - 12

    @property
    def progress(self) -> Callable[[str], None]:
        return self._write

    def _write(self, text: str) -> None:
        if self.on:
            w = self.width
            sys.stderr.write(f"\r  [{time.monotonic() - self.t0:5.0f} s] {text[:w]:<{w}}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.on:
            sys.stderr.write("\r" + " " * (self.width + 12) + "\r")
