"""Which modules have a compiled (Cython) build, and the switch back to pure Python.

The modules below are plain Python; `pip install` compiles them with Cython (pure-Python
mode: the `.py` is the one source) when Cython and a C compiler are there, leaving one
extension module beside each `.py`.  Compiled or not, every output is byte for byte the same
(`tests/test_compiled.py`).  Python prefers an extension module to the `.py` beside it, so
this finder, installed by `uvmsim/__init__.py` before any of them is imported, loads the
`.py` of every one of them instead (all or none: they use each other's C types) when

- `UVMSIM_PURE` is set (to anything but "" or "0"): pure Python on demand, or
- an extension module is missing (it did not compile), or older than its `.py` or the
  `.pxd` beside it: an edit since the last `pip install -e .` is never silently shadowed
  by a stale build (`make` re-installs when these sources change).

`UVMSIM_PURE=1 pip install -e .` builds nothing.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import Any

COMPILED = (
    "uvmsim.machine.core",
    "uvmsim.machine.shared",
    "uvmsim.machine.mutex",
    "uvmsim.machine.atomic",
    "uvmsim.machine.races",
    "uvmsim.machine.engines",
    "uvmsim.machine.witness",
    "uvmsim.machine.rwlock",
    "uvmsim.machine.sleepq",
    "uvmsim.machine.sites",
    "uvmsim.machine.spl",
    "uvmsim.machine.kassert",
    "uvmsim.simulate.engine",
    "uvmsim.simulate.clockheap",
    "uvmsim.simulate.spin",
    "uvmsim.simulate.stats",
    "uvmsim.check.strategies.dpor",
    "uvmsim.check.strategies.races",
    "uvmsim.check.ops",
)
"""The modules `setup.py` compiles (a `.pxd` beside a `.py` declares its C types)."""

_NAMES = frozenset(COMPILED)

INLINED = ("uvmsim.machine.frames",)
"""Modules with no build of their own: their `.pxd` holds inline C functions that the
compiled modules cimport (their `.py` is the pure-Python definition), so an edit to one
makes every build stale."""


def pure_requested() -> bool:
    """Whether `UVMSIM_PURE` asks for pure Python."""
    return os.environ.get("UVMSIM_PURE", "") not in ("", "0")


def _extension(directory: str, leaf: str) -> str | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(directory, leaf + suffix)
        if os.path.exists(path):
            return path
    return None


def _source_mtime(source: str) -> float:
    """When the `.py` or the `.pxd` beside it (its C declarations), or an inlined module's
    `.pxd` (`INLINED`), last changed."""
    pxds = [source[:-3] + ".pxd"] + [
        os.path.join(_source_dir(name), name.rpartition(".")[2] + ".pxd") for name in INLINED
    ]
    return max(
        [os.stat(source).st_mtime] + [os.stat(p).st_mtime for p in pxds if os.path.exists(p)]
    )


def _stale(ext: str, source: str) -> bool:
    """Whether `ext` was built before `source` last changed.  Only in a source tree: an
    installed copy (site-packages) is never edited in place, and unpacking a wheel gives its
    files the time they were written, in no particular order."""
    if any(part in ("site-packages", "dist-packages") for part in ext.split(os.sep)):
        return False
    return os.stat(ext).st_mtime < _source_mtime(source)


_use_compiled: bool | None = None


def use_compiled() -> bool:
    """Whether this process loads the compiled modules: all of them or none, because they
    use each other's C types (a `.pxd` cimports another's).  None when pure Python is asked
    for, or when any of them is missing (it did not compile) or stale."""
    global _use_compiled
    if _use_compiled is None:
        _use_compiled = not pure_requested() and all(
            extension_of(name) is not None and not is_stale(name) for name in COMPILED
        )
    return _use_compiled


class PureFallback:
    """A meta path finder: the `.py` of a compiled module when pure Python is asked for or
    its build is stale; otherwise it stays out of the way (None: the usual finders)."""

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in _NAMES:
            return None
        if use_compiled():
            return None
        leaf = name.rpartition(".")[2]
        for directory in path or ():
            source = os.path.join(directory, leaf + ".py")
            if os.path.exists(source):
                return importlib.util.spec_from_file_location(name, source)
        return None


def _source_dir(name: str) -> str:
    """The directory of the package `name` lives in (without importing `name`)."""
    here = os.path.dirname(os.path.abspath(__file__))  # src/uvmsim
    parts = name.split(".")[1:-1]
    return os.path.join(here, *parts)


def extension_of(name: str) -> str | None:
    """The extension module built for `name`, if any (fresh or stale)."""
    return _extension(_source_dir(name), name.rpartition(".")[2])


def is_stale(name: str) -> bool:
    """Whether `name`'s extension module is older than its `.py` (then the `.py` is used)."""
    ext = extension_of(name)
    source = os.path.join(_source_dir(name), name.rpartition(".")[2] + ".py")
    return ext is not None and _stale(ext, source)


def install() -> None:
    """Put the finder first on `sys.meta_path` (once)."""
    if PureFallback not in sys.meta_path:
        sys.meta_path.insert(0, PureFallback)  # type: ignore[arg-type]


def status() -> dict[str, str]:
    """Per compiled module: "compiled", "pure" or "not imported" (in this process)."""
    out = {}
    for name in COMPILED:
        mod = sys.modules.get(name)
        if mod is None:
            out[name] = "not imported"
        else:
            out[name] = "pure" if mod.__file__.endswith(".py") else "compiled"
    return out
