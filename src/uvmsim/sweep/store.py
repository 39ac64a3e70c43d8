"""The SQLite result store: one row per finished run, each committed in its own transaction.

A store is recognised by its SQLite `application_id` and its `meta` table; a file that is
not SQLite, a SQLite database of another tool, a damaged database, or a store written by
another uvmsim version is refused before anything is written to it.  Only the process that
drives a sweep writes (workers return results to it), and a row is inserted with its run key
as primary key, so an interrupted sweep leaves only whole rows and a rerun never duplicates
one.  The schema is documented in docs/sweeps.md.

Several processes may use one store at once (two sweeps sharing runs, a report while a sweep
writes): the store is in WAL mode, so readers never wait for the writer, and writers wait for
each other (SQLite's busy timeout, then retries with back-off) for up to `LOCK_TIMEOUT`
seconds before giving up with `StoreLocked`, which says "locked by another process" and never
"damaged".  Inserting is idempotent (`INSERT OR IGNORE` on the run key), so a run that two
sweeps both finished is stored once.

Reading accepts every schema version up to `SCHEMA_VERSION` and stores of any uvmsim version
(a report of last year's results must still work after an upgrade); only a store of a newer
schema is refused, naming both versions.  Writing refuses a store of another uvmsim version:
results of two model versions are never mixed in one store.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from uvmsim import __version__
from uvmsim.machine.failure import InputError
from uvmsim.output_files import probe_directory
from uvmsim.sweep.spec import RunSpec

APPLICATION_ID = 0x75766D73  # "uvms"
FORMAT = "uvmsim-sweep-store"
SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_NAME = "uvmsim-results.sqlite"
"""The store `uvmsim sweep run` writes when no --store is given."""

BUSY_TIMEOUT = 5.0
"""Seconds SQLite's busy handler waits for a lock within one statement."""
LOCK_TIMEOUT = 30.0
"""Seconds, in all, to wait for another process's lock before `StoreLocked`."""

# SQLite primary result codes (the low byte of an extended code)
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_CANNOT_OPEN = (3, 8, 14)  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN

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

# The columns every schema version up to SCHEMA_VERSION has, in the order `rows` yields them.
# A later schema that adds a column adds it here with what older stores read as its value.
COLUMNS = (
    "run_key",
    "kind",
    "protocol",
    "protocol_name",
    "protocol_digest",
    "target",
    "strategy",
    "cpus",
    "seed",
    "seed_last",
    "params",
    "metrics",
    "failure_kind",
    "failure",
    "token",
    "uvmsim_version",
    "sweep",
    "elapsed",
    "finished_at",
)


class StoreError(InputError):
    """The store cannot be used as asked: the message names the path and what to do."""


class StoreLocked(StoreError):
    """Another process held the store's lock for longer than `LOCK_TIMEOUT` seconds."""

    def __init__(self, path: str):
        super().__init__(
            f"store {path}: locked by another process for more than {LOCK_TIMEOUT:g} s (another "
            "uvmsim sweep, or a program holding a transaction open); wait for it to finish or "
            "use another --store"
        )


def _code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of `exc`, when Python gives it."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _is_locked(exc: sqlite3.Error) -> bool:
    code = _code(exc)
    if code is not None:
        return code in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


T = TypeVar("T")


def _retrying(path: str, action: Callable[[], T]) -> T:
    """`action()`, tried again while another process holds the lock, up to LOCK_TIMEOUT."""
    deadline = time.monotonic() + LOCK_TIMEOUT
    delay = 0.05
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise StoreLocked(path) from None
            time.sleep(delay)
            delay = min(1.0, delay * 2)


