"""Sweep specs (TOML): simulation grids and exploration campaigns, expanded into runs.

A spec is validated completely before anything runs or anything is written: every error is
one line naming the spec file, the table, the field and what it accepts.  Expansion is
deterministic, so the same spec always gives the same runs with the same keys.  See
docs/sweeps.md for the format.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from uvmsim.check.runner import STRATEGIES
from uvmsim.check.token import switches_digest
from uvmsim.machine.failure import InputError
from uvmsim.protocols import get_protocol
from uvmsim.scenarios import SCENARIOS
from uvmsim.simulate.run import get_workload

SAMPLED = ("random", "pct")
KINDS = ("simulate", "explore")
TOP_LEVEL = ("name", *KINDS)
DISCIPLINES = ("cas", "fifo")

SIMULATE_FIELDS = {
    "protocols": "list of protocol names (uvmsim protocols)",
    "workloads": "list of workload names",
    "cpus": "list of positive CPU counts",
    "seeds": "list of integers or a range 'A..B'",
    "ops": "positive integer: workload operations per run",
    "cycles": "positive number: simulated cycles per run",
    "discipline": "one of cas, fifo",
    "options": "table of workload options",
}
EXPLORE_FIELDS = {
    "protocols": "list of protocol names (uvmsim protocols)",
    "scenarios": "list of scenario names (uvmsim scenarios), or ['all']",
    "strategies": f"list of strategies: {', '.join(STRATEGIES)}",
    "seeds": "engine seeds of random/pct executions: a range 'A..B' (one execution each)",
    "seed": "first engine seed when `executions` is given (default 0)",
    "executions": "random/pct: executions per protocol x scenario x strategy; "
    "dpor/bounded/dfs: the execution budget of the exploration",
    "per_run": "random/pct executions stored per row (default 1000)",
    "pct_depth": "integer 1..10 (default 2)",
    "preemptions": "dpor/bounded: preemption bound (default: none for dpor, 2 for bounded)",
    "max_steps": "visible operations per execution before it is cut (default 20000)",
    "minimize": "true/false: shrink each stored counterexample (default true)",
}


@dataclass(frozen=True)
class RunSpec:
    """One row of the store: everything that determines the run's result."""

    kind: str  # "simulate" or "explore"
    protocol: str  # as the spec gives it (a name or file.py:NAME)
    protocol_name: str
    protocol_digest: str
    target: str  # workload (simulate) or scenario (explore)
    strategy: str | None  # explore only
    cpus: int | None  # simulate only (a scenario fixes its own CPUs)
    seed: int  # simulation seed, or the first engine seed of a sampled campaign chunk
    seed_last: int | None  # last engine seed of a chunk (sampled explore only)
    params: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def key(self) -> str:
        """A digest of every input: equal keys mean the same run (and the same result)."""
        doc = {
            "kind": self.kind,
            "protocol": self.protocol,
            "digest": self.protocol_digest,
            "target": self.target,
            "strategy": self.strategy,
            "cpus": self.cpus,
            "seed": self.seed,
            "seed_last": self.seed_last,
            "params": dict(self.params),
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def param(self) -> dict[str, Any]:
        return dict(self.params)

    def label(self) -> str:
        if self.kind == "simulate":
            return f"{self.protocol_name} {self.target} {self.cpus} CPUs seed {self.seed}"
        seeds = (
            f"seeds {self.seed}..{self.seed_last}" if self.seed_last is not None else "exhaustive"
        )
        return f"{self.protocol_name} {self.target} {self.strategy} {seeds}"


@dataclass
class SweepSpec:
    name: str
    path: str
    runs: list[RunSpec]


class _Where:
    """The position of a value in the spec, for error messages."""

    def __init__(self, path: str, table: str):
        self.path, self.table = path, table

    def error(self, name: str, text: str) -> InputError:
        return InputError(f"{self.path}: {self.table}.{name}: {text}")


def _list(where: _Where, table: dict, name: str, accepted: str) -> list:
    if name not in table:
        raise where.error(name, f"missing; expected {accepted}")
    value = table[name]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error(name, f"expected a non-empty {accepted}, got {value!r}")
    if len(set(map(repr, value))) != len(value):
        raise where.error(name, f"lists a value twice: {value!r}")
    return value


def _int(where: _Where, table: dict, name: str, default: Any, lo: int, hi: int | None = None):
    value = table.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(name, f"expected an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise where.error(name, f"must be {bound}, got {value}")
    return value


_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


def _seed_range(where: _Where, value: Any) -> tuple[int, int]:
    m = _RANGE.match(value) if isinstance(value, str) else None
    if not m:
        raise where.error("seeds", f"expected a range 'A..B' with A <= B, got {value!r}")
    a, b = int(m.group(1)), int(m.group(2))
    if a < 0 or b < a:
        raise where.error("seeds", f"expected a range 'A..B' with 0 <= A <= B, got {value!r}")
    return a, b


def _sim_seeds(where: _Where, table: dict) -> list[int]:
    value = table.get("seeds", [0])
    if isinstance(value, str):
        a, b = _seed_range(where, value)
        return list(range(a, b + 1))
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        raise where.error(
            "seeds", f"expected a list of integers >= 0 or a range 'A..B', got {value!r}"
        )
    if len(set(value)) != len(value):
        raise where.error("seeds", f"lists a seed twice: {value!r}")
    return value


def _protocols(where: _Where, table: dict) -> list[tuple[str, Any]]:
    out = []
    for name in _list(where, table, "protocols", SIMULATE_FIELDS["protocols"]):
        if not isinstance(name, str):
            raise where.error("protocols", f"expected protocol names, got {name!r}")
        try:
            out.append((name, get_protocol(name)))
        except InputError as exc:
            raise where.error("protocols", str(exc)) from None
    return out


def _unknown_fields(where: _Where, table: dict, known: dict[str, str]) -> None:
    for key in table:
        if key not in known:
            raise where.error(key, f"unknown field; accepted: {', '.join(known)}")


def _simulate_runs(where: _Where, table: dict) -> list[RunSpec]:
    _unknown_fields(where, table, SIMULATE_FIELDS)
    protocols = _protocols(where, table)
    workloads = _list(where, table, "workloads", SIMULATE_FIELDS["workloads"])
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise where.error("options", f"expected a table of workload options, got {options!r}")
    for w in workloads:
        try:
            wl = get_workload(w)
        except InputError as exc:
            raise where.error("workloads", str(exc)) from None
        try:
            wl.parse(options)
        except InputError as exc:
            raise where.error("options", str(exc)) from None
    cpus = _list(where, table, "cpus", SIMULATE_FIELDS["cpus"])
    if not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1024 for n in cpus):
        raise where.error("cpus", f"expected CPU counts between 1 and 1024, got {cpus!r}")
    seeds = _sim_seeds(where, table)
    ops = _int(where, table, "ops", None, 1)
    cycles = table.get("cycles")
    if cycles is not None and (
        isinstance(cycles, bool) or not isinstance(cycles, int | float) or cycles <= 0
    ):
        raise where.error("cycles", f"expected a positive number, got {cycles!r}")
    if ops is None and cycles is None:
        ops = 2000
    discipline = table.get("discipline", "cas")
    if discipline not in DISCIPLINES:
        raise where.error(
            "discipline", f"expected one of {', '.join(DISCIPLINES)}, got {discipline!r}"
        )
    params = (
        ("cycles", cycles),
        ("discipline", discipline),
        ("ops", ops),
        ("options", json.dumps(options, sort_keys=True)),
    )
    runs = []
    for pname, proto in protocols:
        digest = switches_digest(proto)
        for w in workloads:
            for n in cpus:
                for s in seeds:
                    runs.append(
                        RunSpec("simulate", pname, proto.name, digest, w, None, n, s, None, params)
                    )
    return runs


def _explore_runs(where: _Where, table: dict) -> list[RunSpec]:
    _unknown_fields(where, table, EXPLORE_FIELDS)
    protocols = _protocols(where, table)
    scenarios = _list(where, table, "scenarios", EXPLORE_FIELDS["scenarios"])
    if scenarios == ["all"]:
        scenarios = sorted(SCENARIOS)
    for s in scenarios:
        if s not in SCENARIOS:
            raise where.error(
                "scenarios", f"scenario {s!r} is unknown; accepted: all, {', '.join(SCENARIOS)}"
            )
    strategies = _list(where, table, "strategies", EXPLORE_FIELDS["strategies"])
    for s in strategies:
        if s not in STRATEGIES:
            raise where.error(
                "strategies", f"strategy {s!r} is unknown; accepted: {', '.join(STRATEGIES)}"
            )
    # `seeds` fixes both the first seed and the count of sampled strategies
    if (
        "seeds" in table
        and ("seed" in table or "executions" in table)
        and any(s in SAMPLED for s in strategies)
    ):
        raise where.error(
            "seeds",
            "random/pct take either seeds = 'A..B' or seed + executions, not both "
            "(for a dpor budget next to seeds, use a separate [[explore]] table)",
        )
    executions = _int(where, table, "executions", None, 1)
    per_run = _int(where, table, "per_run", 1000, 1)
    pct_depth = _int(where, table, "pct_depth", 2, 1, 10)
    preemptions = _int(where, table, "preemptions", None, 0)
    max_steps = _int(where, table, "max_steps", 20_000, 1)
    minimize = table.get("minimize", True)
    if not isinstance(minimize, bool):
        raise where.error("minimize", f"expected true or false, got {minimize!r}")
    sampled = [s for s in strategies if s in SAMPLED]
    if sampled:
        if "seeds" in table:
            first, last = _seed_range(where, table["seeds"])
        elif executions is not None:
            first = _int(where, table, "seed", 0, 0)
            last = first + executions - 1
        else:
            raise where.error(
                "seeds", f"missing: {', '.join(sampled)} need seeds = 'A..B' or executions = N"
            )
    runs = []
    for pname, proto in protocols:
        digest = switches_digest(proto)
        for scen in scenarios:
            for strat in strategies:
                common = [("max_steps", max_steps), ("minimize", minimize)]
                if strat in SAMPLED:
                    if strat == "pct":
                        common.append(("pct_depth", pct_depth))
                    for lo in range(first, last + 1, per_run):
                        hi = min(last, lo + per_run - 1)
                        runs.append(
                            RunSpec(
                                "explore",
                                pname,
                                proto.name,
                                digest,
                                scen,
                                strat,
                                None,
                                lo,
                                hi,
                                tuple(sorted(common)),
                            )
                        )
                else:
                    params = [*common, ("max_executions", executions), ("preemptions", preemptions)]
                    runs.append(
                        RunSpec(
                            "explore",
                            pname,
                            proto.name,
                            digest,
                            scen,
                            strat,
                            None,
                            0,
                            None,
                            tuple(sorted(params)),
                        )
                    )
    return runs


def parse_spec(text: str, path: str = "spec") -> SweepSpec:
    """Validate a spec and expand it into runs (in spec order, duplicates dropped)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    for key in doc:
        if key not in TOP_LEVEL:
            raise InputError(
                f"{path}: unknown top-level key {key!r}; accepted: name, [[simulate]], [[explore]]"
            )
    name = doc.get("name", "sweep")
    if not isinstance(name, str) or not name:
        raise InputError(f"{path}: name: expected a non-empty string, got {name!r}")
    runs: list[RunSpec] = []
    for kind in KINDS:
        tables = doc.get(kind, [])
        if isinstance(tables, dict):
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise InputError(f"{path}: {kind}: expected [[{kind}]] tables")
        for i, table in enumerate(tables, start=1):
            where = _Where(path, f"{kind}[{i}]")
            runs += (
                _simulate_runs(where, table) if kind == "simulate" else _explore_runs(where, table)
            )
    if not runs:
        raise InputError(f"{path}: no runs: add a [[simulate]] or an [[explore]] table")
    unique = list({r.key: r for r in runs}.values())
    return SweepSpec(name, path, unique)


def load_spec(path: str) -> SweepSpec:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the sweep spec: {exc.strerror}") from None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    return parse_spec(text, path)
