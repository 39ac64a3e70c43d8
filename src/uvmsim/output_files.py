"""Writing user-visible files so that an error or an interrupt never leaves half of one.

Every file or report directory uvmsim writes is built under a temporary name next to its
destination and renamed into place, with the permissions the user's umask gives new files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any


def umask_mode(base: int = 0o666) -> int:
    """`base` with the process umask applied (what `open()` would have given)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def write_atomically(path: str, text: str) -> None:
    """Write `text` to `path` via a temporary file: nothing half-written on failure."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".uvmsim-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig: Any, path: str, dpi: int = 110) -> None:
    """Save a matplotlib figure to `path` (its suffix picks the format) atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def publish_directory(directory: str, fill: Callable[[str], Any], prefix: str) -> Any:
    """Call `fill(tmpdir)` on a fresh directory, then swap it in as `directory`.

    An existing `directory` is replaced only once the new one is complete.
    """
    parent = os.path.dirname(os.path.abspath(directory)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=prefix)
    try:
        result = fill(tmp)
        os.chmod(tmp, umask_mode(0o777))
        for name in os.listdir(tmp):
            os.chmod(os.path.join(tmp, name), umask_mode())
        if os.path.isdir(directory):
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result
