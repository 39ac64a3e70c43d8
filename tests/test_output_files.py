"""Output paths: nothing uvmsim did not write is ever replaced, and bad paths fail up front."""

import os
import time

import pytest

from tests.conftest import tree_of
from uvmsim.machine.failure import InputError
from uvmsim.output_files import (
    MARKER,
    check_output_dir,
    check_output_file,
    publish_directory,
)


def _fill(tmp: str) -> str:
    with open(os.path.join(tmp, "index.html"), "w") as fh:
        fh.write("<html></html>")
    return os.path.join(tmp, "index.html")


def test_a_directory_uvmsim_did_not_write_is_never_replaced(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "results.sqlite").write_bytes(b"precious")
    before = tree_of(tmp_path)
    with pytest.raises(InputError, match="not written by uvmsim"):
        publish_directory(str(user), _fill, ".t-")
    assert tree_of(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == ["mine"]  # no temporary left behind


def test_the_current_directory_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "store.sqlite").write_bytes(b"x")
    with pytest.raises(InputError, match="current directory"):
        check_output_dir(".", "--html")
    with pytest.raises(InputError, match="current directory"):
        check_output_dir(str(tmp_path.parent), "--html")


def test_a_report_directory_replaces_its_own_earlier_version(tmp_path):
    out = tmp_path / "report"
    publish_directory(str(out), _fill, ".t-")
    assert (out / MARKER).is_file() and (out / "index.html").is_file()
    (out / "stale.txt").write_text("from the first run")
    publish_directory(str(out), _fill, ".t-")
    assert not (out / "stale.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["report"]


def test_an_empty_directory_may_receive_a_report(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    publish_directory(str(out), _fill, ".t-")
    assert (out / "index.html").is_file()


def test_a_failing_fill_leaves_the_old_report_in_place(tmp_path):
    out = tmp_path / "report"
    publish_directory(str(out), _fill, ".t-")

    def broken(tmp: str) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        publish_directory(str(out), broken, ".t-")
    assert (out / "index.html").is_file()
    assert sorted(os.listdir(tmp_path)) == ["report"]


def test_unwritable_locations_fail_at_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    t0 = time.monotonic()
    with pytest.raises(InputError, match=r"--trace .*: directory .* does not exist"):
        check_output_file(str(tmp_path / "no" / "trace.json"), "--trace")
    with pytest.raises(InputError, match=r"--html .*: .* is not a directory"):
        check_output_dir(str(blocker / "report"), "--html")
    with pytest.raises(InputError, match="is a directory"):
        check_output_file(str(tmp_path), "--folded")
    with pytest.raises(InputError, match="cannot create files in /proc"):
        check_output_file("/proc/uvmsim-trace.json", "--trace")
    with pytest.raises(InputError, match="the path is empty"):
        check_output_file("", "--plot")
    assert time.monotonic() - t0 < 1.0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_fails_at_once(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(InputError, match="cannot create files in"):
            check_output_file(str(ro / "x.json"), "--trace")
        with pytest.raises(InputError, match="cannot create files in"):
            check_output_dir(str(ro / "report"), "--html")
    finally:
        ro.chmod(0o700)
