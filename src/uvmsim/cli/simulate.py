"""`uvmsim simulate` and `uvmsim scale`: the timed simulator from the command line.

Bad numbers are refused before anything runs (one line, exit 2): `--cycles` must be finite
and positive, CPU counts between 1 and `MAX_CPUS`.  On a terminal a progress bar runs on
stderr (a simulation takes seconds); `--json` or a stderr that is not a terminal turns it off.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from uvmsim.cli.status import EXIT_FOUND
from uvmsim.console import console, table_fits
from uvmsim.machine.failure import InputError
from uvmsim.output_files import save_figure, write_atomically
from uvmsim.runs.names import get_protocol, get_workload
from uvmsim.runs.simulate import simulate
from uvmsim.simulate.costs import CPU_HZ
from uvmsim.simulate.outputs import chrome_trace_text, folded_text
from uvmsim.simulate.run import MAX_CPUS, SimResult, check_cpus, check_cycles
from uvmsim.workloads import WORKLOADS

# for --help: the registry's names, so a new workload cannot be left out of it
_WORKLOAD_NAMES = ", ".join(sorted(WORKLOADS)[:-1]) + " or " + sorted(WORKLOADS)[-1]

_EXTRA = {"ignore_unknown_options": True, "allow_extra_args": True}


class WorkloadHelp(click.Command):
    """A command whose --help ends with every workload's options and their defaults.

    Generated from the workload classes when help is asked for, so it never drifts from
    what `--name value` accepts (and importing the workloads costs nothing otherwise).
    """

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        with formatter.section("Workload options (--name value, after the command's own)"):
            for i, wl in enumerate(WORKLOADS.values()):
                if i:
                    formatter.write_paragraph()
                formatter.write_text(f"{wl.name}: {wl.summary}")
                with formatter.indentation():
                    formatter.write_dl([_option_help(o) for o in wl.options] or [("none", "")])


def _option_help(o: Any) -> tuple[str, str]:
    kind = "|".join(o.choices) if o.choices else o.type.__name__.upper()
    text = f"{o.help} (default {o.default}"
    if o.minimum is not None and not o.choices:
        text += f"; >= {o.minimum}"
    return f"--{o.name} {kind}", text + ")"


def workload_options(workload: str, args: list[str]) -> dict[str, Any]:
    """`--name value` pairs after the known options, checked against the workload."""
    wl = get_workload(workload)
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise InputError(f"unexpected argument {arg!r}")
        name, _, value = arg[2:].partition("=")
        if not value:
            if i + 1 >= len(args):
                raise InputError(f"workload option --{name} needs a value")
            value = args[i + 1]
            i += 1
        out[name.replace("-", "_")] = value
        i += 1
    wl.parse(out)  # validate now: one clear line for an unknown, ill-typed or non-finite option
    return out


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(enabled: bool, runs: int) -> Iterator[Callable[..., Any] | None]:
    """A rich progress bar on stderr over `runs` simulations; yields `start(label)`.

    `start(label)` begins the next run and returns the `progress` callback to give
    `simulate()`; the bar advances by the fraction each run reports.  Yields None when
    disabled (`--json`, or stderr not a terminal): the output is then exactly the same.
    """
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True, force_terminal=True),
        transient=True,
    )
    task = bar.add_task("simulating", total=runs)
    done = 0

    def start(label: str) -> Callable[[int, float | None], None]:
        nonlocal done
        base = done
        done += 1
        bar.update(task, description=escape(label), completed=base)

        def progress(ops: int, fraction: float | None) -> None:
            if fraction is None:
                bar.update(task, description=escape(f"{label}: {ops:,} operations"))
            else:
                bar.update(task, completed=base + fraction)

        return progress

    with bar:
        yield start


def _console() -> Console:
    """The terminal's width, or $COLUMNS; piped without $COLUMNS, 140 (the lock tables'
    natural width, so that a file of results has them whole)."""
    wide = sys.stdout.isatty() or "COLUMNS" in os.environ
    return console(width=None if wide else 140)


def _minsec(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m)}m{s:06.3f}s"


def time_line(t: dict[str, float]) -> str:
    """`time(1)`'s line: real, user and sys as minutes and seconds."""
    return "  ".join(f"{k} {_minsec(t[k])}" for k in ("real", "user", "sys"))


