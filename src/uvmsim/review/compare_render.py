"""`uvmsim compare`'s report: plain text (a terminal or docs/compare.md), JSON, HTML, plots.

The text is laid out by uvmsim, not by rich, so that docs/compare.md can quote the command's
output as it prints through a pipe, byte for byte (`make docs`).
"""

from __future__ import annotations

import html
import json
import os
from typing import Any

from uvmsim.check import report as cxr
from uvmsim.output_files import publish_directory, save_figure
from uvmsim.review.compare import FREE_LOCK, LRU_LOCK, Comparison, ProtocolResult
from uvmsim.review.render import CSS, counterexample_lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell; the first left-aligned, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _outcome_cell(s: Any) -> str:
    # A finding by its id, anything else by its kind; several distinct failures of one kind
    # (second-scanner's four invariants) once, with their number.
    labels: dict[str, int] = {}
    for f in s.failures:
        label = f.split("|")[0]
        labels[label] = labels.get(label, 0) + 1
    shown = [k if n == 1 else f"{k} ({n} distinct)" for k, n in labels.items()]
    text = "holds" if not s.failures else "FAILS " + ", ".join(shown)
    if s.agrees is False:
        text += f" (UNEXPECTED: catalog says {s.expected})"
    return text


def _band(p: Any) -> str:
    return f"{p.band[0]:+.0%}..{p.band[1]:+.0%}" if p.band else ""


def build_rows(cmp: Comparison) -> list[list[str]]:
    rows = []
    for n in cmp.cpus:
        for pr in cmp.protocols:
            p = next(x for x in pr.build if x.cpus == n)
            rows.append(
                [
                    pr.name,
                    str(n),
                    f"{p.lru_spin:.1f}",
                    f"{p.free_spin:.1f}",
                    f"{p.total_spin:.1f}",
                    f"{p.lru_acquisitions:.0f}",
                    f"{p.deferred:.0f}",
                    f"{p.real_s:.0f}",
                    f"{p.throughput / n:,.0f}",
                    f"{p.gain:+.1%}",
                    _band(p),
                ]
            )
    return rows


BUILD_HEADER = [
    "protocol",
    "CPUs",
    f"{LRU_LOCK} spin %",
    f"{FREE_LOCK} spin %",
    "all spin %",
    "LRU acq/1k faults",
    "deferred/1k",
    "build real s",
    "faults/s per CPU",
    "gain",
    "band",
]


def render_text(cmp: Comparison, timing: bool = False) -> str:
    out = [
        f"uvmsim compare: {', '.join(p.name for p in cmp.protocols)}; baseline {cmp.baseline}",
        "",
    ]
    checked = [pr for pr in cmp.protocols if pr.scenarios]
    if checked:
        b = cmp.bounds
        out.append(
            "Checker: every scenario, DPOR ("
            + (f"at most {b.max_executions:,} executions" if b.max_executions else "exhaustive")
            + ") "
            f"and PCT ({b.campaign_executions:,} executions, depth 2)"
        )
        # one block per protocol: a column per protocol would not fit a terminal
        for pr in checked:
            out.append("")
            out.append(f"{pr.name}: {pr.description}")
            out.extend(
                "  " + line
                for line in _table(
                    ["scenario", "DPOR executions", "PCT", "outcome"],
                    [
                        [
                            s.scenario,
                            f"{s.dpor_executions:,}{'' if s.complete else '+'}",
                            f"{s.pct_executions:,}",
                            _outcome_cell(s),
                        ]
                        for s in pr.scenarios
                    ],
                )
            )
        out.append("  (+: the DPOR budget ran out before the exploration was complete)")
    out.append("")
    out.append(
        f"make kernel build (steady state; gain: real time against {cmp.baseline}; band: both "
        f"ends of every unfitted parameter at {', '.join(map(str, cmp.bounds.band_cpus))} CPUs)"
    )
    out.extend(_table(BUILD_HEADER, build_rows(cmp)))
    c = cmp.control
    if c:
        mark = "flips" if c["flipped"] else "DOES NOT FLIP"
        out.append(f"control: {c['what']}: {c['observed']} (expected {c['expected']}: {mark})")
    # The headline of each counterexample and its token: `uvmsim replay TOKEN` prints the
    # whole interleaving (the HTML report has it too); five protocols' worth would bury the
    # tables.
    for pr in cmp.protocols:
        for k, cx in enumerate(pr.counterexamples, start=1):
            out.append("")
            out.append(f"{pr.name}, counterexample {k}: {cx.failure.message}")
            if cx.finding:
                out.append(f"  finding {cx.finding} (docs/findings.md)")
            out.extend(f"  at {s}" for s in cx.failure.sites)
            out.append(
                f"  scenario {cx.scenario}: {cx.steps} steps, {cx.preemptions} preemptions "
                "(minimized)"
            )
            out.extend(cxr.replay_lines(cx.token))
    if timing:
        out.append(f"compare took {cmp.seconds:.0f} s")
    return "\n".join(out) + "\n"


