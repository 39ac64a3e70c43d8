"""`KASSERT` and `panic`: kernel assertions become structured Failures, never tracebacks.

The message follows the kernel's: ``panic: kernel diagnostic assertion "EXPR" failed: file
"FILE", line N`` with the model's file and line, so a developer can open the model beside the C.
"""

from __future__ import annotations

import os
import sys

from uvmsim.machine import core as _core
from uvmsim.machine import failure as fk
from uvmsim.machine import sites as _sites


def KASSERT(cond: object, expr: str = "") -> None:
    """Fail the execution with a KASSERT failure unless `cond` holds (DIAGNOSTIC kernels)."""
    if cond:
        return
    f = sys._getframe(0)
    codes = _sites._inline_codes
    while id(f.f_code) in codes:
        f = f.f_back
    site = (f.f_code, f.f_lasti)
    where = f'file "{os.path.basename(f.f_code.co_filename)}", line {_sites.site_line(site)}'
    text = expr or "?"
    _core.fail(
        fk.KASSERT_FAILED,
        f'panic: kernel diagnostic assertion "{text}" failed: {where} ({f.f_code.co_name})',
        [site],
    )


def panic(message: str) -> None:
    """`panic(9)`: stop the machine with `message`."""
    _core.fail(fk.PANIC, f"panic: {message}", [_sites.call_site()])


_sites.look_through(globals())  # call sites look through this module's frames
