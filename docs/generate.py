"""Regenerate the tables and outputs the docs quote, from the commands they quote.

    python docs/generate.py            # rewrite every generated block (make docs)
    python docs/generate.py --check    # exit 1, naming the blocks, if any differs

A generated block in a Markdown file is

    <!-- generated: VIEW ARGS... -->
    ...
    <!-- end generated -->

where VIEW names a function below and ARGS are the `uvmsim` arguments it runs (the command a
reader can type: `uvmsim scale ARGS --json` for the `scale` view).  Nothing between the two
markers is typed by hand.  Plots named by a `--plot` argument are rewritten by `make docs`
and not compared by `--check` (their bytes depend on the matplotlib version).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from contextlib import redirect_stdout

from click.testing import CliRunner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ("README.md", "docs/simulator.md", "docs/checker.md", "docs/review.md")
BLOCK = re.compile(
    r"(<!-- generated: (?P<spec>.*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S
)


def _uvmsim(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    from uvmsim.cli import main

    r = CliRunner().invoke(main, args, env={"COLUMNS": "80", **(env or {})})
    return r.exit_code, r.output


def _json(args: list[str]) -> dict:
    code, out = _uvmsim([*args, "--json"])
    if code not in (0, 1):
        raise RuntimeError(f"uvmsim {' '.join(args)} exited {code}: {out[-500:]}")
    return json.loads(out)


def _table(header: list[str], rows: list[list[str]], right_from: int = 1) -> str:
    aligns = ["---" if i < right_from else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _without_plot(args: list[str], plot: bool) -> list[str]:
    out, i = [], 0
    while i < len(args):
        if args[i] == "--plot":
            if plot:
                out += args[i : i + 2]
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


def view_scale(args: list[str], plot: bool) -> str:
    """`uvmsim scale ARGS`: per CPU count, system cycles per operation, spin share and
    throughput of each protocol."""
    if plot and "--plot" in args:
        _uvmsim(["scale", *_without_plot(args, True)])
    doc = _json(["scale", *_without_plot(args, False)])
    protos = list(dict.fromkeys(r["protocol"] for r in doc["runs"]))
    by = {(r["protocol"], r["cpus"]): r for r in doc["runs"]}
    cpus = sorted({r["cpus"] for r in doc["runs"]})
    header = ["CPUs"]
    header += [f"{p} sys/op" for p in protos] + [f"{p} spin" for p in protos]
    header += [f"{p} ops/s" for p in protos]
    rows = []
    for n in cpus:
        runs = [by[(p, n)] for p in protos]
        row = [str(n)]
        row += [f"{r['cpu_time']['system'] / max(1, r['ops']):,.0f}" for r in runs]
        row += [f"{100 * r['cpu_time']['spin'] / sum(r['cpu_time'].values()):.1f}%" for r in runs]
        row += [f"{r['throughput']:,.0f}" for r in runs]
        rows.append(row)
    return _table(header, rows)


def view_flush(args: list[str], plot: bool) -> str:
    """`uvmsim simulate -w flush ARGS` for each `-p` and `-n` given (comma lists)."""
    protos = args[args.index("-p") + 1].split(",")
    cpus = args[args.index("-n") + 1].split(",")
    rest = [
        a for i, a in enumerate(args) if a not in ("-p", "-n") and args[i - 1] not in ("-p", "-n")
    ]
    rows = []
    for n in cpus:
        for p in protos:
            doc = _json(["simulate", "-w", "flush", "-p", p, "-n", n, *rest])
            f = doc["locks"].get("fpageqlock", {})
            flushes = max(1, doc["ops"] // 2)
            rows.append(
                [
                    n,
                    doc["protocol"],
                    f"{f.get('acquisitions', 0):,}",
                    f"{f.get('acquisitions', 0) / flushes:.2f}",
                    f"{f.get('contended', 0):,}",
                    f"{f.get('wait_cycles', 0):,}",
                    f"{doc['throughput']:,.0f}",
                ]
            )
    header = ["CPUs", "protocol", "fpageq acq", "per flush", "contended", "wait cycles", "ops/s"]
    return _table(header, rows, right_from=2)


def view_calibration(args: list[str], plot: bool) -> str:
    """The build workload against calibration.md §1 (`python -m uvmsim.runs.calibration`)."""
    from uvmsim.runs.calibration import POINTS, simulate_points
    from uvmsim.workloads.build import FITTED

    rows = []
    for point, res in zip(POINTS, simulate_points(FITTED), strict=True):
        pid, kind, n, proto = point[:4]
        rows.append(
            [
                f"{pid} {kind}, {n}, {proto}",
                f"{res.published:.3f}",
                f"{res.simulated:.3f}",
                f"{100 * res.error:+.1f}%",
            ]
        )
    return _table(["point", "published sys/user", "simulated", "error"], rows)


def view_workloads(args: list[str], plot: bool) -> str:
    """The workload registry: name, summary, options with defaults."""
    from uvmsim.workloads import WORKLOADS

    rows = [
        [f"`{w.name}`", w.summary, ", ".join(f"`{o.name}` ({o.default})" for o in w.options)]
        for w in WORKLOADS.values()
    ]
    return _table(["workload", "what it does", "options (default)"], rows, right_from=99)


def view_check(args: list[str], plot: bool) -> str:
    """`uvmsim check ARGS` as printed through a pipe (80 columns), in a code block."""
    _code, out = _uvmsim(["check", *args])
    return "```\n" + out + "```\n"


def view_review(args: list[str], plot: bool) -> str:
    """`uvmsim review ARGS`: the verdicts, their summaries and controls, as a table."""
    doc = _json(["review", *args])
    rows = []
    for q in doc["questions"]:
        control = q["control"]
        flipped = "flipped" if control and control["flipped"] else "did NOT flip"
        rows.append(
            [
                q["id"],
                q["verdict"],
                q["summary"].replace("|", "\\|"),
                f"{control['what']}: expected {control['expected']}, {flipped}".replace("|", "\\|"),
            ]
        )
    table = _table(["", "verdict", "summary", "control"], rows, right_from=99)
    return table + f"\nR7 mutation score {doc['mutation']['score']}.\n"


VIEWS: dict[str, Callable[[list[str], bool], str]] = {
    "scale": view_scale,
    "flush": view_flush,
    "calibration": view_calibration,
    "workloads": view_workloads,
    "check": view_check,
    "review": view_review,
}


def blocks(text: str) -> list[tuple[str, str]]:
    """(spec, body) of every generated block in `text`."""
    return [(m.group("spec"), m.group("body")) for m in BLOCK.finditer(text)]


def render(spec: str, plot: bool = False) -> str:
    view, *args = shlex.split(spec)
    if view not in VIEWS:
        raise SystemExit(f"docs/generate.py: unknown view {view!r} in <!-- generated: {spec} -->")
    with redirect_stdout(io.StringIO()):
        return VIEWS[view](args, plot)


def regenerate(path: str, plot: bool) -> str:
    with open(path) as fh:
        text = fh.read()
    return BLOCK.sub(lambda m: m.group(1) + render(m.group("spec"), plot) + m.group(4), text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    os.chdir(ROOT)
    stale = []
    for rel in FILES:
        new = regenerate(rel, plot=not check)
        with open(rel) as fh:
            old = fh.read()
        if new != old:
            stale.append(rel)
            if not check:
                with open(rel, "w") as fh:
                    fh.write(new)
    if check and stale:
        print("generated blocks differ from their commands in: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
