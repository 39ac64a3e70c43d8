"""`uvmsim protocols` and `uvmsim scenarios`: what can be checked, as tables or JSON."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from uvmsim.protocols import HUNKS, PROTOCOLS, SWITCHES, Protocol, get_protocol
from uvmsim.protocols.base import NOT_IN_DIFF


def protocols_json(extra: list[Protocol]) -> dict:
    protos = [*PROTOCOLS.values(), *extra]
    return {
        "switches": [
            {"name": s.name, "hunks": list(s.hunks), "functions": list(s.functions), "doc": s.doc}
            for s in SWITCHES
        ]
        + [
            {"name": k, "hunks": [], "functions": ["uvm_pagealloc", "uvm_pagefree"], "doc": v}
            for k, v in NOT_IN_DIFF.items()
        ],
        "protocols": [
            {"name": p.name, "description": p.description, "switches": p.switches()} for p in protos
        ],
    }


def hunks_json() -> list[dict]:
    rows = []
    for h in HUNKS:
        switches = [s for s in SWITCHES if h.number in s.hunks]
        rows.append(
            {
                "hunk": h.number,
                "file": h.file,
                "header": h.header,
                "function": h.function,
                "change": h.change,
                "switches": [s.name for s in switches],
                "model_functions": sorted({f for s in switches for f in s.functions}),
            }
        )
    return rows


@click.command("protocols")
@click.option("--hunks", is_flag=True, help="Show the table hunk -> switch -> model function(s).")
@click.option(
    "--protocol",
    "extra",
    multiple=True,
    metavar="FILE.py:NAME|module:NAME",
    help="Also list a protocol of your own (loading it runs its module's code).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of tables.")
def protocols_cmd(hunks: bool, extra: tuple[str, ...], as_json: bool) -> None:
    """List the protocols (variants of the seed diff) and their switches.

    \b
    Examples:
      uvmsim protocols
      uvmsim protocols --hunks
      uvmsim protocols --protocol examples/my_diff.py:SEED_ATOMIC_QUEUES --json
    """
    user = [get_protocol(spec) for spec in extra]
    if hunks:
        rows = hunks_json()
        if as_json:
            click.echo(json.dumps({"hunks": rows}, indent=2))
            return
        t = Table(title="The 26 hunks of the seed diff")
        for col in ("#", "file", "hunk", "function", "switch", "model function(s)"):
            t.add_column(col)
        for r in rows:
            t.add_row(
                str(r["hunk"]),
                r["file"],
                r["header"],
                r["function"],
                ", ".join(r["switches"]),
                ", ".join(r["model_functions"]),
            )
        Console().print(t)
        return
    doc = protocols_json(user)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    protos = doc["protocols"]
    t = Table(title="Protocols (1 = as in the seed diff)")
    t.add_column("switch")
    t.add_column("hunks")
    for p in protos:
        t.add_column(p["name"], justify="center")
    for s in doc["switches"]:
        t.add_row(
            s["name"],
            ",".join(map(str, s["hunks"])) or "-",
            *("1" if p["switches"][s["name"]] else "." for p in protos),
        )
    Console().print(t)
    for p in protos:
        click.echo(f"{p['name']}: {p['description']}")


@click.command("scenarios")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
def scenarios_cmd(as_json: bool) -> None:
    """List the checker scenarios: CPUs, pages, what each exercises, what it expects.

    \b
    Example:
      uvmsim scenarios
    """
    from uvmsim.scenarios import SCENARIOS

    rows = [
        {
            "name": s.name,
            "cpus": s.cpus,
            "pages": s.pages,
            "questions": list(s.questions),
            "summary": s.summary,
            "expect": s.expect,
        }
        for s in SCENARIOS.values()
    ]
    if as_json:
        click.echo(json.dumps({"scenarios": rows}, indent=2))
        return
    t = Table(title="Scenarios")
    for col in ("name", "CPUs", "pages", "review", "what it exercises", "expected"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            r["name"],
            str(r["cpus"]),
            str(r["pages"]),
            ",".join(r["questions"]),
            r["summary"],
            ", ".join(f"{k}: {v}" for k, v in r["expect"].items()),
        )
    Console().print(t)
