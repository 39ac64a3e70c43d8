"""The SQLite result store: one row per finished run, each committed in its own transaction.

A store is recognised by its SQLite `application_id` and its `meta` table; a file that is
not SQLite, a SQLite database of another tool, a damaged database, or a store written by
another uvmsim version is refused before anything is written to it.  Only the process that
drives a sweep writes (workers return results to it), and a row is inserted with its run key
as primary key, so an interrupted sweep leaves only whole rows and a rerun never duplicates
one.  The schema is documented in docs/sweeps.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from uvmsim import __version__
from uvmsim.machine.failure import InputError
from uvmsim.sweep.spec import RunSpec

APPLICATION_ID = 0x75766D73  # "uvms"
FORMAT = "uvmsim-sweep-store"
SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE runs (
    run_key          TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('simulate', 'explore')),
    protocol         TEXT NOT NULL,
    protocol_name    TEXT NOT NULL,
    protocol_digest  TEXT NOT NULL,
    target           TEXT NOT NULL,
    strategy         TEXT,
    cpus             INTEGER,
    seed             INTEGER NOT NULL,
    seed_last        INTEGER,
    params           TEXT NOT NULL,
    metrics          TEXT NOT NULL,
    failure_kind     TEXT,
    failure          TEXT,
    token            TEXT,
    uvmsim_version   TEXT NOT NULL,
    sweep            TEXT NOT NULL,
    elapsed          REAL NOT NULL,
    finished_at      TEXT NOT NULL
);
CREATE INDEX runs_by_target ON runs (kind, target, protocol_name);
"""


def _check_existing(path: str) -> None:
    """Refuse anything but a healthy store of this version, opening it read-only."""
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise InputError(f"store {path}: not a uvmsim result store (not an SQLite database)")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"store {path}: cannot open it: {exc}") from None
    try:
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id != APPLICATION_ID or "meta" not in tables:
            if not tables and app_id == 0:
                return  # an empty SQLite file: becomes a store
            listed = ", ".join(sorted(tables)) or "none"
            raise InputError(
                f"store {path}: not a uvmsim result store (an SQLite database of another "
                f"tool: application id {app_id:#x}, tables: {listed})"
            )
        check = con.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise InputError(
                f"store {path}: the database is damaged ({check}); use another --store"
            )
        meta = dict(con.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT or "runs" not in tables:
            raise InputError(f"store {path}: not a uvmsim result store (its meta table differs)")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise InputError(
                f"store {path}: schema version {meta.get('schema_version')}, this uvmsim "
                f"reads version {SCHEMA_VERSION}"
            )
        if meta.get("uvmsim_version") != __version__:
            raise InputError(
                f"store {path}: written by uvmsim {meta.get('uvmsim_version')}, this is uvmsim "
                f"{__version__}; results of two versions are not mixed: use another --store"
            )
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"store {path}: the database is damaged ({exc}); use another --store"
        ) from None
    finally:
        con.close()


class Store:
    """An open result store (see the module docstring)."""

    def __init__(self, con: sqlite3.Connection, path: str):
        self.con, self.path = con, path

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def check(cls, path: str, must_exist: bool = False) -> bool:
        """Validate `path` without writing; True when it already holds a store."""
        if not os.path.exists(path):
            if must_exist:
                raise InputError(f"store {path}: no such file")
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise InputError(f"--store {path}: directory {parent} does not exist")
            return False
        if os.path.isdir(path):
            raise InputError(f"--store {path}: is a directory, expected a file")
        if os.path.getsize(path) == 0:
            if must_exist:
                raise InputError(f"store {path}: empty file, not a uvmsim result store")
            return False
        _check_existing(path)
        return True

    @classmethod
    def open(cls, path: str) -> Store:
        """Open (creating it if needed) a store for writing; refuses a foreign or bad file."""
        cls.check(path)
        con = sqlite3.connect(path, isolation_level=None)  # explicit transactions only
        con.execute("PRAGMA synchronous=FULL")
        con.execute("BEGIN IMMEDIATE")
        try:
            # re-checked under the write lock: two sweeps may create the same store at once
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
                con.execute(f"PRAGMA application_id={APPLICATION_ID}")
                for stmt in SCHEMA.split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                con.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("format", FORMAT),
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("uvmsim_version", __version__),
                        ("created_at", _now()),
                    ],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            con.close()
            raise
        return cls(con, path)

    @classmethod
    def open_readonly(cls, path: str) -> Store:
        cls.check(path, must_exist=True)
        return cls(sqlite3.connect(f"file:{path}?mode=ro", uri=True), path)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------
    def finished_keys(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT run_key FROM runs")}

    def record(self, run: RunSpec, row: dict[str, Any], sweep: str) -> bool:
        """Insert one finished run in its own transaction; False if it was already stored."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            cur = self.con.execute(
                "INSERT OR IGNORE INTO runs VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.key,
                    run.kind,
                    run.protocol,
                    run.protocol_name,
                    run.protocol_digest,
                    run.target,
                    run.strategy,
                    run.cpus,
                    run.seed,
                    run.seed_last,
                    json.dumps(run.param, sort_keys=True),
                    json.dumps(row["metrics"], sort_keys=True),
                    row["failure_kind"],
                    row["failure"],
                    row["token"],
                    row["uvmsim_version"],
                    sweep,
                    row["elapsed"],
                    _now(),
                ),
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return cur.rowcount == 1

    def rows(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        """Stored runs as dicts (params and metrics decoded), in a stable order."""
        sql = "SELECT * FROM runs"
        args: tuple = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        sql += " ORDER BY kind, protocol_name, target, strategy, cpus, seed, run_key"
        cur = self.con.execute(sql, args)
        names = [d[0] for d in cur.description]
        for values in cur:
            row = dict(zip(names, values, strict=True))
            row["params"] = json.loads(row["params"])
            row["metrics"] = json.loads(row["metrics"])
            yield row

    def meta(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT key, value FROM meta"))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
