"""What a store says: scaling per protocol, lock tables, campaign totals, the failure table.

`build_report` reads a store into one JSON-shaped document; the CLI renders it as tables,
`plot_scaling` draws the curves and `write_html` a static page.  Figures over several seeds
are means with the minimum and maximum kept, so a reader sees the spread as well.

A store written by an older uvmsim is read as it is (see `store.Store.open_readonly`); a row
that lacks a figure this report needs is left out with a note saying how many and why, rather
than failing the whole report.  `check_plot_path` and `check_html_dir` validate the output
locations before the store is read, so a bad location costs nothing; `--html` never replaces a
directory uvmsim did not write (its `.uvmsim-report` marker, see `uvmsim.output_files`).
"""

from __future__ import annotations

import html
import json
import os
from collections import defaultdict
from statistics import mean
from typing import Any

from uvmsim import __version__
from uvmsim.machine.failure import InputError
from uvmsim.output_files import (
    check_output_dir,
    check_output_file,
    publish_directory,
    save_figure,
)
from uvmsim.sweep.store import SCHEMA_VERSION, Store

"""The file that marks a directory as written by uvmsim (uvmsim.output_files writes it): only
such a directory may be replaced by `--html`."""

# What the report reads of each kind of row: a row without one of these is left out.
_NEEDED = {
    "simulate": {
        "params": ("options", "ops", "cycles", "discipline"),
        "metrics": ("throughput", "cpu_time", "ops", "locks"),
    },
    "explore": {
        "params": (),
        "metrics": ("executions", "failing_executions", "failures", "complete"),
    },
}


def _config_label(row: dict[str, Any]) -> str:
    """A workload and what distinguishes its runs besides protocol, CPUs and seed."""
    p = row["params"]
    opts = json.loads(p["options"])
    bits = [f"{k}={v}" for k, v in sorted(opts.items())]
    bits.append(f"ops={p['ops']}" if p["ops"] is not None else f"cycles={p['cycles']:g}")
    if p["discipline"] != "cas":
        bits.append(p["discipline"])
    return f"{row['target']} ({', '.join(bits)})"


def _scenario_label(row: dict[str, Any]) -> str:
    """An explore row's scenario, with the sizes it was grown to (if any)."""
    sizes = row["params"].get("sizes")
    if not isinstance(sizes, str):
        return row["target"]
    return f"{row['target']} {' '.join(f'{k}={v}' for k, v in json.loads(sizes).items())}"


def _scaling(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(_config_label(r), r["protocol_name"], r["protocol_digest"], r["cpus"])].append(r)
    out = []
    for (label, proto, digest, cpus), rs in sorted(groups.items()):
        tps = [r["metrics"]["throughput"] for r in rs]
        spins, sysop = [], []
        for r in rs:
            ct = r["metrics"]["cpu_time"]
            total = sum(ct.values()) or 1
            spins.append(ct["spin"] / total)
            sysop.append((ct["system"] + ct["spin"]) / max(1, r["metrics"]["ops"]))
        out.append(
            {
                "workload": label,
                "protocol": proto,
                "digest": digest,
                "cpus": cpus,
                "seeds": len(rs),
                "throughput": mean(tps),
                "throughput_min": min(tps),
                "throughput_max": max(tps),
                "spin_share": mean(spins),
                "system_per_op": mean(sysop),
                "failed_runs": sum(1 for r in rs if r["failure"]),
            }
        )
    return out


