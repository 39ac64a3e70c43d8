"""Regenerate the tables and outputs the docs quote, from the commands they quote.

    python docs/generate.py            # rewrite every generated block (make docs)
    python docs/generate.py --check    # exit 1, naming the blocks, if any differs
    python docs/generate.py --check --all  # the same, rerunning even the stamped slow blocks

A generated block in a Markdown file is

    <!-- generated: VIEW ARGS... -->
    ...
    <!-- end generated -->

where VIEW names a function below and ARGS are the `uvmsim` arguments it runs (the command a
reader can type: `uvmsim scale ARGS --json` for the `scale` view).  Nothing between the two
markers is typed by hand.  Plots named by a `--plot` argument are rewritten by `make docs`
and not compared by `--check` (their bytes depend on the matplotlib version).

The slow views (the full review, R8's band, the make-scale sweeps: minutes each) are stamped:
`make docs` records in docs/generated.lock, per block, a digest of every source file the
output can depend on (src/uvmsim, examples, this file, pyproject.toml) and of the body it
wrote.  `--check` (and tests/test_docs.py) reruns a slow block only when its stamp does not
match, that is, when the sources or the block changed since `make docs`; every other block is
rerun every time.
"""

from __future__ import annotations

import hashlib
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
FILES = (
    "README.md",
    "docs/simulator.md",
    "docs/checker.md",
    "docs/review.md",
    "docs/findings.md",
    "docs/fuzz.md",
    "docs/compare.md",
)
LOCK = os.path.join(ROOT, "docs", "generated.lock")
# Views that take minutes: their blocks are stamped rather than rerun by --check.
SLOW = frozenset({"review", "r8", "r8-sensitivity", "make-scale", "compare", "compare-batching"})
# What a generated output can depend on, relative to ROOT.
SOURCE_DIRS = ("src/uvmsim", "examples")
SOURCE_FILES = ("docs/generate.py", "pyproject.toml")
SOURCE_SUFFIXES = (".py", ".json", ".toml")
BLOCK = re.compile(
    r"(<!-- generated: (?P<spec>.*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S
)


