"""`uvmsim sweep run` and `uvmsim report`: many runs into a store, and what the store says."""

from __future__ import annotations

import json
import sys
import time

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

from uvmsim.sweep.driver import SweepProgress, run_sweep
from uvmsim.sweep.executors import RunCrashed, make_executor
from uvmsim.sweep.report import (
    build_report,
    campaign_extent,
    check_plot_path,
    plot_scaling,
    write_html,
)
from uvmsim.sweep.spec import load_spec
from uvmsim.sweep.store import Store

DEFAULT_STORE = "uvmsim-results.sqlite"


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
@click.option("--json", "as_json", is_flag=True, help="Print the final counts as JSON.")
def sweep_run_cmd(
    spec_path: str, store_path: str, jobs: int | None, cluster: str | None, as_json: bool
) -> None:
    """Run every run of SPEC.toml that the store does not hold yet.

    The spec is validated completely before anything runs.  Each finished run is committed to
    the store on its own, so an interrupted sweep (Ctrl-C, a crash, SIGKILL) is resumed by
    running the same command again: finished runs are skipped, none is duplicated.  The
    spec format and the store schema are in docs/sweeps.md.

    \b
    Examples:
      uvmsim sweep run examples/sweep-scaling.toml
      uvmsim sweep run examples/sweep-campaign.toml --store campaign.sqlite --jobs 8
      uvmsim sweep run examples/sweep-scaling.toml --cluster tcp://10.0.0.5:8786
    """
    spec = load_spec(spec_path)
    Store.check(store_path)  # refuse a foreign or damaged store before connecting anywhere
    executor = make_executor(jobs, cluster)
    t0 = time.monotonic()
    err = Console(stderr=True)
    try:
        with Store.open(store_path) as store:
            state = _run_with_progress(spec, store, executor, err)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished runs are in {store_path}; run the same command to resume")
        sys.exit(130)
    except RunCrashed as exc:
        # not a finding of the model: Python code raised
        click.echo(
            f"uvmsim: error: {exc} (a bug in uvmsim or in the protocol's module); finished "
            f"runs are in {store_path}",
            err=True,
        )
        sys.exit(3)
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


def _run_with_progress(spec, store, executor, console: Console) -> SweepProgress:
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

    def update(state: SweepProgress) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(spec.name, total=state.total, failed=0)
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
    type=click.Path(file_okay=False),
    default=None,
    help="Also write a static HTML report (with the plot) into DIR.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the scaling curves (.png or .svg).",
)
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON document.")
def report_cmd(store_path: str, html_dir: str | None, plot: str | None, as_json: bool) -> None:
    """Scaling per protocol, lock tables, campaign totals and failures (with tokens) of a store.

    \b
    Examples:
      uvmsim report uvmsim-results.sqlite
      uvmsim report uvmsim-results.sqlite --plot scaling.png --html out/sweep
    """
    if plot:
        check_plot_path(plot)
    report = build_report(store_path)
    if plot and not plot_scaling(report, plot):
        click.echo("no simulation runs in the store: no plot written", err=True)
    if html_dir:
        index = write_html(report, html_dir)
        click.echo(f"wrote {index}", err=True)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    render_report(report)


def render_report(report: dict) -> None:
    con = Console(width=None if sys.stdout.isatty() else 140)
    con.print(
        f"[bold]{report['store']}[/]: {report['runs']['simulate']} simulation runs, "
        f"{report['runs']['explore']} exploration runs (uvmsim {report['uvmsim_version']}; "
        f"sweeps: {', '.join(report['sweeps']) or 'none'})"
    )
    for note in report["notes"]:
        con.print(f"[yellow]note:[/] {note}")
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
                s["workload"],
                s["protocol"],
                str(s["cpus"]),
                str(s["seeds"]),
                f"{s['throughput']:,.0f}",
                f"{s['throughput_min']:,.0f}..{s['throughput_max']:,.0f}",
                f"{100 * s['spin_share']:.1f}%",
                f"{s['system_per_op']:,.0f}",
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
                x["workload"],
                x["protocol"],
                str(x["cpus"]),
                x["lock"],
                f"{x['acquisitions_per_op']:.2f}",
                f"{x['contended_pct']:.1f}%",
                f"{x['wait_cycles_per_op']:,.0f}",
                f"{x['wait_max']:,}",
                f"{x['hold_avg']:,.0f}",
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
                c["protocol"],
                c["scenario"],
                c["strategy"],
                str(c["runs"]),
                campaign_extent(c),
                f"{c['executions']:,}",
                f"{c['failing_executions']:,}",
                str(c["distinct_failures"]),
                f"{c['seconds']:.1f}",
            )
        con.print(t)
    if report["failures"]:
        con.print("[bold]Failures[/] (replay with: uvmsim replay TOKEN)")
        for f in report["failures"]:
            where = f"{f['target']} {f['strategy'] or ''}".strip()
            seed = "" if f["first_seed"] is None else f", first at engine seed {f['first_seed']}"
            finding = f" [bold]{f['finding']}[/]" if f["finding"] else ""
            con.print(
                f"[red]{escape(f['protocol'])}[/] ({f['digest']}) {escape(where)}:{finding} "
                f"{f['kind']}: {escape(f['message'])} \\[{f['executions']:,} executions{seed}]"
            )
            if f["token"]:
                con.print(f"  token: {f['token']}", soft_wrap=True)
    else:
        con.print("no failures stored")
