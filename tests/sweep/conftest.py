"""A small sweep of both kinds, quick enough for CI, and helpers to read a store back."""

import os
import sqlite3
import tempfile

import pytest

SMALL = """
name = "small"

[[simulate]]
protocols = ["openbsd-pre", "seed"]
workloads = ["build"]
cpus = [2, 4]
seeds = "0..1"
ops = 150

[[explore]]
protocols = ["seed"]
scenarios = ["pageclean-race", "wired-counter"]
strategies = ["random", "pct"]
seeds = "0..39"
per_run = 20

[[explore]]
protocols = ["openbsd-pre"]
scenarios = ["wired-counter"]
strategies = ["dpor"]
executions = 40
"""


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """SMALL run in this process, one run after the other: what every executor must store."""
    from click.testing import CliRunner

    from uvmsim.cli import main

    d = tmp_path_factory.mktemp("ref")
    (d / "small.toml").write_text(SMALL)
    r = CliRunner().invoke(
        main, ["sweep", "run", str(d / "small.toml"), "--store", str(d / "ref.sqlite"), "-j", "1"]
    )
    assert r.exit_code == 0, r.output
    return d / "ref.sqlite"


@pytest.fixture
def small_spec(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return str(path)


def stored(path) -> dict:
    """run_key -> (the run's inputs and results), without timing columns."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cur = con.execute("SELECT * FROM runs")
        names = [d[0] for d in cur.description]
        out = {}
        for values in cur:
            row = dict(zip(names, values, strict=True))
            for timing in ("elapsed", "finished_at"):
                row.pop(timing)
            out[row["run_key"]] = row
        return out
    finally:
        con.close()


def count_keys(path) -> tuple[int, int]:
    """(rows, distinct run keys) in a store."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*), COUNT(DISTINCT run_key) FROM runs").fetchone()
    finally:
        con.close()


@pytest.fixture
def readonly_dir(tmp_path):
    """A directory this process cannot create files in.

    As root, permissions do not stop writes; sysfs refuses new files even to root.
    """
    if os.geteuid() == 0:
        try:
            fd, name = tempfile.mkstemp(dir="/sys")
        except OSError:
            yield "/sys"
            return
        os.close(fd)
        os.unlink(name)
        pytest.skip("no directory here refuses new files to root")
    d = tmp_path / "read-only"
    d.mkdir()
    d.chmod(0o555)
    yield str(d)
    d.chmod(0o755)


@pytest.fixture
def quick_locks(monkeypatch):
    """Give up on another process's lock after half a second instead of LOCK_TIMEOUT."""
    from uvmsim.sweep import store

    monkeypatch.setattr(store, "LOCK_TIMEOUT", 0.5)
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.1)


def hold_write_lock(path) -> sqlite3.Connection:
    """Another process's view: a connection holding the store's write lock until closed."""
    con = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")
    return con
