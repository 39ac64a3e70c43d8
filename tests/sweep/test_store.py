"""The result store: recognised by its own marks, refused when foreign, damaged or of another
version, and never holding a run twice."""

import hashlib
import re
import sqlite3

import pytest

from uvmsim import __version__
from uvmsim.machine.failure import InputError
from uvmsim.sweep import store as store_mod
from uvmsim.sweep.spec import parse_spec
from uvmsim.sweep.store import Store

from .conftest import SMALL


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
    expected = f"written by uvmsim {re.escape(__version__)}, this is uvmsim 9.9.9"
    with pytest.raises(InputError, match=expected):
        Store.open(str(path))


def test_reading_a_missing_store_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        Store.open_readonly(str(tmp_path / "none.sqlite"))
    assert not (tmp_path / "none.sqlite").exists()