def _locks(rows: list[dict]) -> list[dict]:
    """Lock statistics summed over seeds, per workload, protocol, CPU count and lock."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(_config_label(r), r["protocol_name"], r["cpus"])].append(r)
    out = []
    for (label, proto, cpus), rs in sorted(groups.items()):
        ops = sum(r["metrics"]["ops"] for r in rs) or 1
        names = sorted({name for r in rs for name in r["metrics"]["locks"]})
        for name in names:
            stats = [r["metrics"]["locks"][name] for r in rs if name in r["metrics"]["locks"]]
            acq = sum(s["acquisitions"] for s in stats)
            contended = sum(s["contended"] for s in stats)
            out.append(
                {
                    "workload": label,
                    "protocol": proto,
                    "cpus": cpus,
                    "lock": name,
                    "acquisitions_per_op": acq / ops,
                    "contended_pct": 100 * contended / acq if acq else 0.0,
                    "wait_cycles_per_op": sum(s["wait_cycles"] for s in stats) / ops,
                    "wait_max": max(s["wait_max"] for s in stats),
                    "hold_avg": sum(s["hold_cycles"] for s in stats) / acq if acq else 0.0,
                }
            )
    return out


def _campaigns(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["protocol_name"], _scenario_label(r), r["strategy"])].append(r)
    out = []
    for (proto, scen, strat), rs in sorted(groups.items()):
        sigs = {s for r in rs for s in r["metrics"]["failures"]}
        seeds = [r for r in rs if r["seed_last"] is not None]
        out.append(
            {
                "protocol": proto,
                "scenario": scen,
                "strategy": strat,
                "runs": len(rs),
                "seeds": (
                    f"{min(r['seed'] for r in seeds)}..{max(r['seed_last'] for r in seeds)}"
                    if seeds
                    else None
                ),
                "executions": sum(r["metrics"]["executions"] for r in rs),
                "failing_executions": sum(r["metrics"]["failing_executions"] for r in rs),
                "distinct_failures": len(sigs),
                "complete": all(r["metrics"]["complete"] for r in rs) if not seeds else None,
                "seconds": sum(r["elapsed"] for r in rs),
            }
        )
    return out


def _failures(rows: list[dict]) -> list[dict]:
    """One line per distinct failure and where it was seen, with the earliest run's token."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        if r["kind"] == "explore":
            tally = r["metrics"]["failures"]
        elif r["failure"]:
            tally = {r["failure"]: {"kind": r["failure_kind"], "message": r["failure"], "count": 1}}
        else:
            continue
        for sig, t in tally.items():
            key = (
                r["protocol_name"],
                r["protocol_digest"],
                _scenario_label(r),
                r["strategy"] or "",
                sig,
            )
            g = groups.setdefault(
                key,
                {
                    "protocol": r["protocol_name"],
                    "digest": r["protocol_digest"],
                    "target": _scenario_label(r),
                    "strategy": r["strategy"],
                    "kind": t["kind"],
                    "message": t["message"],
                    "finding": t.get("finding"),
                    "executions": 0,
                    "first_seed": None,
                    "token": None,
                },
            )
            g["executions"] += t["count"]
            first = t.get("first_seed")
            if first is not None and (g["first_seed"] is None or first < g["first_seed"]):
                g["first_seed"] = first
            # the token of the earliest run that saw this failure
            if t.get("token") and (g["token"] is None or r["seed"] < g["_token_seed"]):
                g["token"], g["_token_seed"] = t["token"], r["seed"]
    out = []
    for key in sorted(groups):
        g = groups[key]
        g.pop("_token_seed", None)
        out.append(g)
    return out


def campaign_extent(c: dict[str, Any]) -> str:
    """Seeds of a sampled campaign, or whether an exhaustive one finished."""
    if c["seeds"] is not None:
        return c["seeds"]
    return "exhaustive" if c["complete"] else "budget reached"


def _missing(row: dict[str, Any]) -> str | None:
    """The first figure the report needs that `row` lacks (a row of an older uvmsim), or None."""
    needed = _NEEDED[row["kind"]]
    for part in ("params", "metrics"):
        for key in needed[part]:
            if key not in row[part]:
                return f"{part}.{key}"
    if row["kind"] == "simulate":
        cpu_time = row["metrics"]["cpu_time"]
        if not isinstance(cpu_time, dict) or not {"spin", "system"} <= cpu_time.keys():
            return "metrics.cpu_time"
        if not isinstance(row["params"]["options"], str):
            return "params.options"
    elif not isinstance(row["metrics"]["failures"], dict):
        return "metrics.failures"
    return None


def _readable(rows: list[dict], notes: list[str]) -> list[dict]:
    """The rows the report can use; a note for those it leaves out."""
    out, skipped = [], defaultdict(list)
    for r in rows:
        what = _missing(r)
        if what is None:
            out.append(r)
        else:
            skipped[(r["uvmsim_version"], what)].append(r)
    for (version, what), rs in sorted(skipped.items()):
        notes.append(
            f"{len(rs)} {rs[0]['kind']} runs written by uvmsim {version} lack {what}: "
            "left out of this report"
        )
    return out


