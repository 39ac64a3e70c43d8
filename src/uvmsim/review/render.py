"""The review for people (a rich table), for machines (JSON), and as a static HTML page."""

from __future__ import annotations

import html
import json
import os
import re

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from uvmsim.check import report as cxr
from uvmsim.console import console
from uvmsim.output_files import publish_directory
from uvmsim.review.run import Counterexample, Review
from uvmsim.review.verdict import Verdict
from uvmsim.scenarios.findings import FINDINGS

MARK = {"holds": "holds", "fails": "FAILS", "measured": "measured", "unproven": "UNPROVEN"}

HTML_WIDTH = 200
"""The width the counterexamples are laid out for in the HTML page (a <pre> that scrolls)."""


def distinct_counterexamples(rv: Review) -> list[Counterexample]:
    """Each counterexample once: the protocol's own failures first, then the verdicts' others.

    A failing verdict usually points at one of the protocol's own failures (the same token):
    printing it again under the verdict repeated an 85-step interleaving three times.
    """
    seen: dict[str, Counterexample] = {}
    for cx in [*rv.counterexamples, *rv.question_examples.values()]:
        seen.setdefault(cx.token, cx)
    return list(seen.values())


def _number(rv: Review) -> dict[str, int]:
    """Token -> the counterexample's number (#1, #2...), as printed and linked."""
    return {cx.token: i for i, cx in enumerate(distinct_counterexamples(rv), start=1)}


def counterexample_lines(cx: Counterexample, width: int) -> list[str]:
    """One counterexample laid out for `width` columns, without its replay token.

    The token is printed by the caller on a line of its own, where nothing may wrap it.
    """
    lines = [cx.failure.message]
    if cx.finding:
        title = next(f.title for f in FINDINGS if f.id == cx.finding)
        lines.extend(
            cxr.wrap_prose(f"  finding {cx.finding} (docs/findings.md): {title}", width, "    ")
        )
    lines.extend(f"  at {s}" for s in cx.failure.sites)
    lines.append(
        f"  scenario {cx.scenario}: {cx.steps} steps, {cx.preemptions} preemptions (minimized)"
    )
    if cx.also_seen:
        lines.extend(cxr.wrap_prose("  also seen in: " + "; ".join(cx.also_seen), width, "    "))
    lines.append("")
    lines.extend(cxr.render_interleaving(cx.explanation, width))
    if cx.explanation.page_changes:
        lines.append("page state changes:")
        lines.extend(cxr.render_page_changes(cx.explanation, limit=20, width=width))
    lines.extend(cxr.render_stacks(cx.explanation, cx.failure, width))
    return lines


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
                "control": v.control.to_json() if v.control is not None else None,
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


