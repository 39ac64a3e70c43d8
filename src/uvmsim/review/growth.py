"""How far a "holds" reaches: the growth results of the UVM scenarios (issue 14).

`benchmarks/checker.py --growth` explores every UVM scenario exhaustively on seed, seed-fixed
and openbsd-pre at its original shape, then grows it one size at a time (more CPUs, more
operations per CPU, more pagedaemon passes, as the scenario takes them) until a run does not
finish within the per-run budget, and records every run in `growth.json` beside this module.
docs/checker.md's growth table is rendered from that file (docs/generate.py, view `growth`),
and `uvmsim review` prints, beside each "holds", the largest sizes at which the scenarios
behind it were explored completely, and the kinds of failure met there.

A run that did not finish is recorded as such ("stopped") and never counts as verified; a run
the global budget left out is "not run".
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

GROWTH_FILE = Path(__file__).with_name("growth.json")
AXES = ("cpus", "ops", "passes")
_UNITS = {"cpus": ("CPU", "CPUs"), "ops": ("operation", "operations"), "passes": ("pass", "passes")}


@cache
def load(path: str = str(GROWTH_FILE)) -> dict[str, Any] | None:
    """The recorded growth results, or None when none were recorded."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def shape_text(sizes: dict[str, int]) -> str:
    """`{"cpus": 4, "ops": 2}` as "4 CPUs x 2 operations" (pages left out: they follow)."""
    parts = []
    for name in AXES:
        if name in sizes:
            one, many = _UNITS[name]
            parts.append(f"{sizes[name]} {one if sizes[name] == 1 else many}")
    return " x ".join(parts)


def largest_verified(doc: dict[str, Any], protocol: str, scenario: str) -> str:
    """The largest shapes of `scenario` on `protocol` explored completely, one per direction
    grown, and the failures those runs met (a question's own check decides whether they are
    its concern: the review reports each failure of the protocol itself); or why there is
    none."""
    runs = [r for r in doc["runs"] if r["protocol"] == protocol and r["scenario"] == scenario]
    if not runs:
        return f"{scenario}: no growth results recorded"
    done = [r for r in runs if r["status"] == "complete"]
    if not done:
        return f"{scenario}: not complete at any recorded size"
    best: dict[str, dict[str, Any]] = {}
    for r in done:
        axis = r["axis"] or "original"
        if axis not in best or r["sizes"].get(axis, 0) > best[axis]["sizes"].get(axis, 0):
            best[axis] = r
    if len(best) > 1:  # every grown shape contains the original one
        best.pop("original", None)
    shapes = list(dict.fromkeys(shape_text(r["sizes"]) for r in best.values()))
    text = f"{scenario}: complete for {' and '.join(shapes)}; not explored beyond"
    kinds = sorted({k for r in done for k in r["failures"]})
    if kinds:
        text += f" (failures met in those runs: {', '.join(kinds)})"
    return text


def reach(protocol: str, scenarios: tuple[str, ...] | list[str]) -> str:
    """What `uvmsim review` prints beside a "holds" for `protocol` over `scenarios`."""
    doc = load()
    if doc is None or not any(r["protocol"] == protocol for r in doc["runs"]):
        recorded = ", ".join(doc["protocols"]) if doc else "none"
        return (
            f"largest verified size: no growth results recorded for {protocol} (recorded: "
            f"{recorded}; benchmarks/checker.py --growth), so only the original shapes are "
            "known to hold"
        )
    return "largest verified size: " + "; ".join(
        largest_verified(doc, protocol, s) for s in scenarios
    )