def render_run(r: SimResult) -> None:
    con = _console()
    ct = r.cpu_time
    total = sum(ct.values()) or 1
    con.print(
        f"[bold]{escape(r.workload)}[/] on [bold]{escape(r.protocol)}[/], {r.cpus} CPUs, "
        f"seed {r.seed}: "
        f"{r.ops} operations in {r.cycles / CPU_HZ * 1e3:.2f} ms simulated, "
        f"{r.throughput:,.0f} ops/s"
    )
    con.print("CPU time: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in ct.items()))
    con.print(time_line(r.time()))
    if r.time_scale != 1.0:
        con.print(f"{time_line(r.time(scaled=True))}  (jobs at their real size: {r.time_scale:g}x)")
    t = Table(title="locks (by total wait)")
    for col in (
        "lock",
        "acq",
        "contended",
        "wait total",
        "wait avg",
        "wait max",
        "hold avg",
        "hold max",
        "handoffs",
    ):
        t.add_column(col, justify="right" if col != "lock" else "left", overflow="fold")
    rows = sorted(r.locks.items(), key=lambda kv: -kv[1]["wait_cycles"])
    for name, s in rows[:10]:
        t.add_row(
            escape(name),
            f"{s['acquisitions']:,}",
            f"{s['contended']:,}",
            f"{s['wait_cycles']:,}",
            f"{s['wait_avg']:,}",
            f"{s['wait_max']:,}",
            f"{s['hold_avg']:,}",
            f"{s['hold_max']:,}",
            f"{s['handoffs']:,}",
        )
    con.print(t)
    sites = [(lock, site, s) for lock, d in r.locks.items() for site, s in d["sites"].items()]
    sites.sort(key=lambda x: -x[2]["wait_cycles"])
    t2 = Table(title="contended call sites (by total wait)")
    for col in ("lock", "site", "acq", "contended", "wait total", "hold avg"):
        t2.add_column(col, overflow="fold")
    for lock, site, s in sites[:10]:
        if s["contended"]:
            t2.add_row(
                escape(lock),
                escape(site),
                f"{s['acquisitions']:,}",
                f"{s['contended']:,}",
                f"{s['wait_cycles']:,}",
                f"{s['hold_avg']:,}",
            )
    con.print(t2)
    counters = ", ".join(f"{k} {v}" for k, v in r.counters.items())
    if counters:
        con.print(f"counters: {counters}", markup=False, highlight=False)


@click.command("simulate", cls=WorkloadHelp, context_settings=_EXTRA)
@click.option("--protocol", "-p", required=True, metavar="NAME|FILE.py:NAME")
@click.option(
    "--workload",
    "-w",
    required=True,
    help=f"{_WORKLOAD_NAMES} (their options: below).",
)
@click.option("--cpus", "-n", type=int, required=True, help=f"Number of CPUs, 1..{MAX_CPUS}.")
@click.option("--ops", type=int, default=None, help="Stop after N workload operations.")
@click.option(
    "--cycles", type=float, default=None, help="Stop after N simulated cycles (finite, > 0)."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--discipline",
    type=click.Choice(["cas", "fifo"]),
    default="cas",
    show_default=True,
    help="Spin mutex hand-off order.",
)
@click.option("--json", "as_json", is_flag=True, help="The result as JSON (docs/simulator.md).")
@click.option(
    "--folded",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write folded stacks of simulated CPU time (for flamegraph.pl).",
)
@click.option(
    "--trace",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a Chrome/Perfetto trace (lock waits and holds per CPU).",
)
@click.pass_context
def simulate_cmd(
    ctx: click.Context,
    protocol: str,
    workload: str,
    cpus: int,
    ops: int | None,
    cycles: float | None,
    seed: int,
    discipline: str,
    as_json: bool,
    folded: str | None,
    trace: str | None,
) -> None:
    """Run a workload on N simulated CPUs; report lockstat-style contention.

    Workload options follow as --name value (listed with their defaults at the end of this
    help): e.g. --think 9000 --hold 1000 --handoff 300 for spinlock.  On a terminal a
    progress bar runs on stderr (not with --json).

    \b
    Examples:
      uvmsim simulate -p seed -w build -n 32 --ops 20000
      uvmsim simulate -p seed -w make -n 64 --kind kernel    # a whole make -j64 kernel build
      uvmsim simulate -p openbsd-pre -w flush -n 16 --json
      uvmsim simulate -p seed -w spinlock -n 16 --think 9000 --hold 1000 --discipline fifo
      uvmsim simulate -p seed -w build -n 16 --folded out.folded --trace out.json
    """
    check_cpus(cpus)
    check_cycles(cycles)
    opts = workload_options(workload, list(ctx.args))
    proto = get_protocol(protocol)
    with progress_bar(not as_json and _stderr_is_tty(), 1) as start:
        r = simulate(
            workload,
            proto,
            cpus,
            ops=ops,
            cycles=cycles,
            seed=seed,
            options=opts,
            discipline=discipline,
            folded=folded is not None,
            trace=trace is not None,
            progress=start(f"{workload} on {proto.name}, {cpus} CPUs") if start else None,
        )
    if folded:
        write_atomically(folded, folded_text(r))
    if trace:
        write_atomically(trace, chrome_trace_text(r))
    if as_json:
        click.echo(json.dumps(r.to_json(), indent=2))
    else:
        render_run(r)
    if r.failure:
        click.echo(f"the run failed: {r.failure}", err=True)
        sys.exit(EXIT_FOUND)


def parse_list(text: str, what: str, conv: Any = str) -> list:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise InputError(f"{what}: needs at least one value")
    try:
        return [conv(x) for x in items]
    except ValueError:
        raise InputError(
            f"{what}: {text!r} is not a comma-separated list of {conv.__name__}s"
        ) from None


def scale_rows(
    protocols: list[str],
    workload: str,
    cpus: list[int],
    ops: int,
    seed: int,
    opts: dict,
    discipline: str = "cas",
    start: Callable[..., Any] | None = None,
    ops_per_cpu: int | None = None,
) -> list[dict]:
    """One simulation per protocol x CPU count; `start(label)` (progress_bar) if given;
    `ops_per_cpu`, if given, replaces `ops` by that many per CPU."""
    rows = []
    for p in protocols:
        proto = get_protocol(p)
        for n in cpus:
            r = simulate(
                workload,
                proto,
                n,
                ops=ops if ops_per_cpu is None else ops_per_cpu * n,
                seed=seed,
                options=opts,
                discipline=discipline,
                progress=start(f"{proto.name}, {n} CPUs") if start else None,
            )
            ct = r.cpu_time
            total = sum(ct.values()) or 1
            rows.append(
                {
                    "protocol": proto.name,
                    "cpus": n,
                    "ops": r.ops,
                    "system_per_op": (ct["system"] + ct["spin"]) / max(1, r.ops),
                    "sys_over_user": (ct["system"] + ct["spin"]) / (ct["user"] or 1),
                    "spin_share": ct["spin"] / total,
                    "throughput": r.throughput,
                    "pageq_wait": r.locks.get("pageqlock", {}).get("wait_cycles", 0),
                    "fpageq_wait": r.locks.get("fpageqlock", {}).get("wait_cycles", 0),
                    "result": r.to_json(),
                }
            )
    return rows


def plot_scale(rows: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not path.endswith((".png", ".svg")):
        raise InputError(f"--plot: {path!r} must end in .png or .svg")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for proto in dict.fromkeys(r["protocol"] for r in rows):
        mine = [r for r in rows if r["protocol"] == proto]
        xs = [r["cpus"] for r in mine]
        axes[0].plot(xs, [r["system_per_op"] / 1000 for r in mine], marker="o", label=proto)
        axes[1].plot(xs, [100 * r["spin_share"] for r in mine], marker="o", label=proto)
        axes[2].plot(xs, [r["throughput"] / 1000 for r in mine], marker="o", label=proto)
    for ax, label in zip(
        axes,
        ("system kcycles / operation", "spin, % of CPU time", "throughput, k ops / s"),
        strict=True,
    ):
        ax.set_xlabel("CPUs")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)


@click.command("scale", cls=WorkloadHelp, context_settings=_EXTRA)
@click.option("--protocol", "-p", "protocols", required=True, metavar="P1,P2,...")
@click.option("--workload", "-w", required=True, help=f"{_WORKLOAD_NAMES} (options: below).")
@click.option(
    "--cpus",
    "-n",
    "cpus",
    default="8,16,32,64",
    show_default=True,
    help=f"CPU counts, each 1..{MAX_CPUS}.",
)
@click.option(
    "--ops", type=int, default=5000, show_default=True, help="Workload operations per run."
)
@click.option(
    "--ops-per-cpu",
    type=int,
    default=None,
    help="Instead of --ops: this many operations per CPU (every run as long per CPU).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--discipline", type=click.Choice(["cas", "fifo"]), default="cas")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the scaling curves (.png or .svg).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def scale_cmd(
    ctx: click.Context,
    protocols: str,
    workload: str,
    cpus: str,
    ops: int,
    ops_per_cpu: int | None,
    seed: int,
    discipline: str,
    plot: str | None,
    as_json: bool,
) -> None:
    """Run a workload at several CPU counts for one or more protocols, side by side.

    Workload options follow as --name value (listed at the end of this help).  On a
    terminal a progress bar runs on stderr (not with --json).

    \b
    Examples:
      uvmsim scale -p openbsd-pre,seed -w build -n 8,16,32,64 --plot scale.png
      uvmsim scale -p openbsd-2024-nocache,openbsd-pre -w build --json
      uvmsim scale -p openbsd-pre,seed -w make -n 16,32,64,80 --jobs -1 --ops-per-cpu 60
    """
    plist = parse_list(protocols, "--protocol")
    nlist = parse_list(cpus, "--cpus", int)
    for n in nlist:
        check_cpus(n)
    if ops < 1:
        raise InputError(f"--ops must be a positive integer, got {ops}")
    if ops_per_cpu is not None and ops_per_cpu < 1:
        raise InputError(f"--ops-per-cpu must be a positive integer, got {ops_per_cpu}")
    if plot and not plot.endswith((".png", ".svg")):
        # Said before the runs, not after them.
        raise InputError(f"--plot: {plot!r} must end in .png or .svg")
    opts = workload_options(workload, list(ctx.args))
    with progress_bar(not as_json and _stderr_is_tty(), len(plist) * len(nlist)) as start:
        rows = scale_rows(plist, workload, nlist, ops, seed, opts, discipline, start, ops_per_cpu)
    names = list(dict.fromkeys(r["protocol"] for r in rows))  # the protocols' own names
    if plot:
        plot_scale(rows, plot, f"{workload}: " + " vs ".join(names))
    if as_json:
        click.echo(
            json.dumps({"workload": workload, "runs": [r["result"] for r in rows]}, indent=2)
        )
        return
    print_scale(rows, names, nlist, workload, _console())


def print_scale(
    rows: list[dict], names: list[str], cpus: list[int], workload: str, con: Console
) -> None:
    """CPUs down, a column per protocol and figure; where that does not fit, a row per
    CPU count and protocol (never a cut protocol name)."""
    by = {(r["cpus"], r["protocol"]): r for r in rows}
    title = f"{escape(workload)}: scaling"
    wide = Table(title=title)
    for col in (
        "CPUs",
        *[f"{p}: sys/op" for p in names],
        *[f"{p}: spin" for p in names],
        *[f"{p}: ops/s" for p in names],
    ):
        wide.add_column(escape(col), justify="right")
    for n in cpus:
        wide.add_row(
            str(n),
            *[f"{by[n, p]['system_per_op']:,.0f}" for p in names],
            *[f"{100 * by[n, p]['spin_share']:.1f}%" for p in names],
            *[f"{by[n, p]['throughput']:,.0f}" for p in names],
        )
    if table_fits(con, wide):
        con.print(wide)
        return
    long = Table(title=title)
    for col in ("CPUs", "protocol", "sys/op", "spin", "ops/s"):
        long.add_column(col, justify="left" if col == "protocol" else "right", overflow="fold")
    for n in cpus:
        for i, p in enumerate(names):
            r = by[n, p]
            long.add_row(
                str(n) if i == 0 else "",
                escape(p),
                f"{r['system_per_op']:,.0f}",
                f"{100 * r['spin_share']:.1f}%",
                f"{r['throughput']:,.0f}",
                end_section=i == len(names) - 1,
            )
    con.print(long)
