"""A small sweep of both kinds, quick enough for CI, and helpers to read a store back."""

import sqlite3

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
