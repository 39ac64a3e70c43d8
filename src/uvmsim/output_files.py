"""Writing user-visible files so that an error or an interrupt never leaves half of one, and
never destroys anything uvmsim did not write.

Every file or report directory uvmsim writes is built under a temporary name next to its
destination and renamed into place, with the permissions the user's umask gives new files.
A report directory carries a marker file (`MARKER`); an existing directory is replaced only
when it carries that marker (uvmsim wrote it) or is empty, so `--html .` can never empty a
working directory.  Every output path is checked *before* the work that fills it starts
(`check_output_file`, `check_output_dir`), so a read-only location costs one line, not a
minute of computation.  Input files a user names are read by `read_input_text`, with the
same one-line refusals for every kind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from uvmsim.machine.failure import InputError

MARKER = ".uvmsim-report"


def umask_mode(base: int = 0o666) -> int:
    """`base` with the process umask applied (what `open()` would have given)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def probe_directory(directory: str, what: str) -> None:
    """Create and remove a temporary file in `directory`: the only test of writability that
    also holds for root, read-only mounts and full disks (os.access does not)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".uvmsim-probe-")
    except OSError as exc:
        raise InputError(
            f"{what}: cannot create files in {directory} ({exc.strerror or exc}); "
            "choose a writable location"
        ) from None
    os.close(fd)
    os.unlink(tmp)


def check_output_file(path: str, what: str) -> None:
    """Raise InputError now unless `path` can be written later (its directory exists and is
    writable, and it is not a directory).  `what` names the option, e.g. "--trace"."""
    if not path:
        raise InputError(f"{what}: the path is empty; give a file name")
    if os.path.isdir(path):
        raise InputError(f"{what} {path}: is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"{what} {path}: directory {parent} does not exist")
    probe_directory(parent, f"{what} {path}")


def _written_by_uvmsim(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, MARKER))


def check_output_dir(directory: str, what: str) -> None:
    """Raise InputError now unless a report can later be published as `directory`: it does
    not exist (its parent must then be writable, created if missing), or it is an empty
    directory, or a directory uvmsim wrote before (it carries `MARKER`)."""
    if not directory:
        raise InputError(f"{what}: the path is empty; give a new directory such as out/report")
    where = f"{what} {directory}"
    full = os.path.abspath(directory)
    cwd = os.getcwd()
    if full == cwd or cwd.startswith(full.rstrip(os.sep) + os.sep):
        raise InputError(f"{where}: is the current directory or holds it; choose a new directory")
    if os.path.lexists(full):
        if not os.path.isdir(full) or os.path.islink(full):
            raise InputError(f"{where}: exists and is not a directory; choose a new directory")
        if os.listdir(full) and not _written_by_uvmsim(full):
            raise InputError(
                f"{where}: {directory} exists and was not written by uvmsim; choose a new directory"
            )
    existing = os.path.dirname(full)
    while not os.path.isdir(existing):  # created on the way, inside the first existing one
        if os.path.lexists(existing):
            raise InputError(f"{where}: {existing} is not a directory")
        existing = os.path.dirname(existing)
    probe_directory(existing, where)


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
    """Call `fill(tmpdir)` on a fresh sibling directory, then rename it into place.

    The new directory carries `MARKER`.  An existing `directory` is replaced only if
    `check_output_dir` allows it (empty, or marked as uvmsim's), and only once the new one is
    complete: the old one is first renamed aside, then removed.  Anything else raises
    InputError and leaves the disk as it was.
    """
    check_output_dir(directory, "report directory")
    full = os.path.abspath(directory)
    parent = os.path.dirname(full)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=prefix)
    aside = None
    try:
        result = fill(tmp)
        with open(os.path.join(tmp, MARKER), "w") as fh:
            fh.write("written by uvmsim; uvmsim may replace this directory\n")
        os.chmod(tmp, umask_mode(0o777))
        for name in os.listdir(tmp):
            os.chmod(os.path.join(tmp, name), umask_mode())
        # Re-check just before the swap: the directory may have changed during `fill`.
        check_output_dir(directory, "report directory")
        if os.path.isdir(full):
            aside = tempfile.mkdtemp(dir=parent, prefix=prefix + "old-")
            os.rmdir(aside)
            os.rename(full, aside)
        os.rename(tmp, full)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None and not os.path.exists(full):
            with contextlib.suppress(OSError):
                os.rename(aside, full)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return result


def read_input_text(path: str, limit: int, what: str, error: type[InputError] = InputError) -> str:
    """The text of an input file the user names (a sweep spec, a scenario file), refusing
    with one line (`error`) a file that cannot be read, is larger than `limit` bytes (so a
    store or a binary given by mistake is never parsed) or is not UTF-8."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise error(f"{path}: larger than {limit:,} bytes: not a {what}")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file") from None
