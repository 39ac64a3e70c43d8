"""The result store: recognised by its own marks, refused when foreign, damaged or of another
version, and never holding a run twice."""

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from uvmsim import __version__
from uvmsim.machine.failure import InputError
from uvmsim.sweep import store as store_mod
from uvmsim.sweep.spec import parse_spec
from uvmsim.sweep.store import Store

from .conftest import SMALL, hold_write_lock


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _row(run):
    return {
        "metrics": {"x": run.seed},
        "failure_kind": None,
        "failure": None,
        "token": None,
        "uvmsim_version": "test",
        "elapsed": 0.1,
    }


def test_new_store_has_its_marks_and_schema(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store.open(str(path)) as s:
        assert s.meta()["format"] == "uvmsim-sweep-store"
        assert s.con.execute("PRAGMA application_id").fetchone()[0] == store_mod.APPLICATION_ID
        cols = [r[1] for r in s.con.execute("PRAGMA table_info(runs)")]
    assert cols[:3] == ["run_key", "kind", "protocol"]
    assert {"params", "metrics", "failure", "token", "uvmsim_version", "protocol_digest"} <= set(
        cols
    )


def test_a_run_is_stored_once(tmp_path):
    run = parse_spec(SMALL).runs[0]
    with Store.open(str(tmp_path / "s.sqlite")) as s:
        assert s.record(run, _row(run), "t") is True
        assert s.record(run, _row(run), "t") is False
        assert s.finished_keys() == {run.key}
        (row,) = list(s.rows())
    assert row["metrics"] == {"x": run.seed}
    assert row["params"] == run.param


def test_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"")
    Store.open(str(path)).close()
    assert Store.check(str(path)) is True


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("run,metrics\n1,2\n"), "not an SQLite database"),
        (lambda p: _foreign(p), "an SQLite database of another tool"),
    ],
)
def test_foreign_files_are_refused_untouched(tmp_path, make, message):
    path = tmp_path / "s.sqlite"
    make(path)
    before = _digest(path)
    with pytest.raises(InputError, match=message):
        Store.open(str(path))
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]


def _foreign(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id INTEGER)")
    con.commit()
    con.close()


def test_a_damaged_store_is_refused_untouched(tmp_path):
    path = tmp_path / "s.sqlite"
    spec = parse_spec(SMALL)
    with Store.open(str(path)) as s:
        for run in spec.runs:
            s.record(run, _row(run), "t")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 2 * page
    data[page + 8 : 2 * page] = b"\xa5" * (page - 8)  # garble the second page
    path.write_bytes(bytes(data))
    before = _digest(path)
    with pytest.raises(InputError, match="damaged"):
        Store.open(str(path))
    assert _digest(path) == before


def test_a_store_of_another_version_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    Store.open(str(path)).close()
    monkeypatch.setattr(store_mod, "__version__", "9.9.9")
    expected = (
        f"written by uvmsim {re.escape(__version__)}, this is uvmsim 9.9.9; results of two "
        "versions are not mixed in one store: give this sweep a new --store"
    )
    with pytest.raises(InputError, match=expected):
        Store.open(str(path))


def test_reading_a_missing_store_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        Store.open_readonly(str(tmp_path / "none.sqlite"))
    assert not (tmp_path / "none.sqlite").exists()


# -- WAL, locks, paths -----------------------------------------------------------------------


def test_a_store_is_in_wal_mode_and_leaves_no_side_files(tmp_path):
    path = tmp_path / "s.sqlite"
    run = parse_spec(SMALL).runs[0]
    with Store.open(str(path)) as s:
        assert s.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        s.record(run, _row(run), "t")
    with Store.open_readonly(str(path)) as s:
        assert [r["run_key"] for r in s.rows()] == [run.key]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]


