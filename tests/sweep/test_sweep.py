"""Sweeps end to end: validation before any write, the same results on every executor, resume
after SIGKILL without a lost or duplicated run, and the report."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from click.testing import CliRunner

from uvmsim.cli import main

from .conftest import SMALL, count_keys, stored


def sweep(*args):
    return CliRunner().invoke(main, ["sweep", "run", *args])


def test_sweep_stores_every_run_with_versions_and_failures(reference):
    rows = stored(reference)
    assert len(rows) == 8 + 8 + 1
    kinds = {r["kind"] for r in rows.values()}
    assert kinds == {"simulate", "explore"}
    assert {r["uvmsim_version"] for r in rows.values()} == {__import__("uvmsim").__version__}
    assert all(len(r["protocol_digest"]) == 12 for r in rows.values())
    # F1 shows up in the pageclean-race chunks of `seed`, each with a replay token
    races = [r for r in rows.values() if r["target"] == "pageclean-race"]
    assert races and all(r["failure"] and r["token"].startswith("uvm1.") for r in races)
    assert not any(r["failure"] for r in rows.values() if r["target"] == "wired-counter")
    sims = [json.loads(r["metrics"]) for r in rows.values() if r["kind"] == "simulate"]
    assert all(m["ops"] >= 150 and "pageqlock" in m["locks"] for m in sims)


def test_stored_tokens_replay_their_failure(reference):
    token = next(r["token"] for r in stored(reference).values() if r["token"])
    r = CliRunner().invoke(main, ["replay", token])
    assert r.exit_code == 1, r.output
    assert "pg" in r.output and "uobject" in r.output


def test_rerun_skips_finished_runs_and_duplicates_none(reference, small_spec, tmp_path):
    store = tmp_path / "s.sqlite"
    store.write_bytes(reference.read_bytes())
    r = sweep(small_spec, "--store", str(store), "--jobs", "1", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["already_stored"] == summary["runs"] == 17 and summary["ran"] == 0
    assert count_keys(store) == (17, 17)


def test_local_pool_stores_the_same_results(reference, small_spec, tmp_path):
    store = tmp_path / "pool.sqlite"
    r = sweep(small_spec, "--store", str(store), "--jobs", "2")
    assert r.exit_code == 0, r.output
    assert "2 local processes" in r.output
    assert stored(store) == stored(reference)


def test_dask_local_cluster_stores_the_same_results(reference, small_spec, tmp_path):
    from distributed import LocalCluster

    store = tmp_path / "dask.sqlite"
    with LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        r = sweep(small_spec, "--store", str(store), "--cluster", cluster.scheduler_address)
    assert r.exit_code == 0, r.output
    assert "Dask cluster" in r.output
    assert stored(store) == stored(reference)


KILL_SPEC = """
name = "kill"
[[simulate]]
protocols = ["openbsd-pre", "seed"]
workloads = ["build"]
cpus = [2, 4, 8]
seeds = "0..9"
ops = 300
"""


def _run_cli(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "uvmsim", "sweep", "run", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **kw,
    )


def test_sigkill_mid_sweep_then_rerun_gives_the_uninterrupted_result(tmp_path):
    spec = tmp_path / "kill.toml"
    spec.write_text(KILL_SPEC)
    whole = tmp_path / "whole.sqlite"
    assert sweep(str(spec), "--store", str(whole), "--jobs", "1").exit_code == 0
    total = count_keys(whole)[0]
    assert total == 60

    store = tmp_path / "killed.sqlite"
    proc = _run_cli(str(spec), "--store", str(store), "--jobs", "2")
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline:
            if store.exists():
                try:
                    done = count_keys(store)[0]
                except sqlite3.OperationalError:  # locked or not yet created
                    done = 0
            if done >= 5:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the pool's orphaned workers
    assert proc.returncode == -signal.SIGKILL
    partial = count_keys(store)[0]
    assert 5 <= partial < total, "the sweep was not killed mid-run"

    rerun = _run_cli(str(spec), "--store", str(store), "--jobs", "2")
    assert rerun.wait(timeout=300) == 0
    assert count_keys(store) == (total, total)
    assert stored(store) == stored(whole)


def test_bad_spec_writes_nothing(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(SMALL.replace('"openbsd-pre", "seed"]', '"openbsd-pre", "sead"]'))
    store = tmp_path / "s.sqlite"
    r = CliRunner().invoke(main, ["sweep", "run", str(spec), "--store", str(store)])
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1
    assert "simulate[1].protocols: protocol 'sead' is unknown; accepted:" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_foreign_store_exits_2_untouched(small_spec, tmp_path):
    store = tmp_path / "other.sqlite"
    con = sqlite3.connect(store)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = store.read_bytes()
    r = CliRunner().invoke(main, ["sweep", "run", small_spec, "--store", str(store)])
    assert r.exit_code == 2
    assert "not a uvmsim result store" in r.stderr
    assert store.read_bytes() == before


def test_bad_cluster_address_exits_2_before_creating_the_store(small_spec, tmp_path):
    store = tmp_path / "s.sqlite"
    r = CliRunner().invoke(
        main, ["sweep", "run", small_spec, "--store", str(store), "--cluster", "10.0.0.1:8786"]
    )
    assert r.exit_code == 2
    assert "--cluster '10.0.0.1:8786': expected a scheduler address like tcp://" in r.stderr
    assert not store.exists()
    r = CliRunner().invoke(main, ["sweep", "run", small_spec, "--store", str(store), "--jobs", "0"])
    assert r.exit_code == 2 and "--jobs must be between 1 and 256, got 0" in r.stderr
    assert not store.exists()


def test_report_tables_json_plot_and_html(reference, tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["report", str(reference)])
    assert r.exit_code == 0, r.stderr
    for text in ("Scaling", "Locks at the largest", "Exploration campaigns", "token: uvm1."):
        assert text in r.stdout
    r = runner.invoke(main, ["report", str(reference), "--json"])
    doc = json.loads(r.stdout)
    assert doc["runs"] == {"simulate": 8, "explore": 9}
    by = {(c["scenario"], c["strategy"]): c for c in doc["campaigns"]}
    assert by[("pageclean-race", "random")]["executions"] == 40
    assert by[("pageclean-race", "random")]["failing_executions"] >= 1
    assert by[("wired-counter", "dpor")]["complete"] is not None
    f1 = [f for f in doc["failures"] if f["target"] == "pageclean-race" and f["strategy"] == "pct"]
    assert f1 and all(f["protocol"] == "seed" for f in f1)
    assert any(f["kind"] == "data-race" for f in f1)
    # every distinct failure of a campaign comes with its own replay token
    assert all(f["token"].startswith("uvm1.") for f in doc["failures"])
    assert sum(f["executions"] for f in f1) == by[("pageclean-race", "pct")]["failing_executions"]
    assert {s["cpus"] for s in doc["scaling"]} == {2, 4}
    assert all(s["seeds"] == 2 for s in doc["scaling"])
    plot = tmp_path / "scaling.png"
    html_dir = tmp_path / "html"
    r = runner.invoke(
        main, ["report", str(reference), "--plot", str(plot), "--html", str(html_dir)]
    )
    assert r.exit_code == 0, r.stderr
    assert plot.read_bytes()[:4] == b"\x89PNG"
    page = (html_dir / "index.html").read_text()
    assert "id='failures'" in page and "uvm1." in page and "scaling.png" in page
    assert json.loads((html_dir / "report.json").read_text())["runs"]["explore"] == 9


def test_report_input_errors(reference, tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["report", str(tmp_path / "none.sqlite")])
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = runner.invoke(main, ["report", str(reference), "--plot", str(tmp_path / "x.jpg")])
    assert r.exit_code == 2 and "must end in .png or .svg" in r.stderr
    assert not (tmp_path / "x.jpg").exists()


def test_a_crashing_run_is_one_line_exit_3_and_keeps_finished_runs(
    small_spec, tmp_path, monkeypatch
):
    from uvmsim.sweep import runs as sweep_runs

    calls = []

    def crash_on_third(run):
        calls.append(run)
        if len(calls) == 3:
            raise ZeroDivisionError("division by zero")
        return real(run)

    real = sweep_runs.execute_run
    monkeypatch.setattr(sweep_runs, "execute_run", crash_on_third)
    store = tmp_path / "s.sqlite"
    r = CliRunner().invoke(main, ["sweep", "run", small_spec, "--store", str(store), "-j", "1"])
    assert r.exit_code == 3
    assert r.stderr.startswith("uvmsim: error: run 'openbsd-pre build 4 CPUs seed 0' crashed: ")
    assert "ZeroDivisionError" in r.stderr and r.stderr.count("\n") == 1
    assert count_keys(store) == (2, 2)