def _uvmsim(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    from uvmsim.cli import main

    r = CliRunner().invoke(main, args, env={"COLUMNS": "80", **(env or {})})
    return r.exit_code, r.output


_RUNS: dict[tuple[str, ...], dict] = {}


def _json(args: list[str]) -> dict:
    """`uvmsim ARGS --json`, run once per generation however many views quote it."""
    key = tuple(args)
    if key not in _RUNS:
        code, out = _uvmsim([*args, "--json"])
        if code not in (0, 1):
            raise RuntimeError(f"uvmsim {' '.join(args)} exited {code}: {out[-500:]}")
        _RUNS[key] = json.loads(out)
    return _RUNS[key]


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


def view_time(args: list[str], plot: bool) -> str:
    """The time(1) lines `uvmsim simulate ARGS` prints, as a console block."""
    code, out = _uvmsim(["simulate", *args])
    if code != 0:
        raise RuntimeError(f"uvmsim simulate {' '.join(args)} exited {code}: {out[-500:]}")
    lines = [line for line in out.splitlines() if line.startswith("real ")]
    return "```\n$ uvmsim simulate " + " ".join(args) + "\n...\n" + "\n".join(lines) + "\n```\n"


def view_make_kinds(args: list[str], plot: bool) -> str:
    """The make build family's kinds: what each simulated job stands for."""
    from uvmsim.workloads.make import KINDS, MAKE

    rows = []
    for name in KINDS:
        k = MAKE.kind({"kind": name})
        rows.append(
            [
                name,
                f"{k.jobs:,}",
                f"{k.real_pages:,}",
                f"{k.user_seconds:,.2f}",
                f"{k.think(3e9):,.0f}",
                f"{k.text_pages:,}",
                str(k.link_factor),
            ]
        )
    header = [
        "kind",
        "jobs",
        "pages a job touches",
        "user s (N=16)",
        "user cycles per fault",
        "compiler text pages",
        "link (jobs)",
    ]
    return _table(header, rows)


def view_make_fit(args: list[str], plot: bool) -> str:
    """`python -m uvmsim.runs.calibrate_make`'s results (src/uvmsim/workloads/make_fit.json)."""
    from uvmsim.workloads.make import FIT_FILE

    with open(FIT_FILE) as fh:
        fit = json.load(fh)
    loo = {x["point"]: x["error"] for x in fit["leave_one_out"]}
    rows = [
        [
            p["point"],
            f"{p['published']:.3f}",
            f"{p['simulated']:.3f}",
            f"{100 * p['error']:+.1f}%",
            f"{100 * loo[p['point']]:+.1f}%",
        ]
        for p in fit["in_sample"]
    ]
    params = ", ".join(f"`{k}` = {v:,}" for k, v in fit["params"].items())
    table = _table(
        ["point", "published sys/user", "fitted", "in-sample error", "leave-one-out error"], rows
    )
    its = fit.get("iters", {})
    how = (
        f" ({its['fit']} Nelder-Mead iterations; {its['leave_one_out']} for each leave-one-out "
        "refit, started from the full fit)"
        if its
        else ""
    )
    return table + f"\nFitted: {params}{how}.\n"


def view_r8(args: list[str], plot: bool) -> str:
    """R8's band from `uvmsim review ARGS --json`: per CPU count, the central value and the
    range over the unfitted parameters."""
    doc = _json(["review", *args])
    r8 = next(q for q in doc["questions"] if q["id"] == "R8")
    rows = []
    for n, r in r8["figures"]["make kernel build"].items():
        c = r["central"]
        rows.append(
            [
                n,
                f"{c['base_spin']:.1f}% -> {c['mine_spin']:.1f}%",
                f"{c['spin_pp']:+.1f} ({r['spin_pp'][0]:+.1f}..{r['spin_pp'][1]:+.1f})",
                f"{c['base_real_s']:.0f} s -> {c['mine_real_s']:.0f} s",
                f"{100 * c['real']:+.1f}% ({100 * r['real'][0]:+.1f}..{100 * r['real'][1]:+.1f})",
                "band" if r["band"] else "central",
            ]
        )
    header = [
        "CPUs",
        "pageqlock spin",
        "gain, points (range)",
        "build real time",
        "real-time gain (range)",
        "range over",
    ]
    return _table(header, rows)


def view_r8_sensitivity(args: list[str], plot: bool) -> str:
    """Which unfitted parameter moves R8's real-time gain most (`uvmsim review ARGS --json`)."""
    doc = _json(["review", *args])
    r8 = next(q for q in doc["questions"] if q["id"] == "R8")
    rows = [
        [
            x["parameter"],
            f"`{x['option']}` {x['range'][0]:g}..{x['range'][1]:g}",
            str(x["cpus"]),
            f"{100 * x['real_low']:+.1f}% .. {100 * x['real_high']:+.1f}%",
            f"{x['spin_low']:+.1f} .. {x['spin_high']:+.1f}",
            f"{100 * x['swing']:.1f}",
        ]
        for x in r8["figures"]["sensitivity"]
    ]
    header = [
        "parameter",
        "range",
        "CPUs",
        "real-time gain, low .. high",
        "spin gain (points), low .. high",
        "swing (points of %)",
    ]
    return _table(header, rows, right_from=2)


def view_compare(args: list[str], plot: bool) -> str:
    """`uvmsim compare ARGS` as printed through a pipe, in a code block (with --plot, the
    plots are rewritten too)."""
    code, out = _uvmsim(["compare", *_without_plot(args, plot)])
    if code not in (0, 1):
        raise RuntimeError(f"uvmsim compare {' '.join(args)} exited {code}: {out[-500:]}")
    shown = " ".join(_without_plot(args, True))
    return "```\n$ uvmsim compare " + shown + "\n" + out + "```\n"


def view_compare_batching(args: list[str], plot: bool) -> str:
    """`uvmsim compare ARGS --json` (no checks): per protocol and CPU count, LRU-lock
    acquisitions per 1,000 faults and LRU-lock spin, each as a factor against the first
    protocol named (the unbatched reference)."""
    doc = _json(["compare", *args])
    ref = doc["protocols"][0]
    rows = []
    for pr in doc["protocols"][1:]:
        for mine, base in zip(pr["build"], ref["build"], strict=True):
            acq = mine["lru_acquisitions_per_1000_faults"]
            racq = base["lru_acquisitions_per_1000_faults"]
            spin, rspin = mine["lru_spin"], base["lru_spin"]
            rows.append(
                [
                    f"`{pr['protocol']}`",
                    str(mine["cpus"]),
                    f"{racq:,.0f} -> {acq:,.0f}",
                    f"{mine['deferred_per_1000_faults']:,.0f}",
                    f"{racq / acq:.1f}x" if acq else "inf",
                    f"{rspin:.2f}% -> {spin:.2f}%",
                    f"{rspin / spin:.1f}x" if spin else ("-" if not rspin else "inf"),
                    f"{mine['gain'] - base['gain']:+.1%}",
                ]
            )
    header = [
        "protocol",
        "CPUs",
        f"LRU acquisitions / 1k faults (`{ref['protocol']}` -> it)",
        "deferred / 1k faults",
        "fewer by",
        "LRU spin",
        "less by",
        f"real time vs `{ref['protocol']}`",
    ]
    return _table(header, rows, right_from=1)


def view_make_scale(args: list[str], plot: bool) -> str:
    """`uvmsim scale ARGS --json` of the make build: real-time speedup over the protocol's
    smallest CPU count, and system time per fault; with --plot, both as curves."""
    doc = _json(["scale", *_without_plot(args, False)])
    protos = list(dict.fromkeys(r["protocol"] for r in doc["runs"]))
    cpus = sorted({r["cpus"] for r in doc["runs"]})
    by = {(r["protocol"], r["cpus"]): r for r in doc["runs"]}
    speed = {
        p: [by[(p, n)]["throughput"] / by[(p, cpus[0])]["throughput"] for n in cpus] for p in protos
    }
    sysf = {
        p: [
            (by[(p, n)]["cpu_time"]["system"] + by[(p, n)]["cpu_time"]["spin"])
            / max(1, by[(p, n)]["ops"])
            for n in cpus
        ]
        for p in protos
    }
    if plot and "--plot" in args:
        _make_plot(args[args.index("--plot") + 1], cpus, protos, speed, sysf)
    header = ["CPUs"] + [f"{p} speedup" for p in protos] + [f"{p} sys/fault" for p in protos]
    rows = [
        [str(n)] + [f"{speed[p][i]:.1f}x" for p in protos] + [f"{sysf[p][i]:,.0f}" for p in protos]
        for i, n in enumerate(cpus)
    ]
    return _table(header, rows)


def _make_plot(path: str, cpus: list, protos: list, speed: dict, sysf: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from uvmsim.output_files import save_figure

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for p in protos:
        a.plot(cpus, speed[p], marker="o", label=p)
        b.plot(cpus, sysf[p], marker="o", label=p)
    a.plot(cpus, [n / cpus[0] for n in cpus], linestyle=":", color="grey", label="linear")
    a.set_xlabel("CPUs (make -jN)")
    a.set_ylabel(f"real-time speedup over {cpus[0]} CPUs")
    b.set_xlabel("CPUs (make -jN)")
    b.set_ylabel("system cycles per fault (spin included)")
    a.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, os.path.join(ROOT, path))
    plt.close(fig)


def view_sizes(args: list[str], plot: bool) -> str:
    """The scenario registry's sizes: defaults (the original shapes), bounds, what grows."""
    from uvmsim.scenarios import SCENARIOS

    rows = []
    for name, sc in sorted(SCENARIOS.items()):
        if sc.apparatus:
            continue
        accepted = sc.accepted()
        defaults = sc.defaults()
        cells = [f"`--{k}` {defaults[k]} ({lo}..{hi})" for k, (lo, hi) in accepted.items()]
        grows = "; ".join(f"`--{sz.name}`: {sz.what}" for sz in sc.sizes) or "pages only"
        rows.append([f"`{name}`", ", ".join(cells), grows])
    return _table(["scenario", "sizes: default (accepted)", "one more adds"], rows, right_from=99)


def view_growth(args: list[str], plot: bool) -> str:
    """The growth runs `benchmarks/checker.py --growth` recorded (src/uvmsim/review/growth.json):
    per scenario, protocol and shape, the exhaustive dpor run's figures or why it stopped."""
    from uvmsim.review.growth import GROWTH_FILE, shape_text

    with open(GROWTH_FILE) as fh:
        doc = json.load(fh)
    rows = []
    for r in sorted(
        doc["runs"],
        key=lambda r: (r["scenario"], r["protocol"], r["axis"] or "", sorted(r["sizes"].items())),
    ):
        grown = f"+{r['axis']}" if r["axis"] else "original"
        if r["status"] == "not run":
            figures = ["", "", "", "", ""]
            status = "not run (global budget spent)"
        else:
            secs = r["cpu_seconds"]
            figures = [
                f"{r['traces']:,}",
                f"{r['executions']:,}",
                f"{r['blocked']:,}",
                f"{secs:.1f}",
                f"{r['executions'] / secs:,.0f}" if secs > 0 else "",
            ]
            status = (
                "complete"
                if r["status"] == "complete"
                else f"did NOT finish in {doc['per_run_seconds']:g} CPU s"
            )
            if r["failures"]:
                status += ": fails (" + ", ".join(r["failures"]) + ")"
        rows.append(
            [
                r["scenario"],
                r["protocol"],
                grown,
                shape_text(r["sizes"]),
                str(r["sizes"]["pages"]),
                *figures,
                status,
            ]
        )
    header = ["scenario", "protocol", "grown", "shape", "pages", "traces", "executions"]
    header += ["blocked", "CPU s", "executions/s", "result"]
    table = _table(header, rows, right_from=4)
    return table + (
        f"\nStrategy {doc['strategy']}, analyses {doc['analyses']}; each run stopped after "
        f"{doc['per_run_seconds']:g} CPU seconds, the whole table capped at "
        f"{doc['budget_seconds']:g} s of wall time in each of {doc.get('processes', 1)} "
        f"processes (it took {doc['seconds']:g} s); {doc['machine']}.\n"
    )


def view_fuzz(args: list[str], plot: bool) -> str:
    """`uvmsim fuzz ARGS` as printed through a pipe, run in a scratch directory (the failing
    scenarios it writes go there), in a code block."""
    import tempfile

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            _code, out = _uvmsim(["fuzz", *args])
        finally:
            os.chdir(here)
    return "```\n$ uvmsim fuzz " + " ".join(args) + "\n" + out + "```\n"


def view_fuzz_operations(args: list[str], plot: bool) -> str:
    """The operations of a program (scenarios/program.py's VERBS): who, arguments, kernel path."""
    from uvmsim.scenarios.program import CHOICES, VERBS

    rows = []
    for v in VERBS.values():
        shapes = [
            ("[" if i >= len(v.args) - v.optional else "")
            + ("|".join(CHOICES[a]) if a in CHOICES else a)
            + ("]" if i >= len(v.args) - v.optional else "")
            for i, a in enumerate(v.args)
        ]
        rows.append(
            [
                f"`{v.name} {' '.join(shapes)}`".replace(" `", "`").replace("|", "\\|"),
                v.actor + (" (set-up only)" if v.setup_only else ""),
                v.kernel.replace("|", "\\|"),
            ]
        )
    return _table(["operation", "done by", "kernel path"], rows, right_from=99)


def _fuzz_results(args: list[str]) -> dict:
    """benchmarks/fuzz.py's results file (ARGS: its path, default benchmarks/results/fuzz.json)."""
    path = args[0] if args else os.path.join("benchmarks", "results", "fuzz.json")
    with open(os.path.join(ROOT, path)) as fh:
        return json.load(fh)


def view_checker_results(args: list[str], plot: bool) -> str:
    """What `make bench` recorded of `benchmarks/checker.py` (ARGS: the record's path, default
    benchmarks/results/checker.md), its headings one level down.  A record, not a rerun: the
    figures are the machine's and the load's of that run, which its first line states."""
    path = args[0] if args else os.path.join("benchmarks", "results", "checker.md")
    with open(os.path.join(ROOT, path)) as fh:
        text = fh.read()
    return "".join("#" + ln if ln.startswith("## ") else ln for ln in text.splitlines(True))


def _spread(values: list[float], fmt: str) -> str:
    """median (min..max) of a benchmark's seeds."""
    v = sorted(values)
    mid = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return f"{mid:{fmt}} ({v[0]:{fmt}}..{v[-1]:{fmt}})"


def view_fuzz_rediscovery(args: list[str], plot: bool) -> str:
    """Programs and seconds to the first hit of each target failure, per seed, and the
    control, from benchmarks/fuzz.py's results."""
    doc = _fuzz_results(args)
    rows = []
    for t in doc["targets"]:
        hits = [r for r in t["runs"] if "programs" in r]
        per_seed = ", ".join(str(r.get("programs", "-")) for r in t["runs"])
        rows.append(
            [
                f"{t['failure']} (`{t['protocol']}`)",
                f"{len(hits)}/{len(t['runs'])}",
                per_seed,
                _spread([r["programs"] for r in hits], ".0f") if hits else "-",
                _spread([r["seconds"] for r in hits], ".1f") if hits else "-",
            ]
        )
    c = doc["control"]
    found = sum(1 for r in c["runs"] if r["failures"])
    rows.append(
        [
            f"control (`{c['protocol']}`)",
            f"{found}/{len(c['runs'])}",
            ", ".join(str(r["programs"]) for r in c["runs"]) + " (all run, nothing found)"
            if not found
            else "; ".join(",".join(r["failures"]) for r in c["runs"]),
            "-",
            _spread([r["seconds"] for r in c["runs"]], ".1f") + " (whole budget)",
        ]
    )
    st = doc["settings"]
    table = _table(
        ["failure (protocol)", "seeds that found it", "programs per seed", "programs", "seconds"],
        rows,
        right_from=1,
    )
    return table + (
        f"\nSeeds 0..{st['seeds'] - 1}; at most {st['programs']} programs per campaign, each "
        f"run {st['pct']} PCT + {st['random']} random executions; --jobs {st['jobs']}; "
        "median (min..max) over the seeds that found it.\n"
    )


def view_fuzz_sizes(args: list[str], plot: bool) -> str:
    """Minimized failures next to the smallest hand-written scenario showing the same one."""
    doc = _fuzz_results(args)
    rows = []
    for t in doc["targets"]:
        hits = [r for r in t["runs"] if "programs" in r]
        h = t["handwritten"]
        ops = [r["minimized"][0] for r in hits]
        cpus = [r["minimized"][1] for r in hits]
        orig = [r["original"][0] for r in hits]
        rows.append(
            [
                f"{t['failure']} (`{t['protocol']}`)",
                f"`{h['scenario']}`: {h['operations']} on {h['cpus']}",
                f"{max(ops)} on {max(cpus)}" if hits else "-",
                ", ".join(f"{r['minimized'][0]}/{r['minimized'][1]}" for r in hits),
                _spread(orig, ".0f") if hits else "-",
                ", ".join(str(r["preemptions"]) for r in hits),
            ]
        )
    return _table(
        [
            "failure (protocol)",
            "hand-written: operations on CPUs",
            "minimized, largest",
            "minimized per seed (operations/CPUs)",
            "as first generated (operations)",
            "preemptions per seed",
        ],
        rows,
        right_from=99,
    )


def view_fuzz_coverage(args: list[str], plot: bool) -> str:
    """Per hunk of the diff: which of its switch's branches generated programs reached."""
    cov = _fuzz_results(args)["coverage"]
    rows = []
    for h in cov["hunks"]:
        r = h["reached"]
        rows.append(
            [
                str(h["hunk"]),
                f"`{h['function']}`",
                ", ".join(h["switches"]),
                ", ".join(r["True"]) or "**not reached**",
                ", ".join(r["False"]) or "**not reached**",
            ]
        )
    s = cov["summary"]
    table = _table(
        ["hunk", "function", "switch", "diff's branch (True) on", "old branch (False) on"],
        rows,
        right_from=99,
    )
    missing = ", ".join(f"`{f}`" for f in cov["functions_not_reached"])
    return table + (
        f"\n{s['diff_branch_reached']} of {s['hunks']} hunks reached on the diff's branch, "
        f"{s['both_branches_reached']} on both; model functions reached "
        f"{s['functions_reached']} of {s['functions']} (not: {missing}).\n"
    )


VIEWS: dict[str, Callable[[list[str], bool], str]] = {
    "growth": view_growth,
    "sizes": view_sizes,
    "fuzz": view_fuzz,
    "checker-results": view_checker_results,
    "fuzz-operations": view_fuzz_operations,
    "fuzz-rediscovery": view_fuzz_rediscovery,
    "fuzz-sizes": view_fuzz_sizes,
    "fuzz-coverage": view_fuzz_coverage,
    "time": view_time,
    "make-kinds": view_make_kinds,
    "compare": view_compare,
    "compare-batching": view_compare_batching,
    "make-fit": view_make_fit,
    "r8": view_r8,
    "r8-sensitivity": view_r8_sensitivity,
    "make-scale": view_make_scale,
    "scale": view_scale,
    "flush": view_flush,
    "calibration": view_calibration,
    "workloads": view_workloads,
    "check": view_check,
    "review": view_review,
}


def sources_digest() -> str:
    """sha256 over the path and bytes of every file a generated output can depend on."""
    paths = list(SOURCE_FILES)
    for top in SOURCE_DIRS:
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            paths += [
                os.path.relpath(os.path.join(d, f), ROOT)
                for f in files
                if f.endswith(SOURCE_SUFFIXES)
            ]
    h = hashlib.sha256()
    for rel in sorted(paths):
        with open(os.path.join(ROOT, rel), "rb") as fh:
            h.update(rel.encode() + b"\0" + hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def _body_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def read_lock() -> dict:
    try:
        with open(LOCK) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {"sources": "", "blocks": {}}


def stamped(spec: str, body: str, lock: dict, sources: str) -> bool:
    """Whether `body` is what `make docs` wrote for the slow block `spec` from these sources."""
    return (
        spec.split()[0] in SLOW
        and lock.get("sources") == sources
        and lock.get("blocks", {}).get(spec) == _body_digest(body)
    )


def write_lock(specs_bodies: list[tuple[str, str]], sources: str) -> None:
    slow = {spec: _body_digest(body) for spec, body in specs_bodies if spec.split()[0] in SLOW}
    tmp = LOCK + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"sources": sources, "blocks": dict(sorted(slow.items()))}, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, LOCK)


