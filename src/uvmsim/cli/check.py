"""`uvmsim check` and `uvmsim replay`: exit 0 nothing found, 1 failure found, 2 bad input.

The report is plain text laid out by uvmsim for the terminal's width ($COLUMNS, 80 when piped)
and written with click.echo, never through rich: no user text is taken for markup and the
replay token, alone on its line, is never wrapped (check/report.py).
"""

from __future__ import annotations

import json
import sys
import time

import click

from uvmsim.check.report import render, to_json
from uvmsim.check.result import Coverage
from uvmsim.check.strategies import STRATEGIES
from uvmsim.cli.status import EXIT_FOUND, EXIT_OK
from uvmsim.runs.check import CheckSpec, counterexample, replay, run_check


class _Progress:
    """A status line on stderr for runs longer than two seconds, on a terminal only."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, cov: Coverage) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.t0
        if elapsed < 2:
            return
        rate = cov.executions / elapsed if elapsed else 0
        sys.stderr.write(
            f"\r  executions {cov.executions:,}  traces {cov.traces:,}  "
            f"redundant {cov.redundant:,}  deepest {cov.deepest}  "
            f"{rate:,.0f}/s   "
        )
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 90 + "\r")
            sys.stderr.flush()


ANALYSES = ("annotations", "annotation_reads", "races", "witness", "deadlock")


@click.command("check")
@click.option(
    "--protocol",
    "-p",
    required=True,
    metavar="NAME|FILE.py:NAME",
    help="Protocol: a named one (uvmsim protocols) or your own.",
)
@click.option("--scenario", "-s", required=True, help="Scenario (uvmsim scenarios).")
@click.option(
    "--cpus",
    type=int,
    default=None,
    help="Grow the scenario: CPUs (default: its own; uvmsim scenarios says what each adds).",
)
@click.option(
    "--pages",
    type=int,
    default=None,
    help="Grow the scenario: pages of memory (default: its own, plus 4 per CPU or "
    "operation added).",
)
@click.option(
    "--ops", type=int, default=None, help="Grow the scenario: operations per CPU (default 1)."
)
@click.option(
    "--passes", type=int, default=None, help="Grow the scenario: pagedaemon passes (default 1)."
)
@click.option(
    "--strategy",
    default="dpor",
    show_default=True,
    metavar="NAME",
    help="; ".join(f"{name}: {cls.summary}" for name, cls in STRATEGIES.items()) + ".",
)
@click.option(
    "--preemptions",
    type=int,
    default=None,
    help="Preemption bound (bounded: default 2; dpor: none).",
)
@click.option(
    "--depth",
    type=int,
    default=None,
    help="Explore alternatives only in the first D steps (dpor, bounded).",
)
@click.option("--pct-depth", type=int, default=2, show_default=True, help="PCT bug depth d.")
@click.option(
    "--max-executions",
    type=int,
    default=None,
    help="Stop after N executions (random/pct: how many to run; default 1000).",
)
@click.option("--time-limit", type=float, default=None, help="Stop after SECONDS.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (random, pct).")
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=1,
    show_default=True,
    help="Local processes: random and pct split their executions, dpor and odpor their "
    "exploration tree (same traces and failures as one process).",
)
@click.option(
    "--cluster",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run on the Dask cluster of this scheduler instead of local processes (--jobs).",
)
@click.option(
    "--checkpoint",
    default=None,
    metavar="FILE",
    help="dpor, odpor: save the exploration's state to FILE as it goes and when stopped "
    "(budget, Ctrl-C); the same command resumes from it; removed when the run ends.",
)
@click.option("--no-races", is_flag=True, help="Switch off the happens-before race detector.")
@click.option("--no-annotations", is_flag=True, help="Switch off the lock-annotation check.")
@click.option("--no-witness", is_flag=True, help="Switch off lock-order checking.")
@click.option(
    "--reduce",
    is_flag=True,
    help="Do not schedule at accesses covered by their lock (fewer steps; races "
    "are still detected on every access).",
)
@click.option(
    "--max-steps", type=int, default=20_000, show_default=True, help="Step bound per execution."
)
@click.option("--no-minimize", is_flag=True, help="Print the counterexample as found.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def check_cmd(
    protocol: str,
    scenario: str,
    cpus: int | None,
    pages: int | None,
    ops: int | None,
    passes: int | None,
    strategy: str,
    preemptions: int | None,
    depth: int | None,
    pct_depth: int,
    max_executions: int | None,
    time_limit: float | None,
    seed: int,
    jobs: int,
    cluster: str | None,
    checkpoint: str | None,
    no_races: bool,
    no_annotations: bool,
    no_witness: bool,
    reduce: bool,
    max_steps: int,
    no_minimize: bool,
    as_json: bool,
) -> None:
    """Explore the interleavings of a scenario on a protocol; print what fails.

    \b
    Examples:
      uvmsim check -p seed -s pageclean-race
      uvmsim check -p seed-plain-wired -s wired-counter --strategy bounded --preemptions 2
      uvmsim check -p seed -s pdaemon-vs-free --strategy pct --max-executions 5000 -j 2
      uvmsim check -p seed-fixed -s flush-vs-fault --strategy odpor -j 2
      uvmsim check -p seed-fixed -s pageclean-race --cpus 4 --passes 2
      uvmsim check -p seed-fixed -s wired-counter --cluster tcp://10.0.0.5:8786
      uvmsim check -p examples/my_diff.py:SEED_MISSED_ANFREE -s pageclean-race --json

    Exit status: 0 nothing found, 1 a failure found, 2 bad usage or input, 3 internal
    error, 130 interrupted.
    """
    analyses = []
    if no_races:
        analyses.append(("races", False))
    if no_annotations:
        analyses.append(("annotations", False))
    if no_witness:
        analyses.append(("witness", False))
    sizes = {"cpus": cpus, "pages": pages, "ops": ops, "passes": passes}
    spec = CheckSpec(
        protocol=protocol,
        scenario=scenario,
        sizes=tuple((k, v) for k, v in sizes.items() if v is not None),
        strategy=strategy,
        preemptions=preemptions,
        depth=depth,
        pct_depth=pct_depth,
        max_executions=max_executions,
        time_limit=time_limit,
        seed=seed,
        jobs=jobs,
        cluster=cluster,
        checkpoint=checkpoint,
        analyses=tuple(sorted(analyses)),
        max_steps=max_steps,
        reduce=reduce,
        minimize=not no_minimize,
    )
    # The status line goes to stderr: whether stderr is a terminal decides, so that a
    # redirected stderr never collects carriage-return noise.
    progress = _Progress(enabled=not as_json and sys.stderr.isatty())
    res = run_check(spec, progress)
    progress.done()
    cx = counterexample(spec, res) if res.failure is not None else None
    if cx is not None:
        # Report the counterexample as minimized and replayed.
        res.failure = cx.explanation.failure
    if as_json:
        doc = to_json(
            res,
            cx.explanation if cx else None,
            cx.token if cx else None,
            cx.minimized if cx else None,
        )
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(
            render(
                res,
                cx.explanation if cx else None,
                cx.token if cx else None,
                cx.minimized if cx else None,
                timing=sys.stdout.isatty(),
            )
        )
    sys.exit(EXIT_FOUND if res.failure is not None else EXIT_OK)


@click.command("replay")
@click.argument("token", nargs=-1, required=True)
@click.option(
    "--protocol",
    "-p",
    default=None,
    metavar="FILE.py:NAME",
    help="The protocol file the token names: uvmsim never imports (runs) a file because a "
    "token names it, only when you name it here too.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def replay_cmd(token: tuple[str, ...], protocol: str | None, as_json: bool) -> None:
    """Re-run the counterexample a replay token encodes and print it again.

    The token may be pasted with line breaks or spaces in it (quoted or not): whitespace is
    ignored, and `-` reads it from standard input.

    \b
    Examples:
      uvmsim replay uvm1.eNqr....1a2b3c4d
      uvmsim replay -p examples/my_diff.py:SEED_MISSED_ANFREE uvm1.eNqr....1a2b3c4d

    Exit status: 1 if the failure reproduces, 0 if the run passes, 2 for a bad token.
    """
    text = sys.stdin.read() if token == ("-",) else "".join(token)
    _spec, res, ex, same = replay(text, protocol)
    whole = "".join(text.split())
    if not same:
        res.notes.append(
            "warning: this replay did not reproduce the failure the token "
            "recorded (the model changed since?)"
        )
    if as_json:
        click.echo(json.dumps(to_json(res, ex, whole), indent=2))
    else:
        click.echo(render(res, ex, whole))
    sys.exit(EXIT_FOUND if res.failure is not None else EXIT_OK)
