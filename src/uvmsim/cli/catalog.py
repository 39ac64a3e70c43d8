"""`uvmsim protocols` and `uvmsim scenarios`: what can be checked, as tables or JSON.

Tables are laid out for the terminal's width, or $COLUMNS, or 80 columns when piped.  A name
is never cut: when a table cannot show every name whole at that width it changes layout
(protocol columns keyed by number, then one block per row).  User text (a protocol's name or
description from its own file) is escaped before rich sees it, so `[/F1]` prints as written.
"""

from __future__ import annotations

import json
import textwrap

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from uvmsim.console import console, table_fits
from uvmsim.protocols import HUNKS, PROTOCOLS, SWITCHES, Protocol
from uvmsim.protocols.base import KNOBS, NOT_IN_DIFF
from uvmsim.runs.names import get_protocol
from uvmsim.scenarios import SCENARIOS, Scenario
from uvmsim.scenarios.base import Size


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
            {
                "name": p.name,
                "description": p.description,
                "switches": p.switches(),
                "knobs": p.knobs(),
            }
            for p in protos
        ],
        "knobs": [
            {
                "name": name,
                "default": k.default,
                "accepted": None if k.accepted is None else list(k.accepted),
                "doc": k.doc,
            }
            for name, k in KNOBS.items()
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


def _wrapped(text: str, width: int, indent: str = "    ") -> str:
    return "\n".join(
        textwrap.wrap(
            text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
        )
    )


def _print_blocks(
    con: Console, title: str, blocks: list[tuple[str, list[tuple[str, str]]]]
) -> None:
    """The narrow layout of a table: a heading line per row, then `label: value` lines."""
    click.echo(_wrapped(title, con.width, "  "))
    for head, fields in blocks:
        click.echo("")
        click.echo(_wrapped(head, con.width, "  "))
        for label, value in fields:
            click.echo(_wrapped(f"  {label}: {value}", con.width))


def _protocol_table(doc: dict, headers: list[str]) -> Table:
    t = Table(title="Protocols (1 = as in the seed diff)")
    t.add_column("switch")
    t.add_column("hunks")
    for h in headers:
        t.add_column(escape(h), justify="center")
    for s in doc["switches"]:
        t.add_row(
            s["name"],
            ", ".join(map(str, s["hunks"])) or "-",
            *("1" if p["switches"][s["name"]] else "." for p in doc["protocols"]),
        )
    return t


def print_protocols(doc: dict, con: Console) -> None:
    """The switch x protocol matrix, in the widest layout that keeps every name whole.

    Protocol names as column headers; else numbered columns with the names in the legend
    below; else, one block per switch listing the protocols that have it as in the diff.
    """
    protos = doc["protocols"]
    full = _protocol_table(doc, [p["name"] for p in protos])
    if table_fits(con, full):
        con.print(full)
        for p in protos:
            click.echo(_wrapped(f"{p['name']}: {p['description']}", con.width))
        _print_knobs(doc, con)
        return
    keys = [str(i) for i in range(1, len(protos) + 1)]
    keyed = _protocol_table(doc, keys)
    if table_fits(con, keyed):
        con.print(keyed)
        for key, p in zip(keys, protos, strict=True):
            click.echo(_wrapped(f"{key} = {p['name']}: {p['description']}", con.width))
        _print_knobs(doc, con)
        return
    blocks = []
    for s in doc["switches"]:
        on = [p["name"] for p in protos if p["switches"][s["name"]]]
        hunks = ", ".join(map(str, s["hunks"])) or "-"
        blocks.append((s["name"], [("hunks", hunks), ("as in the diff in", ", ".join(on) or "-")]))
    _print_blocks(
        con, "Protocols: each switch, and the protocols that have it as in the diff", blocks
    )
    click.echo("")
    for p in protos:
        click.echo(_wrapped(f"{p['name']}: {p['description']}", con.width))
    _print_knobs(doc, con)


def _print_knobs(doc: dict, con: Console) -> None:
    """The integer knobs: default, accepted values, meaning, and the protocols that set one
    to something else (a variant sets them: `protocol.variant(name, pdq_size=4)`)."""
    blocks = []
    for k in doc["knobs"]:
        accepted = (
            ", ".join(map(str, k["accepted"]))
            if k["accepted"] is not None
            else "a positive integer"
        )
        others = [
            f"{p['name']} ({p['knobs'][k['name']]})"
            for p in doc["protocols"]
            if p["knobs"][k["name"]] != k["default"]
        ]
        blocks.append(
            (
                k["name"],
                [
                    ("default", str(k["default"])),
                    ("accepted", accepted),
                    ("set otherwise in", ", ".join(others) or "-"),
                    ("what", k["doc"]),
                ],
            )
        )
    click.echo("")
    _print_blocks(con, "Knobs: integers a protocol variant sets (variant(..., name=value))", blocks)


def print_hunks(rows: list[dict], con: Console) -> None:
    """The hunk -> switch -> model function table, or one block per hunk when too narrow."""
    title = f"The {len(rows)} hunks of the seed diff"
    t = Table(title=title)
    for col in ("#", "file", "hunk", "function", "switch", "model function(s)"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            str(r["hunk"]),
            escape(r["file"]),
            escape(r["header"]),
            escape(r["function"]),
            ", ".join(r["switches"]),
            ", ".join(r["model_functions"]),
        )
    if table_fits(con, t):
        con.print(t)
        return
    blocks = [
        (
            f"hunk {r['hunk']}: {r['file']} {r['header']} {r['function']}",
            [
                ("switch", ", ".join(r["switches"]) or "-"),
                ("model function(s)", ", ".join(r["model_functions"]) or "-"),
            ],
        )
        for r in rows
    ]
    _print_blocks(con, title, blocks)


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
      uvmsim protocols --protocol examples/my_diff.py:PRE_ATOMIC_WIRED --json
    """
    user = [get_protocol(spec) for spec in extra]
    con = console()
    if hunks:
        rows = hunks_json()
        if as_json:
            click.echo(json.dumps({"hunks": rows}, indent=2))
            return
        print_hunks(rows, con)
        return
    doc = protocols_json(user)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    print_protocols(doc, con)


def _size(s: Scenario, name: str) -> Size | None:
    return next((sz for sz in s.sizes if sz.name == name), None)


@click.command("scenarios")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
def scenarios_cmd(as_json: bool) -> None:
    """List the checker scenarios: CPUs, pages, what each exercises, what it expects, and the
    sizes it grows by (`uvmsim check --cpus/--pages/--ops/--passes`: default and accepted).

    \b
    Example:
      uvmsim scenarios
    """

    rows = [
        {
            "name": s.name,
            "cpus": s.cpus,
            "pages": s.pages,
            "questions": list(s.questions),
            "summary": s.summary,
            "expect": s.expect,
            "sizes": {
                name: {"default": s.defaults()[name], "accepted": [lo, hi]}
                | ({"adds": sz.what} if (sz := _size(s, name)) else {})
                for name, (lo, hi) in s.accepted().items()
            },
        }
        for s in SCENARIOS.values()
    ]
    if as_json:
        click.echo(json.dumps({"scenarios": rows}, indent=2))
        return
    con = console()
    t = Table(title="Scenarios")
    for col in ("name", "CPUs", "pages", "review", "what it exercises", "expected", "grows by"):
        t.add_column(col, overflow="fold")
    expected = [", ".join(f"{k}: {v}" for k, v in r["expect"].items()) for r in rows]
    grows = [
        ", ".join(f"--{k} {v['accepted'][0]}..{v['accepted'][1]}" for k, v in r["sizes"].items())
        for r in rows
    ]
    for r, expect, grow in zip(rows, expected, grows, strict=True):
        t.add_row(
            escape(r["name"]),
            str(r["cpus"]),
            str(r["pages"]),
            ", ".join(r["questions"]),
            escape(r["summary"]),
            escape(expect),
            grow,
        )
    if table_fits(con, t):
        con.print(t)
        return
    blocks = [
        (
            r["name"],
            [
                ("CPUs, pages", f"{r['cpus']}, {r['pages']}"),
                ("review", ", ".join(r["questions"]) or "-"),
                ("what it exercises", r["summary"]),
                ("expected", expect or "-"),
                ("grows by", grow),
            ],
        )
        for r, expect, grow in zip(rows, expected, grows, strict=True)
    ]
    _print_blocks(con, "Scenarios", blocks)
