"""`uvmsim fuzz`: generated kernel workloads, coverage-guided; exit 0 nothing found, 1 found.

The report is plain text (click.echo, like `check`): a summary line, then one block per
failure group with the minimized scenario file and its replay token alone on its line.
Elapsed times are printed only on a terminal, so that piped output depends on nothing but
the arguments (with --programs; --time-limit runs as many programs as fit).
"""

from __future__ import annotations

import json
import os
import sys
import time

import click

from uvmsim.cli.status import EXIT_FOUND, EXIT_OK
from uvmsim.machine.failure import InputError
from uvmsim.output_files import probe_directory
from uvmsim.runs.fuzz import (
    UNREACHABLE_WHY,
    FuzzResult,
    FuzzSpec,
    fuzz,
    hunk_reach,
    minimize_group,
    model_functions,
    write_group,
)
from uvmsim.runs.names import get_protocol
from uvmsim.scenarios.program import VERBS


class _Progress:
    """A status line on stderr for campaigns longer than two seconds, on a terminal only."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, res: FuzzResult) -> None:
        if not self.enabled or time.monotonic() - self.t0 < 2:
            return
        sys.stderr.write(
            f"\r  programs {res.programs:,}  executions {res.executions:,}  corpus "
            f"{len(res.corpus):,}  features {len(res.features):,}  failures "
            f"{len(res.groups)}   "
        )
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


def _operations_help() -> str:
    return "; ".join(f"{name} ({v.actor})" for name, v in VERBS.items())


@click.command("fuzz")
@click.option("--protocol", "-p", required=True, metavar="NAME|FILE.py:NAME", help="Protocol.")
@click.option("--programs", type=int, default=None, help="Run N programs.")
@click.option("--time-limit", type=float, default=None, help="Run programs for SECONDS.")
@click.option("--seed", type=int, default=0, show_default=True, help="Campaign seed.")
@click.option("--jobs", "-j", type=int, default=1, show_default=True, help="Local processes.")
@click.option(
    "--cluster", default=None, metavar="ADDRESS", help="Run programs on this Dask scheduler."
)
@click.option(
    "--corpus",
    default=None,
    metavar="DIR",
    help="Start from the programs in DIR and keep the new corpus there (scenario files).",
)
@click.option(
    "--out",
    default="uvmsim-fuzz",
    show_default=True,
    metavar="DIR",
    help="Where the minimized failing scenarios are written.",
)
@click.option("--pct", type=int, default=12, show_default=True, help="PCT runs per program.")
@click.option("--random", "random_", type=int, default=12, show_default=True, help="Random runs.")
@click.option("--no-faults", is_flag=True, help="No injected swap failures in the worlds.")
@click.option("--no-minimize", is_flag=True, help="Write failing programs as found.")
@click.option(
    "--minimize-budget",
    type=int,
    default=40,
    show_default=True,
    help="Executions per candidate while shrinking a program (a second pass: 4x).",
)
@click.option(
    "--coverage",
    is_flag=True,
    help="Also report the model functions and the diff's hunks no program reached.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def fuzz_cmd(
    protocol: str,
    programs: int | None,
    time_limit: float | None,
    seed: int,
    jobs: int,
    cluster: str | None,
    corpus: str | None,
    out: str,
    pct: int,
    random_: int,
    no_faults: bool,
    no_minimize: bool,
    minimize_budget: int,
    coverage: bool,
    as_json: bool,
) -> None:
    """Generate kernel workloads, run each under PCT and random schedules, keep those that
    reach new model code or lock pairs, mutate them; minimize every failure to a scenario.

    Programs are legal kernel workloads of 2-6 CPUs (docs/fuzz.md): processes that fault,
    wire, madvise, msync, fork, exit; the pagedaemon under memory pressure; the aiodone
    daemon; kernel threads with kernel memory, buffers and file flushes.  Every failure is
    grouped by signature (a recorded finding's label, e.g. F1), shrunk (fewer operations and
    CPUs, then fewer preemptions) and written to --out as FILE.toml, which
    `uvmsim check --scenario FILE.toml` runs, with its replay token.

    \b
    Examples:
      uvmsim fuzz -p seed --programs 200
      uvmsim fuzz -p seed-fixed --time-limit 600 -j 2 --corpus corpus/
      uvmsim fuzz -p seed --programs 500 --coverage
      uvmsim check -p seed --scenario uvmsim-fuzz/fuzz-seed-F1.toml

    Exit status: 0 nothing found, 1 a failure found, 2 bad usage or input, 3 internal
    error, 130 interrupted.
    """
    spec = FuzzSpec(
        protocol=protocol,
        programs=programs,
        time_limit=time_limit,
        seed=seed,
        jobs=jobs,
        cluster=cluster,
        pct=pct,
        random=random_,
        faults=not no_faults,
        corpus=corpus,
        coverage=coverage,
    )
    spec.validate()
    if minimize_budget < 2:
        raise click.BadParameter("must be at least 2", param_hint="--minimize-budget")
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"--out {out}: not a directory")
    os.makedirs(out, exist_ok=True)
    probe_directory(out, f"--out {out}")
    progress = _Progress(enabled=not as_json and sys.stderr.isatty())
    res = fuzz(spec, progress)
    progress.done()
    for group in res.groups.values():
        if not no_minimize:
            minimize_group(spec, group, minimize_budget)
        else:
            group.minimized = group.first.program.with_name(group.name)
        write_group(out, spec, group)
    timing = sys.stdout.isatty()
    if as_json:
        click.echo(json.dumps(_to_json(res, coverage), indent=2))
    else:
        click.echo(_render(res, coverage, timing))
    sys.exit(EXIT_FOUND if res.groups else EXIT_OK)


def _render(res: FuzzResult, coverage: bool, timing: bool) -> str:
    spec = res.spec
    proto = get_protocol(spec.protocol)
    hunks = hunk_reach(res.switches, proto)
    reached = sum(h.reached for h in hunks)
    lines = [
        f"fuzz {spec.protocol} (seed {spec.seed}): {res.programs} programs, "
        f"{res.executions} executions ({res.stalls} stalled), corpus {len(res.corpus)}, "
        f"{len(res.features)} features, {reached}/{len(hunks)} hunks reached"
        + (f", {res.elapsed:.1f} s" if timing else "")
    ]
    if not res.groups:
        lines.append("nothing found")
    for g in res.groups.values():
        first = g.first
        msg = (g.explanation.failure if g.explanation else first.failure).message.splitlines()[0]
        lines.append("")
        lines.append(f"{g.label if '|' not in g.label else g.first.failure.kind}: {msg}")
        when = f" after {g.seconds:.1f} s" if timing else ""
        lines.append(
            f"  first in program {g.program_index}{when} ({first.engine}); "
            f"programs that failed this way: {g.programs_failed}"
        )
        if g.minimized is not None:
            lines.append(
                f"  minimized: {g.minimized.size()} operations on {len(g.minimized.cpus)} CPUs "
                f"(from {first.program.size()} on {len(first.program.cpus)})"
                + (f", {g.preemptions} preemptions" if g.preemptions is not None else "")
            )
        lines.append(f"  scenario: {g.file}")
        lines.append(f"  check it: uvmsim check -p {spec.protocol} --scenario {g.file}")
        if g.token:
            lines.append("  replay: uvmsim replay \\")
            lines.append(g.token)
    if coverage:
        lines += ["", *_coverage_lines(res, hunks)]
    return "\n".join(lines)


def _coverage_lines(res: FuzzResult, hunks: list) -> list[str]:
    lines = ["hunks of the diff (a switch read by the hunk's function):"]
    for h in hunks:
        lines.append(f"  {h.number:2d} {h.function}: {h.how}")
    if res.functions:
        missing = [f for f in model_functions() if f not in res.functions]
        lines.append(
            f"model functions reached: {len(model_functions()) - len(missing)} of "
            f"{len(model_functions())}; not reached:"
        )
        for name in missing:
            why = UNREACHABLE_WHY.get(name.split(".", 1)[1], "")
            lines.append(f"  {name}" + (f": {why}" if why else ""))
    return lines


def _to_json(res: FuzzResult, coverage: bool) -> dict:
    spec = res.spec
    proto = get_protocol(spec.protocol)
    hunks = hunk_reach(res.switches, proto)
    doc = {
        "protocol": spec.protocol,
        "seed": spec.seed,
        "programs": res.programs,
        "executions": res.executions,
        "stalls": res.stalls,
        "corpus": len(res.corpus),
        "features": len(res.features),
        "hunks_reached": [h.number for h in hunks if h.reached],
        "failures": [
            {
                "label": g.label,
                "kind": g.first.failure.kind,
                "message": g.first.failure.message,
                "first_program": g.program_index,
                "programs_failed": g.programs_failed,
                "found_by": g.first.engine,
                "operations": g.minimized.size() if g.minimized else None,
                "cpus": len(g.minimized.cpus) if g.minimized else None,
                "original_operations": g.first.program.size(),
                "original_cpus": len(g.first.program.cpus),
                "preemptions": g.preemptions,
                "scenario": g.file,
                "replay_token": g.token,
            }
            for g in res.groups.values()
        ],
    }
    if coverage:
        doc["hunks"] = [{"hunk": h.number, "reached": h.reached, "how": h.how} for h in hunks]
        if res.functions:
            doc["functions_not_reached"] = [f for f in model_functions() if f not in res.functions]
    return doc