def render_text(rv: Review, timing: bool = True, width: int | None = None) -> None:
    """The review for a terminal or a pipe: $COLUMNS or the terminal's width, 80 when piped.

    Every piece of text that is not uvmsim's own (protocol names and descriptions, failure
    messages, evidence) is escaped before rich sees it: a description with `[/F1]` in it is
    printed as written.  Counterexamples are laid out by uvmsim and printed without rich's
    wrapping, each replay token alone on its line so that it copies whole.
    """
    con = console(width=width) if width else console()
    width = con.width
    numbers = _number(rv)
    con.print(
        f"[bold]uvmsim review[/]: protocol [bold]{escape(rv.protocol)}[/] "
        f"({escape(rv.description)}); baseline {escape(rv.baseline)}; "
        f"{'thorough' if rv.thorough else 'default'} bounds"
    )
    own = {cx.token for cx in rv.counterexamples}
    others = [cx for cx in distinct_counterexamples(rv) if cx.token not in own]
    if rv.counterexamples:
        con.print()
        con.print(
            f"[bold red]Failures found in {escape(rv.protocol)} itself[/] "
            f"({len(rv.counterexamples)}):"
        )
        for cx in rv.counterexamples:
            _print_counterexample(con, cx, numbers[cx.token], width)
    if others:
        con.print()
        con.print("[bold]Counterexamples of the failing verdicts[/]:")
        for cx in others:
            _print_counterexample(con, cx, numbers[cx.token], width)
    con.print()
    t = Table(title="Verdicts", show_lines=True)
    # Words wrap; a word wider than its column folds onto the next line (rich's default,
    # "ellipsis", would cut it).
    t.add_column("", no_wrap=True)
    t.add_column("question", ratio=2, overflow="fold")
    t.add_column("verdict", no_wrap=True)
    t.add_column("evidence", ratio=3, overflow="fold")
    if timing:
        t.add_column("time", justify="right", no_wrap=True)
    for v in rv.verdicts:
        color = {"holds": "green", "fails": "red", "measured": "cyan", "unproven": "yellow"}[
            v.verdict
        ]
        evidence = escape(v.summary)
        if v.id in rv.question_examples:
            cx = rv.question_examples[v.id]
            evidence += f"\n(counterexample #{numbers[cx.token]} above: {escape(cx.scenario)})"
        row = [v.id, escape(v.question), f"[{color}]{MARK[v.verdict]}[/]", evidence]
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
    longest = max((len(mu.switch) for mu in rv.mutants), default=0)
    m.add_column("switch (flipped alone)", min_width=min(longest, width // 3), overflow="fold")
    m.add_column("status", overflow="fold")
    m.add_column("how / why", overflow="fold")
    for mu in rv.mutants:
        m.add_row(escape(mu.switch), escape(mu.status), escape(mu.how))
    con.print(m)
    if timing:
        con.print(f"review took {rv.seconds:.0f} s")


def _print_counterexample(con: Console, cx: Counterexample, number: int, width: int) -> None:
    con.print()
    con.print(f"counterexample #{number}:", markup=False, highlight=False)
    for line in counterexample_lines(cx, width):
        con.print(line, markup=False, highlight=False, soft_wrap=True)
    # Alone on its line and never wrapped: a token copied from here replays.
    for line in cxr.replay_lines(cx.token):
        con.print(line, markup=False, highlight=False, soft_wrap=True)


# ---- HTML ---------------------------------------------------------------------------------

CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #bbb; padding: 4px 8px; vertical-align: top; text-align: left; }
.holds { color: #186a18; font-weight: bold; } .fails { color: #b00; font-weight: bold; }
.unproven { color: #a60; font-weight: bold; }
.measured { color: #06a; font-weight: bold; }
td { overflow-wrap: break-word; }
pre { background: #f5f5f5; padding: 8px; overflow-x: auto; font-size: 12px; }
pre mark { background: #ffe08a; }
pre.token { white-space: pre-wrap; word-break: break-all; user-select: all; }
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


def _r8_rows(r8: Verdict | None) -> dict:
    """R8's per-CPU rows (CPUs -> {"central": {base_spin, mine_spin, base_real_s,
    mine_real_s, ...}, "real": band, ...}), or {} when R8 has none."""
    if r8 is None or not r8.figures:
        return {}
    rows = r8.figures.get("make kernel build")
    return rows if isinstance(rows, dict) else {}


def _plot_r8(rv: Review, path: str) -> bool:
    """R8 as two panels over CPU counts: the pageqlock spin share of the baseline and of the
    protocol (central values), and the build real-time gain with its band as error bars."""
    rows = _r8_rows(next((v for v in rv.verdicts if v.id == "R8"), None))
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted(rows, key=int)
    cpus = [int(n) for n in ns]
    central = [rows[n]["central"] for n in ns]
    fig, (spin_ax, gain_ax) = plt.subplots(1, 2, figsize=(12, 3.6))
    for key, proto in (("base_spin", rv.baseline), ("mine_spin", rv.protocol)):
        spin_ax.plot(cpus, [c[key] for c in central], marker="o", label=proto)
    spin_ax.set_title("make kernel build: pageqlock spin")
    spin_ax.set_ylabel("% of CPU time")
    gains = [100 * c["real"] for c in central]
    below = [g - 100 * rows[n]["real"][0] for g, n in zip(gains, ns, strict=True)]
    above = [100 * rows[n]["real"][1] - g for g, n in zip(gains, ns, strict=True)]
    gain_ax.errorbar(cpus, gains, yerr=[below, above], marker="o", capsize=4, label=rv.protocol)
    gain_ax.axhline(0, color="grey", lw=0.8)
    gain_ax.set_title(f"build real-time gain over {rv.baseline} (central, band)")
    gain_ax.set_ylabel("%")
    for ax in (spin_ax, gain_ax):
        ax.set_xlabel("CPUs")
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


_MARKED_ROW = re.compile(r"^ *\d+ " + re.escape(cxr.MARK))


def _counterexample_html(cx: Counterexample, number: int) -> str:
    """One counterexample as a <pre>, the marked steps highlighted, and its replay command.

    The token is in a <pre> of its own that the browser may wrap visually (`word-break`) but
    that copies as one unbroken string.
    """
    e = html.escape
    rows = []
    for line in counterexample_lines(cx, HTML_WIDTH):
        rows.append(f"<mark>{e(line)}</mark>" if _MARKED_ROW.match(line) else e(line))
    head = e(cx.finding or cx.failure.kind)
    return (
        f"<h3 id='cx{number}'>counterexample #{number}: {head} in {e(cx.scenario)}</h3>"
        f"<pre>{chr(10).join(rows)}</pre>"
        f"<p>replay:</p><pre class='token'>uvmsim replay {e(cx.token)}</pre>"
    )


def _fill_html(rv: Review, tmp: str) -> None:
    e = html.escape
    has_plot = _plot_r8(rv, os.path.join(tmp, "r8.png"))
    numbers = _number(rv)
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>uvmsim review: "
        f"{e(rv.protocol)}</title><style>{CSS}</style>{VISIBILITY_PROBE}</head><body>",
        f"<h1>uvmsim review: {e(rv.protocol)}</h1>",
        f"<p>{e(rv.description)}. Baseline: {e(rv.baseline)}. "
        f"{'Thorough' if rv.thorough else 'Default'} bounds; {rv.seconds:.0f} s.</p>",
    ]
    own = {cx.token for cx in rv.counterexamples}
    if rv.counterexamples:
        out.append(f"<h2>Failures found in {e(rv.protocol)} itself</h2>")
        for cx in rv.counterexamples:
            out.append(_counterexample_html(cx, numbers[cx.token]))
    out.append(
        "<h2>Verdicts</h2><table id='verdicts'><tr><th></th><th>question</th>"
        "<th>verdict</th><th>evidence</th><th>time</th></tr>"
    )
    for v in rv.verdicts:
        ev = "<br>".join(e(x) for x in [v.summary, *v.evidence])
        if v.id in rv.question_examples:
            cx = rv.question_examples[v.id]
            n = numbers[cx.token]
            ev += f"<br><a href='#cx{n}'>counterexample #{n} ({e(cx.scenario)})</a>"
        out.append(
            f"<tr><td>{v.id}</td><td>{e(v.question)}</td><td class='{v.verdict}'>"
            f"{MARK[v.verdict]}</td><td>{ev}</td><td>{v.seconds:.1f} s</td></tr>"
        )
    out.append("</table>")
    others = [cx for cx in distinct_counterexamples(rv) if cx.token not in own]
    if others:
        out.append("<h2>Counterexamples of the failing verdicts</h2>")
        for cx in others:
            out.append(_counterexample_html(cx, numbers[cx.token]))
    killed, total = rv.score
    out.append(
        f"<h2>R7 mutation analysis: score {killed}/{total}</h2><table id='mutants'>"
        "<tr><th>switch flipped alone</th><th>status</th><th>how / why</th></tr>"
    )
    for m in rv.mutants:
        out.append(f"<tr><td>{e(m.switch)}</td><td>{e(m.status)}</td><td>{e(m.how)}</td></tr>")
    out.append("</table>")
    if has_plot:
        out.append(
            "<h2>R8: pageqlock spin and build real time</h2><img src='r8.png' alt='R8 scaling'>"
        )
    r8 = next((v for v in rv.verdicts if v.id == "R8"), None)
    rows = _r8_rows(r8)
    if rows:
        out.append(
            "<table id='locks'><tr><th>load</th><th>CPUs</th><th>protocol</th>"
            "<th>pageqlock spin share</th><th>build real time</th></tr>"
        )
        for n, row in rows.items():
            c = row["central"]
            for proto, side in ((rv.baseline, "base"), (rv.protocol, "mine")):
                out.append(
                    f"<tr><td>make kernel build</td><td>{e(n)}</td><td>{e(proto)}</td>"
                    f"<td>{c[side + '_spin']:.1f}%</td>"
                    f"<td>{c[side + '_real_s']:,.0f} s</td></tr>"
                )
        out.append("</table>")
    out.append("</body></html>")
    with open(os.path.join(tmp, "index.html"), "w") as fh:
        fh.write("\n".join(out))
    with open(os.path.join(tmp, "review.json"), "w") as fh:
        json.dump(to_json(rv), fh, indent=2)