def build_report(path: str) -> dict[str, Any]:
    """Everything `uvmsim report` shows, as one JSON-shaped document."""
    with Store.open_readonly(path) as store:
        meta = store.meta()
        sims = list(store.rows("simulate"))
        explores = list(store.rows("explore"))
        unreadable = store.unreadable
    notes = []
    written_by = meta.get("uvmsim_version")
    if written_by != __version__:
        notes.append(
            f"store written by uvmsim {written_by} (schema version "
            f"{meta.get('schema_version')}); read by uvmsim {__version__} (schema version "
            f"{SCHEMA_VERSION})"
        )
    if unreadable:
        notes.append(f"{unreadable} runs with undecodable params or metrics: left out")
    sims, explores = _readable(sims, notes), _readable(explores, notes)
    digests: dict[str, set[str]] = defaultdict(set)
    for r in sims + explores:
        digests[r["protocol_name"]].add(r["protocol_digest"])
    notes += [
        f"protocol {p} appears with {len(d)} different definitions (digests "
        f"{', '.join(sorted(d))}): its rows are shown separately"
        for p, d in sorted(digests.items())
        if len(d) > 1
    ]
    return {
        "store": path,
        "uvmsim_version": meta.get("uvmsim_version"),
        "created_at": meta.get("created_at"),
        "sweeps": sorted({r["sweep"] for r in sims + explores}),
        "runs": {"simulate": len(sims), "explore": len(explores)},
        "notes": notes,
        "scaling": _scaling(sims),
        "locks": _locks(sims),
        "campaigns": _campaigns(explores),
        "failures": _failures(sims + explores),
    }


def check_plot_path(path: str) -> None:
    """Refuse a --plot path that could not be written, before any work is done."""
    if not path.endswith((".png", ".svg")):
        raise InputError(f"--plot: {path!r} must end in .png or .svg")
    check_output_file(path, "--plot")


def check_html_dir(directory: str) -> None:
    """Refuse an --html directory uvmsim may not replace or cannot write, before any work:
    `--html .` in a directory holding a store must never put that store at risk."""
    check_output_dir(directory, "--html")


def plot_scaling(report: dict[str, Any], path: str) -> bool:
    """Throughput and spin share against CPUs, one column per workload; False if no data."""
    scaling = report["scaling"]
    if not scaling:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(dict.fromkeys(s["workload"] for s in scaling))
    fig, axes = plt.subplots(2, len(workloads), figsize=(5.5 * len(workloads), 7), squeeze=False)
    for col, wl in enumerate(workloads):
        mine = [s for s in scaling if s["workload"] == wl]
        for proto in dict.fromkeys((s["protocol"], s["digest"]) for s in mine):
            pts = sorted(
                (s for s in mine if (s["protocol"], s["digest"]) == proto), key=lambda s: s["cpus"]
            )
            xs = [s["cpus"] for s in pts]
            ys = [s["throughput"] / 1000 for s in pts]
            err = [
                [(s["throughput"] - s["throughput_min"]) / 1000 for s in pts],
                [(s["throughput_max"] - s["throughput"]) / 1000 for s in pts],
            ]
            axes[0][col].errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=proto[0])
            axes[1][col].plot(xs, [100 * s["spin_share"] for s in pts], marker="o", label=proto[0])
        axes[0][col].set_title(wl, fontsize=9)
        axes[0][col].set_ylabel("throughput, k ops / s")
        axes[1][col].set_ylabel("spin, % of CPU time")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xlabel("CPUs")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)
    return True


CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:90em}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right;"
    "vertical-align:top}td.l,th.l{text-align:left}code{word-break:break-all;font-size:85%}"
    ".fail{color:#b00}"
)


def _table(title: str, table_id: str, cols: list[tuple[str, str]], rows: list[list[str]]) -> str:
    head = "".join(f"<th class='{c}'>{html.escape(n)}</th>" for n, c in cols)
    body = "".join(
        "<tr>"
        + "".join(f"<td class='{c}'>{v}</td>" for (_, c), v in zip(cols, r, strict=True))
        + "</tr>"
        for r in rows
    )
    return f"<h2>{html.escape(title)}</h2><table id='{table_id}'><tr>{head}</tr>{body}</table>"