@pytest.mark.parametrize("path", ["", ":memory:"])
def test_an_empty_path_is_refused_and_memory_is_a_file_name(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    if not path:
        with pytest.raises(InputError, match="--store: the path is empty; give a file such as"):
            Store.open(path)
        with pytest.raises(InputError, match="store: the path is empty"):
            Store.open_readonly(path)
    else:  # not SQLite's in-memory database: a file of that name, which persists
        Store.open(path).close()
        assert Store.check(path) is True


def test_a_store_being_written_is_reported_locked_not_damaged(tmp_path, quick_locks):
    path = tmp_path / "s.sqlite"
    Store.open(str(path)).close()
    holder = hold_write_lock(path)
    try:
        assert Store.check(str(path)) is True  # WAL: the check reads alongside the writer
        with pytest.raises(InputError, match="locked by another process") as exc:
            Store.open(str(path))
        assert "damaged" not in str(exc.value)
        assert str(exc.value).startswith(f"store {path}: locked by another process for more")
    finally:
        holder.close()
    Store.open(str(path)).close()


def test_a_rollback_journal_store_locked_exclusively_is_locked_not_damaged(tmp_path, quick_locks):
    """A store of a file system without WAL (or an old one): readers wait for the writer."""
    path = tmp_path / "s.sqlite"
    Store.open(str(path)).close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("BEGIN EXCLUSIVE")
    try:
        for attempt in (Store.check, Store.open_readonly):
            with pytest.raises(InputError, match="locked by another process") as exc:
                attempt(str(path))
            assert "damaged" not in str(exc.value)
    finally:
        con.close()
    with Store.open_readonly(str(path)) as s:
        assert s.meta()["format"] == "uvmsim-sweep-store"


def test_record_waits_out_a_brief_lock(tmp_path):
    path = tmp_path / "s.sqlite"
    run = parse_spec(SMALL).runs[0]
    with Store.open(str(path)) as s:
        holder = hold_write_lock(path)
        release = threading.Timer(0.3, holder.close)
        release.start()
        t0 = time.monotonic()
        assert s.record(run, _row(run), "t") is True
        assert time.monotonic() - t0 >= 0.2
        release.join()
        assert s.finished_keys() == {run.key}


def test_record_gives_up_on_a_long_lock_with_one_line(tmp_path, quick_locks):
    path = tmp_path / "s.sqlite"
    run = parse_spec(SMALL).runs[0]
    with Store.open(str(path)) as s:
        holder = hold_write_lock(path)
        try:
            with pytest.raises(InputError, match="locked by another process"):
                s.record(run, _row(run), "t")
        finally:
            holder.close()
        assert not s.con.in_transaction
        assert s.record(run, _row(run), "t") is True


def test_an_unwritable_store_is_refused_before_anything(readonly_dir):
    new = os.path.join(readonly_dir, "s.sqlite")
    with pytest.raises(InputError, match=r"cannot create files in .*; choose a writable location"):
        Store.check(new)
    assert not os.path.exists(new)


# -- stores of other versions ----------------------------------------------------------------


def _set_meta(path, **values) -> None:
    con = sqlite3.connect(path)
    with con:
        for key, value in values.items():
            con.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
            if key == "uvmsim_version":
                con.execute("UPDATE runs SET uvmsim_version = ?", (value,))
    con.close()


def test_a_store_of_an_older_version_is_read(tmp_path):
    path = tmp_path / "s.sqlite"
    spec = parse_spec(SMALL)
    with Store.open(str(path)) as s:
        for run in spec.runs:
            s.record(run, _row(run), "t")
    _set_meta(path, uvmsim_version="0.0.1")
    with Store.open_readonly(str(path)) as s:
        assert s.meta()["uvmsim_version"] == "0.0.1"
        assert len(list(s.rows())) == len(spec.runs)
    with pytest.raises(
        InputError, match=r"written by uvmsim 0\.0\.1, this is uvmsim .*new --store"
    ):
        Store.open(str(path))


def test_a_store_of_a_newer_schema_is_refused_naming_both_versions(tmp_path):
    path = tmp_path / "s.sqlite"
    Store.open(str(path)).close()
    _set_meta(path, uvmsim_version="9.0.0", schema_version="2")
    expected = (
        f"store {path}: written by uvmsim 9.0.0 with store schema version 2; this is uvmsim "
        f"{__version__}, which reads schema versions up to 1: upgrade uvmsim to read it"
    )
    for attempt in (Store.open_readonly, Store.open):
        with pytest.raises(InputError) as exc:
            attempt(str(path))
        assert str(exc.value) == expected


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_a_wal_store_in_a_read_only_directory_is_read(tmp_path):
    """Nobody can write there, so the store is read as immutable (no -shm file needed)."""
    spec = parse_spec(SMALL)
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        path = d / "s.sqlite"
        with Store.open(str(path)) as s:
            for run in spec.runs:
                s.record(run, _row(run), "t")
        d.chmod(0o555)
        try:
            with Store.open_readonly(str(path)) as s:
                assert len(list(s.rows())) == len(spec.runs)
        finally:
            d.chmod(0o755)
        return
    # root reads anything: read as another user, from a directory only root may write
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv")
    d = tempfile.mkdtemp(prefix="uvmsim-ro-")
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "s.sqlite")
        with Store.open(path) as s:
            for run in spec.runs:
                s.record(run, _row(run), "t")
        os.chmod(path, 0o644)
        code = (
            "from uvmsim.sweep.store import Store\n"
            f"with Store.open_readonly({path!r}) as s:\n"
            "    print(len(list(s.rows())))\n"
        )
        r = subprocess.run(
            [*AS_NOBODY, sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=d,
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == str(len(spec.runs))
        assert os.listdir(d) == ["s.sqlite"]
    finally:
        shutil.rmtree(d)