def _uri(path: str, **params: str) -> str:
    """An SQLite URI for `path`: its name is never read as `:memory:` or as URI syntax."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{urllib.parse.quote(os.path.abspath(path))}" + (f"?{query}" if query else "")


def _connect_ro(path: str) -> sqlite3.Connection:
    """A connection that never writes the store, and leaves no -wal/-shm files behind.

    Where this process may write the store's directory, the connection is read-write with
    `query_only`: when it closes as the last one, SQLite removes the WAL files (a read-only
    connection cannot, and would leave them next to the store).  Elsewhere it is read-only,
    and `immutable` when a WAL store's directory cannot even hold the -shm file: nobody can
    write the store there either, so reading it as immutable is exact.
    """
    directory = os.path.dirname(os.path.abspath(path))
    attempts = [{"mode": "ro"}, {"mode": "ro", "immutable": "1"}]
    if os.access(path, os.R_OK | os.W_OK) and os.access(directory, os.W_OK | os.X_OK):
        attempts.insert(0, {"mode": "rw"})
    for n, params in enumerate(attempts, start=1):
        con = None
        try:
            con = sqlite3.connect(_uri(path, **params), uri=True, timeout=BUSY_TIMEOUT)
            con.execute("PRAGMA query_only=ON")
            _retrying(
                path, lambda c=con: c.execute("SELECT count(*) FROM sqlite_master").fetchone()
            )
        except sqlite3.OperationalError as exc:
            if con is not None:
                con.close()
            if n == len(attempts) or _code(exc) not in _CANNOT_OPEN:
                raise
            continue
        except BaseException:
            if con is not None:
                con.close()
            raise
        return con
    raise AssertionError("unreachable")


def check_writable_directory(directory: str, option: str, path: str) -> None:
    """Refuse a directory the store cannot create files in (SQLite keeps its -wal/-journal
    next to the store): output_files.probe_directory, as a StoreError."""
    try:
        probe_directory(directory, f"{option} {path}")
    except InputError as exc:
        raise StoreError(str(exc)) from None


def _validate_meta(path: str, meta: dict[str, str], tables: set[str], writing: bool) -> None:
    """Refuse a store this uvmsim cannot read (newer schema) or must not write into."""
    if meta.get("format") != FORMAT or "runs" not in tables:
        raise StoreError(f"store {path}: not a uvmsim result store (its meta table differs)")
    written_by = meta.get("uvmsim_version", "unknown")
    schema = meta.get("schema_version", "")
    if not schema.isdigit():
        raise StoreError(f"store {path}: not a uvmsim result store (schema version {schema!r})")
    if int(schema) > SCHEMA_VERSION:
        raise StoreError(
            f"store {path}: written by uvmsim {written_by} with store schema version {schema}; "
            f"this is uvmsim {__version__}, which reads schema versions up to {SCHEMA_VERSION}: "
            f"upgrade uvmsim to read it"
        )
    if writing and written_by != __version__:
        raise StoreError(
            f"store {path}: written by uvmsim {written_by}, this is uvmsim {__version__}; "
            f"results of two versions are not mixed in one store: give this sweep a new "
            f"--store (uvmsim report still reads {path})"
        )


def _check_existing(path: str, writing: bool) -> None:
    """Refuse anything but a healthy store (of this version, when writing), read-only."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"store {path}: cannot read it ({exc.strerror})") from None
    if head != SQLITE_MAGIC:
        raise StoreError(f"store {path}: not a uvmsim result store (not an SQLite database)")
    try:
        con = _connect_ro(path)
    except StoreError:
        raise
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"store {path}: the database is damaged ({exc}); use another --store"
        ) from None
    try:

        def look() -> tuple[int, set[str]]:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            return app_id, tables

        app_id, tables = _retrying(path, look)
        if app_id != APPLICATION_ID or "meta" not in tables:
            if not tables and app_id == 0:
                return  # an empty SQLite file: becomes a store
            listed = ", ".join(sorted(tables)) or "none"
            raise StoreError(
                f"store {path}: not a uvmsim result store (an SQLite database of another "
                f"tool: application id {app_id:#x}, tables: {listed})"
            )
        check = _retrying(path, lambda: con.execute("PRAGMA quick_check").fetchone()[0])
        if check != "ok":
            raise StoreError(
                f"store {path}: the database is damaged ({check}); use another --store"
            )
        meta = _retrying(path, lambda: dict(con.execute("SELECT key, value FROM meta")))
        _validate_meta(path, meta, tables, writing)
    except sqlite3.DatabaseError as exc:  # not a lock: _retrying turned those into StoreLocked
        raise StoreError(
            f"store {path}: the database is damaged ({exc}); use another --store"
        ) from None
    finally:
        con.close()


