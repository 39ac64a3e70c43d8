"""Issue 10 on the sweep side: never lose a user's data, never hang, never print a traceback.

Each test is one way a new user broke `uvmsim sweep run` or `uvmsim report`: a directory
holding a store given to `--html`, a read-only output path, two sweeps on one store, a store
locked by another process, a port that is not a Dask scheduler, a cluster whose workers died,
a killed sweep, square brackets in a name, a store of another version.
"""

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from tests.conftest import default_sigint
from uvmsim import __version__
from uvmsim.cli import main
from uvmsim.cli import sweep as cli_sweep
from uvmsim.output_files import MARKER as REPORT_MARKER
from uvmsim.runs import executors
from uvmsim.sweep import runs as sweep_runs

from .conftest import count_keys, hold_write_lock, stored


def invoke(*args, **kw):
    return CliRunner().invoke(main, list(args), **kw)


def one_line(text: str) -> bool:
    """Exactly one line, and no Python traceback or click's 'Aborted!'."""
    return text.count("\n") == 1 and "Traceback" not in text and "Aborted" not in text


def cli(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "uvmsim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_sigint,
        **kw,
    )


# -- the store -------------------------------------------------------------------------------

OVERLAP = """
name = "{name}"
[[simulate]]
protocols = ["openbsd-pre", "seed"]
workloads = ["build"]
cpus = [2, 4]
seeds = "{seeds}"
ops = 100
"""


