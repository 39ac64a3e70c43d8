"""`uvmsim sweep run` and `uvmsim report`: many runs into a store, and what the store says.

Both commands check everything they were given (spec, store, output paths, cluster address)
before any work, and report a problem as one line: exit 2 for what the user can fix before
starting, 3 when a sweep that started could not finish (a run raised, the workers or the
store were lost; the finished runs stay stored), 130 on Ctrl-C and 143 on SIGTERM, both after
the local workers are stopped and with every finished run stored.  Text from users (spec
names, protocol and workload names, store paths) is escaped before rich renders it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from uvmsim.cli.status import EXIT_INTERNAL, EXIT_INTERRUPT, EXIT_TERMINATED
from uvmsim.console import console
from uvmsim.machine.failure import InputError
from uvmsim.runs.executors import WORKER_TIMEOUT, ExecutorLost, RunCrashed, make_executor
from uvmsim.sweep.driver import SweepProgress, run_sweep
from uvmsim.sweep.report import (
    build_report,
    campaign_extent,
    check_html_dir,
    check_plot_path,
    plot_scaling,
    write_html,
)
from uvmsim.sweep.spec import SweepSpec, load_spec
from uvmsim.sweep.store import DEFAULT_NAME, Store, StoreError

DEFAULT_STORE = DEFAULT_NAME


class Terminated(BaseException):
    """SIGTERM arrived: unwind (stop the workers, close the store) as for an interrupt."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the sweep runs, SIGTERM raises `Terminated` instead of ending the process.

    Python's default for SIGTERM ends the process at once, without closing the pool; the
    workers would then only go when they notice their parent is gone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> NoReturn:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop(message: str, status: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(status)


@click.group("sweep")
def sweep_cmd() -> None:
    """Run sweeps: simulation grids and exploration campaigns, stored in SQLite."""


@sweep_cmd.command("run")
@click.argument("spec_path", metavar="SPEC.toml")
@click.option(
    "--store",
    "store_path",
    default=DEFAULT_STORE,
    show_default=True,
    help="The SQLite result store (created if missing, resumed if present).",
)
@click.option(
    "--jobs", "-j", type=int, default=None, help="Local worker processes (default: all cores)."
)
@click.option(
    "--cluster",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run on the Dask cluster whose scheduler is at this address instead.",
)
@click.option(
    "--worker-timeout",
    type=float,
    default=WORKER_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="With --cluster: how long to wait while no Dask worker is alive before giving up.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final counts as JSON.")
def sweep_run_cmd(
    spec_path: str,
    store_path: str,
    jobs: int | None,
    cluster: str | None,
    worker_timeout: float,
    as_json: bool,
) -> None:
    """Run every run of SPEC.toml that the store does not hold yet.

    The spec, the store and the cluster are checked before anything runs.  Each finished run
    is committed to the store on its own, so an interrupted sweep (Ctrl-C, a crash, SIGKILL)
    is resumed by running the same command again: finished runs are skipped, none is
    duplicated.  Two sweeps may share a store at the same time.  Exit status: 0 done, 2 bad
    input (nothing ran), 3 the sweep could not finish, 130 interrupted, 143 terminated.  The
    spec format, its limits and the store schema are in docs/sweeps.md.

    \b
    Examples:
      uvmsim sweep run examples/sweep-scaling.toml
      uvmsim sweep run examples/sweep-campaign.toml --store campaign.sqlite --jobs 8
      uvmsim sweep run examples/sweep-scaling.toml --cluster tcp://10.0.0.5:8786
    """
    spec = load_spec(spec_path)
    # refuse a foreign, damaged, locked or unwritable store before connecting anywhere
    Store.check(store_path)
    executor = make_executor(jobs, cluster, worker_timeout)
    t0 = time.monotonic()
    err = console(stderr=True)
    started = False
    resume = f"finished runs are in {store_path}; run the same command to resume"
    try:
        with _sigterm_unwinds(), Store.open(store_path) as store:
            started = True
            state = _run_with_progress(spec, store, executor, err)
    except KeyboardInterrupt:
        executor.close()
        _stop(f"uvmsim: interrupted: {resume}", EXIT_INTERRUPT)
    except Terminated:
        executor.close()
        _stop(f"uvmsim: terminated (SIGTERM): {resume}", EXIT_TERMINATED)
    except RunCrashed as exc:
        # not a finding of the model: Python code raised
        executor.close()
        _stop(
            f"uvmsim: error: {exc} (a bug in uvmsim or in the protocol's module); finished "
            f"runs are in {store_path}",
            EXIT_INTERNAL,
        )
    except ExecutorLost as exc:
        executor.close()
        _stop(f"uvmsim: error: {exc}; {resume}", EXIT_INTERNAL)
    except StoreError as exc:
        executor.close()
        if not started:
            raise  # the store could not be opened: bad input, nothing ran (exit 2)
        _stop(f"uvmsim: error: {exc}; run the same command to resume", EXIT_INTERNAL)
    finally:
        executor.close()
    seconds = time.monotonic() - t0
    summary = {
        "spec": spec_path,
        "store": store_path,
        "executor": executor.description,
        "runs": state.total,
        "already_stored": state.skipped,
        "ran": state.done,
        "failed_runs": state.failed,
        "executions": state.executions,
        "seconds": round(seconds, 1),
        "executions_per_second": round(state.executions / seconds, 1) if seconds else 0.0,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    line = (
        f"{spec.name}: {state.total} runs, {state.skipped} already stored, {state.done} ran "
        f"on {executor.description} in {seconds:.1f} s; {state.failed} with a failure"
    )
    if state.executions:
        line += (
            f"; {state.executions:,} checker executions ({summary['executions_per_second']:,.0f}/s)"
        )
    click.echo(line)
    click.echo(f"results: {store_path} (uvmsim report {store_path})")


def _run_with_progress(
    spec: SweepSpec, store: Store, executor: Any, console: Console
) -> SweepProgress:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs, [red]{task.fields[failed]}[/] failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = None
    if hasattr(executor, "warn"):  # above the progress bar, escaped
        executor.warn = lambda text: console.print(
            f"uvmsim: warning: {escape(text)}", highlight=False, soft_wrap=True
        )

    def update(state: SweepProgress) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(escape(spec.name), total=state.total, failed=0)
            # runs already stored do not count towards the rate the ETA is computed from
            progress.update(task, completed=state.skipped)
            progress.reset(task, start=True, completed=state.skipped)
        progress.update(task, completed=state.finished, failed=state.failed)

    with progress:
        return run_sweep(spec, store, executor, update)


@click.command("report")
@click.argument("store_path", metavar="STORE")
@click.option(
    "--html",
    "html_dir",
    default=None,
    metavar="DIR",
    help="Also write a static HTML report (with the plot) into DIR, a new directory (or one "
    "an earlier report wrote).",
)
@click.option(
    "--plot", default=None, metavar="FILE", help="Write the scaling curves (.png or .svg)."
)
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON document.")
def report_cmd(store_path: str, html_dir: str | None, plot: str | None, as_json: bool) -> None:
    """Scaling per protocol, lock tables, campaign totals and failures (with tokens) of a store.

    Reads stores of this and of older uvmsim versions (a store of a newer schema is refused,
    naming both versions).  Output locations are checked before the store is read; --html
    never replaces a directory that uvmsim did not write.

    \b
    Examples:
      uvmsim report uvmsim-results.sqlite
      uvmsim report uvmsim-results.sqlite --plot scaling.png --html out/sweep
    """
    if html_dir is not None:
        check_html_dir(html_dir)
    if plot is not None:
        check_plot_path(plot)
    report = build_report(store_path)
    if plot is not None:
        try:
            drawn = plot_scaling(report, plot)
        except OSError as exc:
            raise InputError(f"--plot {plot}: cannot write it ({exc.strerror or exc})") from None
        if not drawn:
            click.echo("no simulation runs in the store: no plot written", err=True)
    if html_dir is not None:
        try:
            index = write_html(report, html_dir)
        except OSError as exc:
            raise InputError(
                f"--html {html_dir}: cannot write it ({exc.strerror or exc}); nothing was replaced"
            ) from None
        click.echo(f"wrote {index}", err=True)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    render_report(report)


def _row(*cells: object) -> list[str]:
    """Table cells as rich markup: user text (names, labels) escaped."""
    return [escape(str(c)) for c in cells]


def render_report(report: dict) -> None:
    con = console(width=None if sys.stdout.isatty() else 140)
    e = escape
    con.print(
        f"[bold]{e(report['store'])}[/]: {report['runs']['simulate']} simulation runs, "
        f"{report['runs']['explore']} exploration runs (uvmsim {e(str(report['uvmsim_version']))}; "
        f"sweeps: {e(', '.join(report['sweeps'])) or 'none'})"
    )
    for note in report["notes"]:
        con.print(f"[yellow]note:[/] {e(note)}")
    if report["scaling"]:
        t = Table(title="Scaling: mean over seeds (min..max)")
        for col in (
            "workload",
            "protocol",
            "CPUs",
            "seeds",
            "ops/s",
            "min..max",
            "spin",
            "sys cycles/op",
        ):
            t.add_column(col, justify="left" if col in ("workload", "protocol") else "right")
        for s in report["scaling"]:
            t.add_row(
                *_row(
                    s["workload"],
                    s["protocol"],
                    s["cpus"],
                    s["seeds"],
                    f"{s['throughput']:,.0f}",
                    f"{s['throughput_min']:,.0f}..{s['throughput_max']:,.0f}",
                    f"{100 * s['spin_share']:.1f}%",
                    f"{s['system_per_op']:,.0f}",
                )
            )
        con.print(t)
        # the lock table at each workload's largest CPU count: where contention shows
        top: dict[str, int] = {}
        for x in report["locks"]:
            top[x["workload"]] = max(top.get(x["workload"], 0), x["cpus"])
        t = Table(title="Locks at the largest CPU count (summed over seeds)")
        for col in (
            "workload",
            "protocol",
            "CPUs",
            "lock",
            "acq/op",
            "contended",
            "wait cyc/op",
            "max wait",
            "mean hold",
        ):
            t.add_column(
                col, justify="left" if col in ("workload", "protocol", "lock") else "right"
            )
        for x in report["locks"]:
            if x["cpus"] != top[x["workload"]]:
                continue
            t.add_row(
                *_row(
                    x["workload"],
                    x["protocol"],
                    x["cpus"],
                    x["lock"],
                    f"{x['acquisitions_per_op']:.2f}",
                    f"{x['contended_pct']:.1f}%",
                    f"{x['wait_cycles_per_op']:,.0f}",
                    f"{x['wait_max']:,}",
                    f"{x['hold_avg']:,.0f}",
                )
            )
        con.print(t)
    if report["campaigns"]:
        t = Table(title="Exploration campaigns")
        for col in (
            "protocol",
            "scenario",
            "strategy",
            "runs",
            "seeds",
            "executions",
            "failing",
            "distinct",
            "seconds",
        ):
            t.add_column(
                col, justify="left" if col in ("protocol", "scenario", "strategy") else "right"
            )
        for c in report["campaigns"]:
            t.add_row(
                *_row(
                    c["protocol"],
                    c["scenario"],
                    c["strategy"],
                    c["runs"],
                    campaign_extent(c),
                    f"{c['executions']:,}",
                    f"{c['failing_executions']:,}",
                    c["distinct_failures"],
                    f"{c['seconds']:.1f}",
                )
            )
        con.print(t)
    if report["failures"]:
        con.print("[bold]Failures[/] (replay with: uvmsim replay TOKEN)")
        for f in report["failures"]:
            where = f"{f['target']} {f['strategy'] or ''}".strip()
            seed = "" if f["first_seed"] is None else f", first at engine seed {f['first_seed']}"
            finding = f" [bold]{e(f['finding'])}[/]" if f["finding"] else ""
            con.print(
                f"[red]{e(f['protocol'])}[/] ({e(f['digest'])}) {e(where)}:{finding} "
                f"{e(str(f['kind']))}: {e(str(f['message']))} "
                f"\\[{f['executions']:,} executions{seed}]"
            )
            if f["token"]:
                con.print(f"  token: {e(f['token'])}", soft_wrap=True, highlight=False)
    else:
        con.print("no failures stored")
