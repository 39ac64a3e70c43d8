"""Call sites and model stacks: where in the model a visible operation happened.

A *site* is (code object, instruction offset): cheap enough to take on every visible
operation, turned into a line only when printed.  Thin kernel wrappers (macros and inlines
such as `uvm_lock_pageq`) are marked `@inline` and looked through, so a site names the
kernel function that did the work.  A model stack lists the kernel functions on a CPU's
stack, outermost first, without the machine's own frames.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from uvmsim.machine import frames

# Functions that are thin wrappers in the kernel (macros or inlines such as uvm_lock_pageq) are
# skipped when a call site is attributed, so a site names the kernel function that did the work.
_inline_codes: set[int] = set()
"""ids of the code objects that call sites look through: the model's inline wrappers and every
function of the machine's own modules (`look_through`).  A code object's own hash walks its
bytecode, far too slow for a lookup on every visible operation; the functions live as long as
the process, so their ids are stable."""
# Modules whose frames are the tool, not the model: left out of model stacks.
_MACHINE_PREFIX = ("uvmsim.machine", "uvmsim.simulate", "uvmsim.check")


def inline(fn: Callable) -> Callable:
    """Mark `fn` as a wrapper that call sites look through (like a C macro or inline)."""
    _inline_codes.add(id(fn.__code__))
    return fn


def look_through(namespace: dict) -> None:
    """Make call sites look through the functions of a machine module (its `globals()`).

    Capture starts at the innermost Python frame (`sys._getframe(0)`) and walks out past
    every frame of the machine's own functions, to the first model frame.  A fixed depth
    would not do: compiled (Cython) functions have no Python frames, so the number of machine
    frames between the model and the capture depends on how the machine was built.  Walking
    gives the same site in both builds.
    """
    module = namespace["__name__"]
    for value in list(namespace.values()):
        fns = [value]
        if isinstance(value, type) and value.__module__ == module:
            fns = list(vars(value).values())
        for fn in fns:
            code = getattr(fn, "__code__", None)
            if code is not None and getattr(fn, "__module__", None) == module:
                _inline_codes.add(id(code))


def innermost_frame() -> Any:
    """The innermost Python frame, or None: a compiled machine running on a CPU's greenlet
    before any model code has a frame (e.g. a failure at its very start) has none."""
    try:
        return sys._getframe(0)
    except ValueError:
        return None


def call_site() -> tuple:
    """The site (code, instruction offset) of the model code that called into the machine.

    The instruction offset is cheap to take on every visible operation; it is turned into a
    line number only when a site is printed (`site_line`).
    """
    return frames.model_site(_inline_codes)


def frame_site(f: Any) -> tuple:
    """The site of frame `f`, looking through inline wrappers."""
    codes = _inline_codes
    fc = f.f_code  # read once per frame: a frame attribute is a lookup
    while id(fc) in codes:
        f = f.f_back
        fc = f.f_code
    return (fc, f.f_lasti)


def site_line(site: tuple) -> int:
    """The source line of a site."""
    code, lasti = site
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            return line
    return code.co_firstlineno


def format_site(site: tuple | None) -> str:
    """`function (file.py:line)` for a site recorded by `call_site`."""
    if site is None:
        return "?"
    code = site[0]
    return f"{code.co_name} ({os.path.basename(code.co_filename)}:{site_line(site)})"


def model_stack(frame: Any) -> tuple[str, ...]:
    """Kernel function names on a CPU's stack, outermost first, machine internals left out."""
    names: list[str] = []
    f = frame
    while f is not None:
        code = f.f_code
        if id(code) in _stack_roots:
            break
        module = f.f_globals.get("__name__", "")
        if (
            not module.startswith(_MACHINE_PREFIX)
            and id(code) not in _inline_codes
            and code.co_name != "<lambda>"
        ):
            names.append(code.co_name)
        f = f.f_back
    names.reverse()
    return tuple(names)


_stack_roots: set[int] = set()
"""ids of the code objects where a CPU's stack begins (the machine's CPU entry point)."""


def stack_root(fn: Callable) -> Callable:
    """Mark `fn` as the bottom of every CPU stack: model stacks stop there."""
    _stack_roots.add(id(fn.__code__))
    return fn


look_through(globals())
look_through(vars(frames))  # its pure-Python model_site walks out of its own frame