def write_html(report: dict[str, Any], directory: str) -> str:
    """`directory`/index.html with the plot and report.json, swapped in when complete."""

    def fill(tmp: str) -> None:
        e = html.escape
        has_plot = plot_scaling(report, os.path.join(tmp, "scaling.png"))
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>uvmsim sweep report</title><style>{CSS}</style></head><body>",
            f"<h1>uvmsim sweep report: {e(report['store'])}</h1>",
            f"<p>{report['runs']['simulate']} simulation runs, {report['runs']['explore']} "
            f"exploration runs; sweeps {e(', '.join(report['sweeps']))}; uvmsim "
            f"{e(str(report['uvmsim_version']))}.</p>",
            *(f"<p class='fail'>{e(n)}</p>" for n in report["notes"]),
        ]
        if has_plot:
            parts.append("<h2>Scaling</h2><img src='scaling.png' alt='scaling curves'>")
        parts.append(
            _table(
                "Scaling (mean over seeds; min..max)",
                "scaling",
                [
                    ("workload", "l"),
                    ("protocol", "l"),
                    ("CPUs", ""),
                    ("seeds", ""),
                    ("ops/s", ""),
                    ("min..max", ""),
                    ("spin", ""),
                    ("system cycles/op", ""),
                ],
                [
                    [
                        e(s["workload"]),
                        e(s["protocol"]),
                        str(s["cpus"]),
                        str(s["seeds"]),
                        f"{s['throughput']:,.0f}",
                        f"{s['throughput_min']:,.0f}..{s['throughput_max']:,.0f}",
                        f"{100 * s['spin_share']:.1f}%",
                        f"{s['system_per_op']:,.0f}",
                    ]
                    for s in report["scaling"]
                ],
            )
        )
        parts.append(
            _table(
                "Locks (summed over seeds)",
                "locks",
                [
                    ("workload", "l"),
                    ("protocol", "l"),
                    ("CPUs", ""),
                    ("lock", "l"),
                    ("acq/op", ""),
                    ("contended", ""),
                    ("wait cycles/op", ""),
                    ("max wait", ""),
                    ("mean hold", ""),
                ],
                [
                    [
                        e(x["workload"]),
                        e(x["protocol"]),
                        str(x["cpus"]),
                        e(x["lock"]),
                        f"{x['acquisitions_per_op']:.2f}",
                        f"{x['contended_pct']:.1f}%",
                        f"{x['wait_cycles_per_op']:,.0f}",
                        f"{x['wait_max']:,}",
                        f"{x['hold_avg']:,.0f}",
                    ]
                    for x in report["locks"]
                ],
            )
        )
        parts.append(
            _table(
                "Exploration campaigns",
                "campaigns",
                [
                    ("protocol", "l"),
                    ("scenario", "l"),
                    ("strategy", "l"),
                    ("runs", ""),
                    ("seeds", ""),
                    ("executions", ""),
                    ("failing", ""),
                    ("distinct", ""),
                    ("seconds", ""),
                ],
                [
                    [
                        e(c["protocol"]),
                        e(c["scenario"]),
                        e(c["strategy"]),
                        str(c["runs"]),
                        e(campaign_extent(c)),
                        f"{c['executions']:,}",
                        f"{c['failing_executions']:,}",
                        str(c["distinct_failures"]),
                        f"{c['seconds']:.1f}",
                    ]
                    for c in report["campaigns"]
                ],
            )
        )
        parts.append(
            _table(
                "Failures",
                "failures",
                [
                    ("protocol", "l"),
                    ("where", "l"),
                    ("failure", "l"),
                    ("executions", ""),
                    ("first seed", ""),
                    ("replay token", "l"),
                ],
                [
                    [
                        e(f"{f['protocol']} ({f['digest']})"),
                        e(f"{f['target']} {f['strategy'] or ''}".strip()),
                        e(f"{f['kind']}: {f['message']}"),
                        f"{f['executions']:,}",
                        "" if f["first_seed"] is None else str(f["first_seed"]),
                        f"<code>{e(f['token'] or '')}</code>",
                    ]
                    for f in report["failures"]
                ],
            )
        )
        parts.append("</body></html>")
        with open(os.path.join(tmp, "index.html"), "w") as fh:
            fh.write("\n".join(parts))
        with open(os.path.join(tmp, "report.json"), "w") as fh:
            json.dump(report, fh, indent=2, sort_keys=True)

    publish_directory(directory, fill, ".uvmsim-report-")
    return os.path.join(directory, "index.html")