class Store:
    """An open result store (see the module docstring)."""

    def __init__(self, con: sqlite3.Connection, path: str):
        self.con, self.path = con, path
        self.unreadable = 0  # rows `rows` skipped (see there)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def check(cls, path: str, must_exist: bool = False, writing: bool = True) -> bool:
        """Validate `path` without writing; True when it already holds a store.

        When `writing`, the file (or its directory, for a new store) must be writable now:
        a sweep finds out before it runs anything, not when the first run is to be stored.
        """
        option = "--store" if writing else "store"
        if not path:
            raise StoreError(f"{option}: the path is empty; give a file such as {DEFAULT_NAME}")
        if not os.path.exists(path):
            if must_exist:
                raise StoreError(f"store {path}: no such file")
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise StoreError(f"--store {path}: directory {parent} does not exist")
            check_writable_directory(parent, option, path)
            return False
        if os.path.isdir(path):
            raise StoreError(f"{option} {path}: is a directory, expected a file")
        if writing:
            try:
                with open(path, "r+b"):
                    pass
            except OSError as exc:
                raise StoreError(
                    f"--store {path}: not writable ({exc.strerror}); choose a writable location"
                ) from None
            check_writable_directory(os.path.dirname(os.path.abspath(path)), option, path)
        if os.path.getsize(path) == 0:
            if must_exist:
                raise StoreError(f"store {path}: empty file, not a uvmsim result store")
            return False
        _check_existing(path, writing)
        return True

    @classmethod
    def open(cls, path: str) -> Store:
        """Open (creating it if needed) a store for writing; refuses a foreign or bad file."""
        cls.check(path)
        try:
            con = sqlite3.connect(
                _uri(path, mode="rwc"), uri=True, timeout=BUSY_TIMEOUT, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"--store {path}: cannot open it ({exc})") from None
        try:
            _retrying(path, lambda: _prepare(con, path))
        except sqlite3.Error as exc:
            con.close()
            raise StoreError(f"--store {path}: cannot write to it ({exc})") from None
        except BaseException:
            con.close()
            raise
        return cls(con, path)

    @classmethod
    def open_readonly(cls, path: str) -> Store:
        """Open a store for reading: any uvmsim version, any schema up to SCHEMA_VERSION."""
        cls.check(path, must_exist=True, writing=False)
        try:
            return cls(_connect_ro(path), path)
        except sqlite3.Error as exc:
            raise StoreError(f"store {path}: cannot open it ({exc})") from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------
    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        """All rows of a query, waiting out a lock; any other SQLite error is a StoreError."""
        try:
            return _retrying(self.path, lambda: self.con.execute(sql, args).fetchall())
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path}: cannot read it ({exc})") from None

    def finished_keys(self) -> set[str]:
        return {r[0] for r in self._read("SELECT run_key FROM runs")}

    def failed_keys(self) -> set[str]:
        """Keys of the stored runs that have a failure."""
        return {r[0] for r in self._read("SELECT run_key FROM runs WHERE failure IS NOT NULL")}

    def has(self, key: str) -> bool:
        """Whether the run is stored (perhaps by another sweep writing to the same store)."""
        return bool(self._read("SELECT 1 FROM runs WHERE run_key = ?", (key,)))

    def record(self, run: RunSpec, row: dict[str, Any], sweep: str) -> bool:
        """Insert one finished run in its own transaction; False if it was already stored.

        Waits out another process's lock (up to LOCK_TIMEOUT); an interrupt or an error
        rolls the transaction back, so the store only ever holds whole rows.
        """
        values = (
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
        )

        def insert() -> bool:
            self.con.execute("BEGIN IMMEDIATE")
            try:
                cur = self.con.execute(
                    f"INSERT OR IGNORE INTO runs ({', '.join(COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(COLUMNS))})",
                    values,
                )
                self.con.execute("COMMIT")
            except BaseException:
                if self.con.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self.con.execute("ROLLBACK")
                raise
            return cur.rowcount == 1

        try:
            return _retrying(self.path, insert)
        except sqlite3.Error as exc:
            raise StoreError(
                f"store {self.path}: cannot store run '{run.label()}' ({exc}); the runs "
                "stored before it are kept"
            ) from None

    def rows(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        """Stored runs as dicts (params and metrics decoded), in a stable order.

        A row whose params or metrics are not JSON objects is skipped and counted in
        `self.unreadable`.
        """
        sql = f"SELECT {', '.join(COLUMNS)} FROM runs"
        args: tuple = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        sql += " ORDER BY kind, protocol_name, target, strategy, cpus, seed, run_key"
        self.unreadable = 0
        for values in self._read(sql, args):
            row = dict(zip(COLUMNS, values, strict=True))
            try:
                row["params"] = json.loads(row["params"])
                row["metrics"] = json.loads(row["metrics"])
            except (TypeError, ValueError):
                self.unreadable += 1
                continue
            if not isinstance(row["params"], dict) or not isinstance(row["metrics"], dict):
                self.unreadable += 1
                continue
            yield row

    def meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._read("SELECT key, value FROM meta")}


def _prepare(con: sqlite3.Connection, path: str) -> None:
    """WAL mode, and the schema if the store is new (under the write lock)."""
    # WAL: readers (a report, the other sweep's start-up check) never wait for a writer.
    # Some file systems cannot do WAL; SQLite then keeps its rollback journal, also safe.
    con.execute("PRAGMA journal_mode=WAL").fetchone()
    con.execute("PRAGMA synchronous=FULL")
    con.execute("BEGIN IMMEDIATE")
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" in tables:
            # re-checked under the write lock: another sweep may have created it meanwhile
            _validate_meta(path, dict(con.execute("SELECT key, value FROM meta")), tables, True)
        else:
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
        if con.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
