"""The review for people (a rich table), for machines (JSON), and as a static HTML page."""

from __future__ import annotations

import html
import json
import os
import sys

from rich.console import Console
from rich.table import Table

from uvmsim.output_files import publish_directory
from uvmsim.review.run import Review

MARK = {"holds": "holds", "fails": "FAILS", "measured": "measured"}


def to_json(rv: Review) -> dict:
    killed, total = rv.score
    return {
        "protocol": rv.protocol,
        "description": rv.description,
        "baseline": rv.baseline,
        "thorough": rv.thorough,
        "bounds": {
            "max_executions": rv.bounds.max_executions,
            "campaign_executions": rv.bounds.campaign_executions,
            "sim_ops": rv.bounds.sim_ops,
            "sim_cpus": list(rv.bounds.sim_cpus),
            "mutant_executions": rv.bounds.mutant_executions,
        },
        "failures": [
            {
                "finding": c.finding,
                "scenario": c.scenario,
                "failure": c.failure.to_json(),
                "steps": c.steps,
                "preemptions": c.preemptions,
                "also_seen": c.also_seen,
                "replay_token": c.token,
            }
            for c in rv.counterexamples
        ],
        "questions": [
            {
                "id": v.id,
                "question": v.question,
                "verdict": v.verdict,
                "summary": v.summary,
                "evidence": v.evidence,
                "figures": v.figures,
                "seconds": round(v.seconds, 2),
                "counterexample": (
                    rv.question_examples[v.id].token if v.id in rv.question_examples else None
                ),
            }
            for v in rv.verdicts
        ],
        "mutation": {
            "score": f"{killed}/{total}",
            "killed": killed,
            "total": total,
            "mutants": [
                {"switch": m.switch, "mutant_value": m.value, "status": m.status, "how": m.how}
                for m in rv.mutants
            ],
        },
        "seconds": round(rv.seconds, 1),
    }


def render_text(rv: Review, timing: bool = True) -> None:
    con = Console(width=None if sys.stdout.isatty() else 150)
    con.print(
        f"[bold]uvmsim review[/]: protocol [bold]{rv.protocol}[/] ({rv.description}); "
        f"baseline {rv.baseline}; {'thorough' if rv.thorough else 'default'} bounds"
    )
    if rv.counterexamples:
        con.print()
        con.print(
            f"[bold red]Failures found in {rv.protocol} itself[/] ({len(rv.counterexamples)}):"
        )
        for cx in rv.counterexamples:
            con.print()
            con.print(cx.text(), markup=False, highlight=False)
    con.print()
    t = Table(title="Verdicts", show_lines=True)
    t.add_column("", no_wrap=True)
    t.add_column("question", max_width=38)
    t.add_column("verdict", no_wrap=True)
    t.add_column("evidence")
    if timing:
        t.add_column("time", justify="right", no_wrap=True)
    for v in rv.verdicts:
        color = {"holds": "green", "fails": "red", "measured": "cyan"}[v.verdict]
        evidence = v.summary
        if v.id in rv.question_examples:
            evidence += f"\n(counterexample above: {rv.question_examples[v.id].scenario})"
        row = [v.id, v.question, f"[{color}]{MARK[v.verdict]}[/]", evidence]
        if timing:
            row.append(f"{v.seconds:.1f} s")
        t.add_row(*row)
    con.print(t)
    for v in rv.verdicts:
        if v.evidence:
            con.print(f"[bold]{v.id}[/] evidence:")
            for line in v.evidence:
                con.print(f"  {line}", markup=False, highlight=False)
    killed, total = rv.score
    m = Table(title=f"R7 mutation analysis: score {killed}/{total}")
    m.add_column("switch (flipped alone)")
    m.add_column("status", no_wrap=True)
    m.add_column("how / why")
    for mu in rv.mutants:
        m.add_row(mu.switch, mu.status, mu.how)
    con.print(m)
    if timing:
        con.print(f"review took {rv.seconds:.0f} s")


# ---- HTML ---------------------------------------------------------------------------------

CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #bbb; padding: 4px 8px; vertical-align: top; text-align: left; }
.holds { color: #186a18; font-weight: bold; } .fails { color: #b00; font-weight: bold; }
.measured { color: #06a; font-weight: bold; }
pre { background: #f5f5f5; padding: 8px; overflow-x: auto; font-size: 12px; }
"""

VISIBILITY_PROBE = """
<script>
document.addEventListener("DOMContentLoaded", function () {
  var t = document.getElementById("verdicts");
  var r = t ? t.getBoundingClientRect() : null;
  var ok = r && r.width > 0 && r.height > 0 && getComputedStyle(t).display !== "none";
  document.body.setAttribute("data-verdicts-visible", ok ? "yes" : "no");
});
</script>
"""


def _plot_r8(rv: Review, path: str) -> bool:
    r8 = next((v for v in rv.verdicts if v.id == "R8"), None)
    if r8 is None or not r8.figures:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(r8.figures), figsize=(6 * len(r8.figures), 3.6))
    if len(r8.figures) == 1:
        axes = [axes]
    for ax, (label, by_n) in zip(axes, r8.figures.items(), strict=True):
        ns = sorted(by_n, key=int)
        for proto in (rv.baseline, rv.protocol):
            ax.plot(
                [int(n) for n in ns],
                [100 * by_n[n][proto]["pageq_spin_share"] for n in ns],
                marker="o",
                label=proto,
            )
        ax.set_title(label)
        ax.set_xlabel("CPUs")
        ax.set_ylabel("pageqlock spin, % of CPU time")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_html(rv: Review, directory: str) -> str:
    """Write `directory`/index.html (+ a plot and review.json), all or nothing."""
    publish_directory(directory, lambda tmp: _fill_html(rv, tmp), ".uvmsim-review-")
    return os.path.join(directory, "index.html")


def _fill_html(rv: Review, tmp: str) -> None:
    e = html.escape
    has_plot = _plot_r8(rv, os.path.join(tmp, "r8.png"))
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>uvmsim review: "
        f"{e(rv.protocol)}</title><style>{CSS}</style>{VISIBILITY_PROBE}</head><body>",
        f"<h1>uvmsim review: {e(rv.protocol)}</h1>",
        f"<p>{e(rv.description)}. Baseline: {e(rv.baseline)}. "
        f"{'Thorough' if rv.thorough else 'Default'} bounds; {rv.seconds:.0f} s.</p>",
    ]
    if rv.counterexamples:
        out.append(f"<h2>Failures found in {e(rv.protocol)} itself</h2>")
        for cx in rv.counterexamples:
            out.append(f"<h3>{e(cx.finding or cx.failure.kind)}: {e(cx.failure.message)}</h3>")
            out.append(f"<pre>{e(cx.text())}</pre>")
    out.append(
        "<h2>Verdicts</h2><table id='verdicts'><tr><th></th><th>question</th>"
        "<th>verdict</th><th>evidence</th><th>time</th></tr>"
    )
    for v in rv.verdicts:
        ev = "<br>".join(e(x) for x in [v.summary, *v.evidence])
        out.append(
            f"<tr><td>{v.id}</td><td>{e(v.question)}</td><td class='{v.verdict}'>"
            f"{MARK[v.verdict]}</td><td>{ev}</td><td>{v.seconds:.1f} s</td></tr>"
        )
    out.append("</table>")
    for v in rv.verdicts:
        if v.id in rv.question_examples:
            cx = rv.question_examples[v.id]
            out.append(
                f"<h3>{v.id} counterexample ({e(cx.scenario)})</h3><pre>{e(cx.text())}</pre>"
            )
    killed, total = rv.score
    out.append(
        f"<h2>R7 mutation analysis: score {killed}/{total}</h2><table id='mutants'>"
        "<tr><th>switch flipped alone</th><th>status</th><th>how / why</th></tr>"
    )
    for m in rv.mutants:
        out.append(f"<tr><td>{e(m.switch)}</td><td>{e(m.status)}</td><td>{e(m.how)}</td></tr>")
    out.append("</table>")
    if has_plot:
        out.append("<h2>R8: pageqlock spin</h2><img src='r8.png' alt='R8 scaling'>")
    r8 = next((v for v in rv.verdicts if v.id == "R8"), None)
    if r8 and r8.figures:
        out.append(
            "<table id='locks'><tr><th>load</th><th>CPUs</th><th>protocol</th>"
            "<th>pageqlock wait cycles</th><th>spin share</th><th>ops/s</th></tr>"
        )
        for label, by_n in r8.figures.items():
            for n, by_p in by_n.items():
                for p, row in by_p.items():
                    out.append(
                        f"<tr><td>{e(label)}</td><td>{n}</td><td>{e(p)}</td>"
                        f"<td>{row['pageq_wait']:,}</td>"
                        f"<td>{100 * row['pageq_spin_share']:.1f}%</td>"
                        f"<td>{row['throughput']:,.0f}</td></tr>"
                    )
        out.append("</table>")
    out.append("</body></html>")
    with open(os.path.join(tmp, "index.html"), "w") as fh:
        fh.write("\n".join(out))
    with open(os.path.join(tmp, "review.json"), "w") as fh:
        json.dump(to_json(rv), fh, indent=2)