def blocks(text: str) -> list[tuple[str, str]]:
    """(spec, body) of every generated block in `text`."""
    return [(m.group("spec"), m.group("body")) for m in BLOCK.finditer(text)]


def render(spec: str, plot: bool = False) -> str:
    view, *args = shlex.split(spec)
    if view not in VIEWS:
        raise SystemExit(f"docs/generate.py: unknown view {view!r} in <!-- generated: {spec} -->")
    with redirect_stdout(io.StringIO()):
        return VIEWS[view](args, plot)


def regenerate(path: str, plot: bool, keep=None) -> str:
    """`path`'s text with every generated block rendered anew, except those `keep(spec,
    body)` says are current."""
    with open(path) as fh:
        text = fh.read()

    def one(m: re.Match) -> str:
        spec, body = m.group("spec"), m.group("body")
        if keep is not None and keep(spec, body):
            return m.group(0)
        return m.group(1) + render(spec, plot) + m.group(4)

    return BLOCK.sub(one, text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    os.chdir(ROOT)
    sources = sources_digest()
    lock = read_lock()
    keep = None
    if check and "--all" not in argv:
        keep = lambda spec, body: stamped(spec, body, lock, sources)  # noqa: E731
    stale = []
    written = []
    for rel in FILES:
        new = regenerate(rel, plot=not check, keep=keep)
        with open(rel) as fh:
            old = fh.read()
        written += blocks(new)
        if new != old:
            stale.append(rel)
            if not check:
                with open(rel, "w") as fh:
                    fh.write(new)
    if check and stale:
        print("generated blocks differ from their commands in: " + ", ".join(stale))
        return 1
    if not check:
        write_lock(written, sources)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
