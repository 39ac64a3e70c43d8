"""The model's site of a visible operation: the innermost frame that is not the machine's.

Every primitive (a mutex, a Shared field, an atomic, a kernel_work) asks, on every visible
operation, where in the model it was called from: the innermost Python frame whose code is
not in the set it is given (the machine's own functions and the model's inline wrappers,
`sites.look_through`), as (code object, instruction offset).

This is the pure-Python definition.  The compiled build reads the same frame fields through
the C API instead (frames.pxd: `PyEval_GetFrame`, `PyFrame_GetCode`, `PyFrame_GetBack`,
`PyFrame_GetLasti`, which the frame attributes `f_code`, `f_back` and `f_lasti` are built
on), without `sys._getframe`'s audit event and the attribute lookups; the sites are the same
(tests/test_compiled.py compares the outputs of both builds byte for byte).
"""

from __future__ import annotations

from sys import _getframe
from typing import Any


def model_site(codes: set[int]) -> tuple[Any, int]:
    """(code, instruction offset) of the innermost frame whose code's id is not in `codes`.

    This function's own frame is in `codes` (its module is looked through), so the walk
    starts at it as a compiled build starts at the innermost model frame.
    """
    f = _getframe(0)
    fc = f.f_code
    while id(fc) in codes:
        f = f.f_back
        fc = f.f_code
    return (fc, f.f_lasti)