def test_two_sweeps_on_one_store_at_once_both_finish_and_store_every_run_once(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(OVERLAP.format(name="a", seeds="0..11"))
    b.write_text(OVERLAP.format(name="b", seeds="6..17"))
    store = tmp_path / "s.sqlite"
    procs = [cli("sweep", "run", str(p), "--store", str(store), "-j", "1") for p in (a, b)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "48 runs" in out and "Traceback" not in err
    distinct = 2 * 2 * 18  # protocols x CPU counts x seeds 0..17
    assert count_keys(store) == (distinct, distinct)


def test_an_empty_store_path_exits_2(small_spec):
    r = invoke("sweep", "run", small_spec, "--store", "")
    assert r.exit_code == 2 and one_line(r.stderr)
    assert "--store: the path is empty" in r.stderr


def test_a_store_locked_at_start_exits_2_with_one_line(tmp_path, quick_locks):
    spec = tmp_path / "a.toml"
    spec.write_text(OVERLAP.format(name="a", seeds="0..0"))
    store = tmp_path / "s.sqlite"
    assert invoke("sweep", "run", str(spec), "--store", str(store), "-j", "1").exit_code == 0
    spec.write_text(OVERLAP.format(name="a", seeds="0..1"))
    holder = hold_write_lock(store)
    try:
        r = invoke("sweep", "run", str(spec), "--store", str(store), "-j", "1")
    finally:
        holder.close()
    assert r.exit_code == 2 and one_line(r.stderr), r.stderr
    assert f"store {store}: locked by another process" in r.stderr
    assert "damaged" not in r.stderr


def test_a_store_locked_mid_sweep_exits_3_and_keeps_finished_runs(
    small_spec, tmp_path, monkeypatch, quick_locks
):
    store = tmp_path / "s.sqlite"
    real, calls, holder = sweep_runs.execute_run, [], []

    def lock_before_third(run):
        calls.append(run)
        if len(calls) == 3:
            holder.append(hold_write_lock(store))
        return real(run)

    monkeypatch.setattr(sweep_runs, "execute_run", lock_before_third)
    try:
        r = invoke("sweep", "run", small_spec, "--store", str(store), "-j", "1")
    finally:
        for h in holder:
            h.close()
    assert r.exit_code == 3 and one_line(r.stderr), r.stderr
    assert "locked by another process" in r.stderr
    assert r.stderr.rstrip().endswith("run the same command to resume")
    assert count_keys(store) == (2, 2)


def _old_store(reference, tmp_path, **meta):
    path = tmp_path / "old.sqlite"
    shutil.copy(reference, path)
    con = sqlite3.connect(path)
    with con:
        for key, value in meta.items():
            con.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
        if "uvmsim_version" in meta:
            con.execute("UPDATE runs SET uvmsim_version = ?", (meta["uvmsim_version"],))
    con.close()
    return path


def test_report_reads_a_store_of_an_older_uvmsim(reference, small_spec, tmp_path):
    old = _old_store(reference, tmp_path, uvmsim_version="0.0.1")
    r = invoke("report", str(old))
    assert r.exit_code == 0, r.stderr
    assert (
        f"note: store written by uvmsim 0.0.1 (schema version 1); read by uvmsim {__version__}"
    ) in r.stdout
    assert "Exploration campaigns" in r.stdout and "token: uvm1." in r.stdout
    # writing still does not mix versions, and says what to do
    r = invoke("sweep", "run", small_spec, "--store", str(old), "-j", "1")
    assert r.exit_code == 2 and one_line(r.stderr)
    assert "give this sweep a new --store (uvmsim report still reads" in r.stderr


def test_report_refuses_a_newer_schema_naming_both_versions(reference, tmp_path):
    new = _old_store(reference, tmp_path, uvmsim_version="9.0.0", schema_version="2")
    r = invoke("report", str(new))
    assert r.exit_code == 2 and one_line(r.stderr)
    assert (
        f"written by uvmsim 9.0.0 with store schema version 2; this is uvmsim {__version__}, "
        "which reads schema versions up to 1: upgrade uvmsim to read it"
    ) in r.stderr


def test_report_leaves_out_rows_lacking_a_figure_with_a_note(reference, tmp_path):
    old = _old_store(reference, tmp_path)
    con = sqlite3.connect(old)
    with con:
        (key,) = con.execute("SELECT run_key FROM runs WHERE kind = 'simulate' LIMIT 1").fetchone()
        con.execute(
            "UPDATE runs SET metrics = json_remove(metrics, '$.locks'), uvmsim_version = '0.0.1'"
            " WHERE run_key = ?",
            (key,),
        )
    con.close()
    r = invoke("report", str(old), "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (
        "1 simulate runs written by uvmsim 0.0.1 lack metrics.locks: left out of this report"
        in (doc["notes"])
    )
    assert doc["runs"]["simulate"] == 7


# -- output paths ----------------------------------------------------------------------------


def _snapshot(root) -> dict:
    """Every file and directory under `root` with its content digest and modification time."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            digest = None
            if os.path.isfile(p):
                with open(p, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(p, root)] = (digest, st.st_mtime_ns, st.st_mode)
    return out


def test_report_html_dot_in_a_directory_holding_a_store_leaves_every_file_untouched(
    reference, tmp_path, monkeypatch
):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    shutil.copy(reference, work / "results.sqlite")
    (work / "notes.txt").write_text("mine")
    (work / "sub" / "data.csv").write_text("1,2\n")
    before = _snapshot(work)
    monkeypatch.chdir(work)
    for args in (["--html", "."], ["--html", ".", "--plot", "p.png"], ["--html", "sub"]):
        r = invoke("report", "results.sqlite", *args)
        assert r.exit_code == 2 and one_line(r.stderr), r.stderr
        where = args[1]
        why = "is the current directory" if where == "." else f"{where} exists and was not written"
        assert f"--html {where}: {why}" in r.stderr and "choose a new directory" in r.stderr
        assert _snapshot(work) == before


def test_report_html_refuses_a_file(reference, tmp_path):
    target = tmp_path / "index"
    target.write_text("x")
    r = invoke("report", str(reference), "--html", str(target))
    assert r.exit_code == 2 and one_line(r.stderr)
    assert "exists and is not a directory; choose a new directory" in r.stderr
    assert target.read_text() == "x"


def test_report_html_replaces_a_report_it_wrote(reference, tmp_path):
    out = tmp_path / "out"
    for _ in range(2):
        r = invoke("report", str(reference), "--html", str(out))
        assert r.exit_code == 0, r.stderr
    assert (out / REPORT_MARKER).exists() and (out / "index.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("option", ["--store", "--plot", "--html"])
def test_an_unwritable_output_fails_in_under_a_second_before_any_work(
    reference, small_spec, readonly_dir, monkeypatch, option
):
    def no_work(*args, **kw):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(sweep_runs, "execute_run", no_work)
    monkeypatch.setattr(cli_sweep, "build_report", no_work)
    target = os.path.join(readonly_dir, {"--store": "s.sqlite", "--plot": "p.png"}.get(option, "h"))
    if option == "--store":
        args = ["sweep", "run", small_spec, "--store", target, "-j", "1"]
    else:
        args = ["report", str(reference), option, target]
    t0 = time.monotonic()
    r = invoke(*args)
    assert time.monotonic() - t0 < 1.0
    assert r.exit_code == 2 and one_line(r.stderr), r.stderr
    assert f"{option} {target}: cannot create files in {readonly_dir}" in r.stderr
    assert "choose a writable location" in r.stderr


# -- square brackets -------------------------------------------------------------------------


def test_square_brackets_in_user_text_are_printed_as_text(tmp_path):
    spec = tmp_path / "b.toml"
    spec.write_text(OVERLAP.format(name="[/x] [bold]", seeds="0..0"))
    store = tmp_path / "s.sqlite"
    # a terminal: the progress bar shows the spec's name
    r = invoke(
        "sweep", "run", str(spec), "--store", str(store), "-j", "1", env={"FORCE_COLOR": "1"}
    )
    assert r.exit_code == 0, r.stderr
    assert "[/x] [bold]" in r.stderr and "[/x] [bold]: 4 runs" in r.stdout
    con = sqlite3.connect(store)
    with con:
        con.execute("UPDATE runs SET protocol_name = '[/F1] ' || protocol_name")
        con.execute(
            "UPDATE runs SET target = '[red]' || target, failure = '[/] x', "
            "failure_kind = 'run-failed'"
        )
    con.close()
    r = invoke("report", str(store))
    assert r.exit_code == 0, r.stderr
    words = " ".join(r.stdout.split())  # long lines are wrapped
    for text in ("sweeps: [/x] [bold])", "[/F1] seed", "[red]build", "run-failed: [/] x [2 exe"):
        assert text in words


# -- Dask ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _server(greeting: bytes | None):
    """A TCP port that accepts and then says `greeting` (or nothing) and waits."""
    srv = socket.create_server(("127.0.0.1", 0))
    conns = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                c, _ = srv.accept()
                conns.append(c)
                if greeting:
                    c.sendall(greeting)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        srv.close()
        for c in conns:
            c.close()


def test_a_port_that_is_not_a_dask_scheduler_exits_2_within_10_s(small_spec, tmp_path):
    store = tmp_path / "s.sqlite"
    with _server(None) as address:
        t0 = time.monotonic()
        p = cli("sweep", "run", small_spec, "--store", str(store), "--cluster", address)
        _, err = p.communicate(timeout=60)
        took = time.monotonic() - t0
    assert p.returncode == 2 and one_line(err), err
    assert err == (
        f"uvmsim: error: --cluster {address}: not a Dask scheduler (it sent nothing within 5 s); "
        "give the address `dask scheduler` prints, e.g. tcp://10.0.0.5:8786\n"
    )
    assert took < 10
    assert not store.exists()


class _Http(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_http_server_a_banner_or_a_closed_port_is_one_line(small_spec, tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    store = str(tmp_path / "s.sqlite")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Http)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        address = f"tcp://127.0.0.1:{httpd.server_address[1]}"
        r = invoke("sweep", "run", small_spec, "--store", store, "--cluster", address)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.exit_code == 2 and one_line(r.stderr)
    assert "not a Dask scheduler (it sent nothing within 1 s)" in r.stderr
    with _server(b"SSH-2.0-OpenSSH_9.6\r\n") as address:
        r = invoke("sweep", "run", small_spec, "--store", store, "--cluster", address)
    assert r.exit_code == 2 and one_line(r.stderr)
    assert "not a Dask scheduler (it sent b'SSH-2.0-OpenSSH_9.6\\r\\n')" in r.stderr
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    r = invoke("sweep", "run", small_spec, "--store", store, "--cluster", f"tcp://127.0.0.1:{port}")
    assert r.exit_code == 2 and one_line(r.stderr)
    assert "cannot connect (Connection refused)" in r.stderr
    for bad in ("nan", "0", "-1"):
        r = invoke("sweep", "run", small_spec, "--store", store, "--worker-timeout", bad)
        assert r.exit_code == 2 and "--worker-timeout must be a finite number" in r.stderr
    assert not os.path.exists(store)


SLOW = """
name = "slow"
[[simulate]]
protocols = ["openbsd-pre", "seed"]
workloads = ["build"]
cpus = [8]
seeds = "0..{last}"
ops = 2000
"""


def test_a_dask_sweep_whose_workers_all_died_gives_up_after_worker_timeout(tmp_path):
    from distributed import LocalCluster

    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW.format(last=5))  # 12 runs of about half a second
    store = tmp_path / "s.sqlite"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:

        def kill_workers_after_the_first_row():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with contextlib.suppress(sqlite3.Error):
                    if store.exists() and count_keys(store)[0] >= 1:
                        break
                time.sleep(0.05)
            cluster.scale(0)

        killer = threading.Thread(target=kill_workers_after_the_first_row, daemon=True)
        killer.start()
        t0 = time.monotonic()
        r = invoke(
            "sweep", "run", str(spec), "--store", str(store), "--cluster",
            cluster.scheduler_address, "--worker-timeout", "2",
        )  # fmt: skip
        took = time.monotonic() - t0
        killer.join()
    assert r.exit_code == 3, r.stderr
    lines = r.stderr.splitlines()
    assert any("warning: no live Dask worker at" in x for x in lines)
    assert lines[-1].startswith(f"uvmsim: error: --cluster {cluster.scheduler_address}: no live ")
    assert lines[-1].endswith(f"finished runs are in {store}; run the same command to resume")
    assert "Traceback" not in r.stderr
    done = count_keys(store)
    assert done[0] == done[1] and 1 <= done[0] < 12
    assert took < 60


# -- local workers ---------------------------------------------------------------------------


def _live_in_group(pgid: int) -> list[int]:
    """Processes of process group `pgid` that are still alive (zombies excluded)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            out.append(int(entry))
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize(
    ("sig", "status", "message"),
    [
        (signal.SIGKILL, -signal.SIGKILL, ""),
        (signal.SIGTERM, 143, "uvmsim: terminated (SIGTERM): finished runs are in "),
        (signal.SIGINT, 130, "uvmsim: interrupted: finished runs are in "),
    ],
)
def test_a_killed_local_sweep_leaves_no_worker_behind(tmp_path, sig, status, message):
    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW.format(last=19))  # 40 runs: well over 10 s on two processes
    store = tmp_path / "s.sqlite"
    proc = cli("sweep", "run", str(spec), "--store", str(store), "--jobs", "2")
    try:
        deadline = time.monotonic() + 60
        while len(_live_in_group(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_live_in_group(proc.pid)) == 3, "the pool did not start"
        time.sleep(1.0)  # the workers are running
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # what Ctrl-C in a terminal does
        else:
            os.kill(proc.pid, sig)
        t0 = time.monotonic()
        proc.wait(timeout=30)
        while _live_in_group(proc.pid) and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        survivors = _live_in_group(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # (survivors would hold the pipes open)
        proc.wait()
    assert not survivors, "workers survived their sweep by more than 5 s"
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == status
    if message:
        assert one_line(err) and err.startswith(message), err
    rows, keys = count_keys(store)
    assert rows == keys < 40


def _die(run):
    """A worker process that dies (as when the kernel's OOM killer picks it)."""
    os._exit(9)


def test_a_worker_process_that_dies_is_one_line_exit_3(small_spec, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_runs, "execute_run", _die)
    r = invoke("sweep", "run", small_spec, "--store", str(tmp_path / "s.sqlite"), "-j", "2")
    assert r.exit_code == 3 and one_line(r.stderr), r.stderr
    assert "a local worker process died while running" in r.stderr


def test_ctrl_c_in_process_is_130_with_finished_runs_stored(small_spec, tmp_path, monkeypatch):
    real, calls = sweep_runs.execute_run, []

    def interrupt_third(run):
        calls.append(run)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(run)

    monkeypatch.setattr(sweep_runs, "execute_run", interrupt_third)
    store = tmp_path / "s.sqlite"
    r = invoke("sweep", "run", small_spec, "--store", str(store), "-j", "1")
    assert r.exit_code == 130 and one_line(r.stderr), r.stderr
    assert r.stderr.startswith("uvmsim: interrupted: finished runs are in")
    assert count_keys(store) == (2, 2)
    assert set(stored(store)) == {c.key for c in calls[:2]}