def _protocol_json(pr: ProtocolResult) -> dict[str, Any]:
    return {
        "protocol": pr.name,
        "description": pr.description,
        "scenarios": [s.to_json() for s in pr.scenarios],
        "surprises": [s.scenario for s in pr.surprises],
        "counterexamples": [
            {
                "finding": c.finding,
                "scenario": c.scenario,
                "failure": c.failure.to_json(),
                "steps": c.steps,
                "preemptions": c.preemptions,
                "replay_token": c.token,
            }
            for c in pr.counterexamples
        ],
        "build": [p.to_json() for p in pr.build],
    }


def to_json(cmp: Comparison) -> dict[str, Any]:
    b = cmp.bounds
    return {
        "baseline": cmp.baseline,
        "cpus": list(cmp.cpus),
        "bounds": {
            "max_executions": b.max_executions,
            "campaign_executions": b.campaign_executions,
            "sim_seeds": list(b.sim_seeds),
            "band_cpus": list(b.band_cpus),
            "build_waves": b.build_waves,
            "build_pages": b.build_pages,
        },
        "protocols": [_protocol_json(pr) for pr in cmp.protocols],
        "control": cmp.control,
    }


def plot(cmp: Comparison, path: str) -> None:
    """Three panels over CPU counts, one line per protocol: LRU-lock spin share, the build's
    real time, and its gain over the baseline with the band as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (spin_ax, real_ax, gain_ax) = plt.subplots(1, 3, figsize=(15, 3.8))
    for pr in cmp.protocols:
        cpus = [p.cpus for p in pr.build]
        spin_ax.plot(cpus, [p.lru_spin for p in pr.build], marker="o", label=pr.name)
        real_ax.plot(cpus, [p.real_s for p in pr.build], marker="o", label=pr.name)
        gains = [100 * p.gain for p in pr.build]
        below = [100 * (p.gain - p.band[0]) if p.band else 0 for p in pr.build]
        above = [100 * (p.band[1] - p.gain) if p.band else 0 for p in pr.build]
        gain_ax.errorbar(cpus, gains, yerr=[below, above], marker="o", capsize=4, label=pr.name)
    spin_ax.set_title(f"make kernel build: {LRU_LOCK} spin")
    spin_ax.set_ylabel("% of CPU time")
    real_ax.set_title("whole kernel build: real time")
    real_ax.set_ylabel("s")
    gain_ax.axhline(0, color="grey", lw=0.8)
    gain_ax.set_title(f"real-time gain over {cmp.baseline} (band)")
    gain_ax.set_ylabel("%")
    for ax in (spin_ax, real_ax, gain_ax):
        ax.set_xlabel("CPUs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)


def write_html(cmp: Comparison, directory: str) -> str:
    """Write `directory`/index.html, compare.png and compare.json, all or nothing."""
    publish_directory(directory, lambda tmp: _fill_html(cmp, tmp), ".uvmsim-compare-")
    return os.path.join(directory, "index.html")


def _fill_html(cmp: Comparison, tmp: str) -> None:
    e = html.escape
    plot(cmp, os.path.join(tmp, "compare.png"))
    names = ", ".join(p.name for p in cmp.protocols)
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>uvmsim compare: {e(names)}"
        f"</title><style>{CSS}</style></head><body><h1>uvmsim compare</h1>",
        f"<p>{e(names)}; baseline {e(cmp.baseline)}.</p>",
        "<h2>make kernel build</h2><img src='compare.png' alt='comparison plots'>",
        "<table id='build'><tr>" + "".join(f"<th>{e(h)}</th>" for h in BUILD_HEADER) + "</tr>",
    ]
    for row in build_rows(cmp):
        out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    if cmp.control:
        c = cmp.control
        out.append(f"<p>control: {e(c['what'])}: {e(c['observed'])}</p>")
    for pr in cmp.protocols:
        if not pr.scenarios:
            continue
        out.append(f"<h2>{e(pr.name)}</h2><p>{e(pr.description)}</p><table><tr>")
        out.append("<th>scenario</th><th>DPOR</th><th>PCT</th><th>outcome</th></tr>")
        for s in pr.scenarios:
            cls = "holds" if not s.failures else "fails"
            out.append(
                f"<tr><td>{e(s.scenario)}</td><td>{s.dpor_executions:,}"
                f"{'' if s.complete else '+'}</td><td>{s.pct_executions:,}</td>"
                f"<td class='{cls}'>{e(_outcome_cell(s))}</td></tr>"
            )
        out.append("</table>")
        for k, cx in enumerate(pr.counterexamples, start=1):
            out.append(
                f"<h3>{e(pr.name)}, counterexample {k}: {e(cx.finding or cx.failure.kind)} in "
                f"{e(cx.scenario)}</h3><pre>{e(chr(10).join(counterexample_lines(cx, 200)))}"
                f"</pre><pre class='token'>uvmsim replay {e(cx.token)}</pre>"
            )
    out.append("</body></html>")
    with open(os.path.join(tmp, "index.html"), "w") as fh:
        fh.write("\n".join(out))
    with open(os.path.join(tmp, "compare.json"), "w") as fh:
        json.dump(to_json(cmp), fh, indent=2)
