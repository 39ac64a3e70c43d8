"""Sweep specs (TOML): simulation grids and exploration campaigns, expanded into runs.

A spec is validated completely before anything runs or anything is written: every error is
one line naming the spec file, the table, the field and what it accepts.  Expansion is
deterministic, so the same spec always gives the same runs with the same keys.  See
docs/sweeps.md for the format.

Every number has an upper bound (the `MAX_*` constants, documented in docs/sweeps.md), and the
size of the grid is computed before it is expanded: a typo such as `seeds = "0..999999999999"`
or `cycles = inf` is a one-line error at once, never a sweep that cannot finish or a parser
that runs out of memory.  Nothing but `InputError` leaves `parse_spec` for any text.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from uvmsim.check.strategies import STRATEGIES
from uvmsim.check.token import switches_digest
from uvmsim.machine.failure import InputError
from uvmsim.output_files import read_input_text
from uvmsim.runs.names import get_protocol, get_scenario, get_workload
from uvmsim.scenarios import SCENARIOS
from uvmsim.scenarios.base import MAX_PAGES, SIZE_NAMES

SAMPLED = ("random", "pct")
KINDS = ("simulate", "explore", "fuzz")
TOP_LEVEL = ("name", *KINDS)
DISCIPLINES = ("cas", "fifo")

# Bounds (docs/sweeps.md, "Limits").  They are far above anything a sweep needs and low enough
# that a spec within them can be expanded, stored and run: their job is to turn a typo into an
# error message instead of a sweep that never ends.
MAX_CPUS = 1024
"""CPU counts of a simulation: 1..MAX_CPUS (the simulated machine, not this one)."""
MAX_RUNS = 100_000
"""Runs (rows of the store) per spec, all tables together; split a bigger sweep in several
specs sharing one store."""
MAX_SEED = 2**63 - 1
"""Largest seed: what an SQLite INTEGER holds."""
MAX_SEED_RANGE = 100_000_000
"""Engine seeds (executions) in one explore range `A..B` or `executions = N`."""
MAX_OPS = 10**9
"""Workload operations per simulation run."""
MAX_CYCLES = 1e15
"""Simulated cycles per simulation run (about five days of a 2.4 GHz CPU)."""
MAX_STEPS = 10**7
"""`max_steps`: visible operations per checker execution."""
MAX_PREEMPTIONS = 1000
"""`preemptions`: a bound this high is the same as no bound for any scenario."""
MAX_FUZZ_PROGRAMS = 1_000_000
"""Generated programs per [[fuzz]] campaign (about a day of one core)."""
MAX_NAME = 200
"""Characters of a sweep's `name` (one line: it is shown in progress bars and reports)."""
MAX_SPEC_BYTES = 1_000_000
"""Size of a spec file (a spec is a few hundred bytes; this refuses `sweep run big.sqlite`)."""

SIMULATE_FIELDS = {
    "protocols": "list of protocol names (uvmsim protocols)",
    "workloads": "list of workload names",
    "cpus": f"list of CPU counts 1..{MAX_CPUS}",
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
    "cpus": "scenario size: CPUs, an integer or a list (default: each scenario's own)",
    "pages": "scenario size: pages of memory, an integer or a list (default: each scenario's)",
    "ops": "scenario size: operations per CPU, an integer or a list (default 1)",
    "passes": "scenario size: pagedaemon passes, an integer or a list (default 1)",
}
FUZZ_FIELDS = {
    "protocols": "list of protocol names (uvmsim protocols)",
    "seeds": "campaign seeds: a list of integers or a range 'A..B' (one campaign, one row each)",
    "programs": f"integer 1..{MAX_FUZZ_PROGRAMS:,}: generated programs per campaign",
    "pct": "integer 0..100000: PCT executions per program (default 12)",
    "random": "integer 0..100000: random executions per program (default 12)",
    "faults": "true/false: worlds with injected swap failures (default true)",
    "minimize": "true/false: shrink each failure group to a scenario (default true)",
}
FUZZ_TARGET = "fuzz"
"""The scenario and strategy of a [[fuzz]] campaign's row: its scenarios are generated."""


_KEY_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


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

    @cached_property
    def key(self) -> str:
        """A digest of every input: equal keys mean the same run (and the same result).

        Stored keys must never change: the text digested is exactly `json.dumps(doc,
        sort_keys=True, separators=(",", ":"))`, from one reused encoder (a spec may expand to
        MAX_RUNS runs).
        """
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
        return hashlib.sha256(_KEY_JSON.encode(doc).encode()).hexdigest()[:32]

    @property
    def param(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def sizes(self) -> dict[str, int]:
        """The scenario's sizes an explore run gives (empty: its original shape)."""
        return json.loads(self.param.get("sizes", "{}"))

    def label(self) -> str:
        if self.kind == "simulate":
            return f"{self.protocol_name} {self.target} {self.cpus} CPUs seed {self.seed}"
        if self.strategy == FUZZ_TARGET:
            return f"{self.protocol_name} fuzz seed {self.seed} ({self.param['programs']} programs)"
        seeds = (
            f"seeds {self.seed}..{self.seed_last}" if self.seed_last is not None else "exhaustive"
        )
        sizes = "".join(f" {k}={v}" for k, v in self.sizes.items())
        return f"{self.protocol_name} {self.target}{sizes} {self.strategy} {seeds}"


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

    def table_error(self, text: str) -> InputError:
        return InputError(f"{self.path}: {self.table}: {text}")


def show(value: Any, limit: int = 60) -> str:
    """`repr(value)` cut to `limit` characters: an error message stays one readable line."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        text = f"<an integer of about {value.bit_length() * 0.30103:.0f} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list(where: _Where, table: dict, name: str, accepted: str) -> list:
    if name not in table:
        raise where.error(name, f"missing; expected {accepted}")
    value = table[name]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error(name, f"expected a non-empty {accepted}, got {show(value)}")
    if len(set(map(repr, value))) != len(value):
        raise where.error(name, f"lists a value twice: {show(value)}")
    return value


def _names(where: _Where, table: dict, name: str, accepted: str) -> list[str]:
    """A non-empty list of strings (a single string is a list of one)."""
    value = _list(where, table, name, accepted)
    for v in value:
        if not isinstance(v, str):
            raise where.error(name, f"expected {accepted}, got {show(v)}")
    return value


def _int(where: _Where, table: dict, name: str, default: Any, lo: int, hi: int) -> int | None:
    value = table.get(name, default)
    if value is None:
        return None
    if not _is_int(value):
        raise where.error(name, f"expected an integer {lo}..{hi:,}, got {show(value)}")
    if not lo <= value <= hi:
        raise where.error(name, f"must be between {lo} and {hi:,}, got {show(value)}")
    return value


_RANGE = re.compile(r"^\s*(-?[0-9]+)\s*\.\.\s*(-?[0-9]+)\s*$")


def _seed_range(where: _Where, value: Any, longest: int, unit: str) -> tuple[int, int]:
    """`"A..B"` as (A, B), refusing a range of more than `longest` seeds before it is used."""
    m = _RANGE.match(value) if isinstance(value, str) else None
    if not m:
        raise where.error("seeds", f"expected a range 'A..B' with A <= B, got {show(value)}")
    if max(len(m.group(1)), len(m.group(2))) > 20:  # past 2**63 already: do not convert
        raise where.error(
            "seeds", f"a seed must be at most {MAX_SEED:,} (2**63-1), got {show(value)}"
        )
    a, b = int(m.group(1)), int(m.group(2))
    if a < 0 or b < a:
        raise where.error("seeds", f"expected a range 'A..B' with 0 <= A <= B, got {show(value)}")
    if b > MAX_SEED:
        raise where.error("seeds", f"a seed must be at most {MAX_SEED:,} (2**63-1), got {b:,}")
    if b - a + 1 > longest:
        raise where.error(
            "seeds",
            f"the range {value.strip()!r} has {b - a + 1:,} seeds; accepted: at most "
            f"{longest:,} {unit}",
        )
    return a, b


def _sim_seeds(where: _Where, table: dict) -> list[int]:
    value = table.get("seeds", [0])
    if isinstance(value, str):
        a, b = _seed_range(where, value, MAX_RUNS, "(runs per spec)")
        return list(range(a, b + 1))
    if (
        not isinstance(value, list)
        or not value
        or not all(_is_int(s) and 0 <= s <= MAX_SEED for s in value)
    ):
        raise where.error(
            "seeds",
            f"expected a list of integers 0..{MAX_SEED:,} or a range 'A..B', got {show(value)}",
        )
    if len(set(value)) != len(value):
        raise where.error("seeds", f"lists a seed twice: {show(value)}")
    return value


def _protocols(where: _Where, table: dict) -> list[tuple[str, Any]]:
    out = []
    for name in _list(where, table, "protocols", SIMULATE_FIELDS["protocols"]):
        if not isinstance(name, str):
            raise where.error("protocols", f"expected protocol names, got {show(name)}")
        try:
            out.append((name, get_protocol(name)))
        except InputError as exc:
            raise where.error("protocols", str(exc)) from None
    return out


def _unknown_fields(where: _Where, table: dict, known: dict[str, str]) -> None:
    for key in table:
        if key not in known:
            name = key if len(key) <= 40 and key.isprintable() else show(key, 40)
            raise where.error(name, f"unknown field; accepted: {', '.join(known)}")


def _finite(where: _Where, name: str, value: Any) -> None:
    """Refuse nan and inf anywhere in `value`: a run bounded by them never ends."""
    if isinstance(value, float) and not math.isfinite(value):
        raise where.error(name, f"must be a finite number, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(where, f"{name}.{k}", v)
    elif isinstance(value, list):
        for v in value:
            _finite(where, name, v)


def _options(where: _Where, table: dict, workloads: list[str]) -> dict:
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise where.error("options", f"expected a table of workload options, got {show(options)}")
    _finite(where, "options", options)
    for w in workloads:
        try:
            wl = get_workload(w)
        except InputError as exc:
            raise where.error("workloads", str(exc)) from None
        try:
            wl.parse(options)  # also refuses strings such as "inf" that convert to non-finite
        except InputError as exc:
            raise where.error("options", str(exc)) from None
    return options


def _cycles(where: _Where, table: dict) -> float | int | None:
    cycles = table.get("cycles")
    if cycles is None:
        return None
    accepted = f"a finite number > 0 and <= {MAX_CYCLES:g}"
    if isinstance(cycles, bool) or not isinstance(cycles, int | float):
        raise where.error("cycles", f"expected {accepted}, got {show(cycles)}")
    if not (math.isfinite(cycles) and 0 < cycles <= MAX_CYCLES):
        raise where.error("cycles", f"must be {accepted}, got {show(cycles)}")
    return cycles


def _check_total(where: _Where, total: int, count: int, factors: str) -> None:
    """Refuse a table that would take the spec past MAX_RUNS, before expanding it."""
    if total + count > MAX_RUNS:
        raise where.table_error(
            f"{count:,} runs ({factors}) make the spec {total + count:,} runs; accepted: at "
            f"most {MAX_RUNS:,} runs per spec (split it into several specs sharing one store)",
        )


def _simulate_runs(where: _Where, table: dict, total: int) -> list[RunSpec]:
    _unknown_fields(where, table, SIMULATE_FIELDS)
    protocols = _protocols(where, table)
    workloads = _names(where, table, "workloads", SIMULATE_FIELDS["workloads"])
    options = _options(where, table, workloads)
    cpus = _list(where, table, "cpus", SIMULATE_FIELDS["cpus"])
    for n in cpus:
        if not (_is_int(n) and 1 <= n <= MAX_CPUS):
            raise where.error("cpus", f"CPU counts must be integers 1..{MAX_CPUS}, got {show(n)}")
    seeds = _sim_seeds(where, table)
    ops = _int(where, table, "ops", None, 1, MAX_OPS)
    cycles = _cycles(where, table)
    if ops is None and cycles is None:
        ops = 2000
    discipline = table.get("discipline", "cas")
    if not isinstance(discipline, str) or discipline not in DISCIPLINES:
        raise where.error(
            "discipline", f"expected one of {', '.join(DISCIPLINES)}, got {show(discipline)}"
        )
    count = len(protocols) * len(workloads) * len(cpus) * len(seeds)
    _check_total(
        where,
        total,
        count,
        f"{len(protocols)} protocols x {len(workloads)} workloads x {len(cpus)} CPU counts x "
        f"{len(seeds):,} seeds",
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


def _size_grid(where: _Where, table: dict, scenarios: list[str]) -> list[dict[str, int]]:
    """The scenario sizes a table gives (`cpus`, `pages`, `ops`, `passes`: an integer or a
    list each), as every combination; each scenario must take each size given, within its
    bounds (`get_scenario`)."""
    grid: list[dict[str, int]] = [{}]
    for name in SIZE_NAMES:
        if name not in table:
            continue
        value = table[name]
        values = value if isinstance(value, list) else [value]
        if not values or not all(_is_int(v) and 1 <= v <= MAX_PAGES for v in values):
            raise where.error(
                name, f"expected an integer 1..{MAX_PAGES} or a list of them, got {show(value)}"
            )
        if len(set(values)) != len(values):
            raise where.error(name, f"lists a value twice: {show(value)}")
        grid = [{**g, name: v} for g in grid for v in values]
    for sizes in grid:
        for scen in scenarios:
            try:
                get_scenario(scen, sizes)
            except InputError as exc:
                bad = next((k for k in sizes if f"--{k} " in str(exc)), "scenarios")
                raise where.error(bad, str(exc)) from None
    return grid


def _explore_runs(where: _Where, table: dict, total: int) -> list[RunSpec]:
    _unknown_fields(where, table, EXPLORE_FIELDS)
    protocols = _protocols(where, table)
    scenarios = _names(where, table, "scenarios", EXPLORE_FIELDS["scenarios"])
    if scenarios == ["all"]:  # every kernel situation; not the review's control harnesses
        scenarios = sorted(name for name, sc in SCENARIOS.items() if not sc.apparatus)
    for s in scenarios:
        if s not in SCENARIOS:
            raise where.error(
                "scenarios",
                f"scenario {show(s)} is unknown; accepted: all, {', '.join(SCENARIOS)}",
            )
    strategies = _names(where, table, "strategies", EXPLORE_FIELDS["strategies"])
    for s in strategies:
        if s not in STRATEGIES:
            raise where.error(
                "strategies", f"strategy {show(s)} is unknown; accepted: {', '.join(STRATEGIES)}"
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
    executions = _int(where, table, "executions", None, 1, MAX_SEED_RANGE)
    per_run = _int(where, table, "per_run", 1000, 1, MAX_SEED_RANGE)
    assert per_run is not None
    pct_depth = _int(where, table, "pct_depth", 2, 1, 10)
    preemptions = _int(where, table, "preemptions", None, 0, MAX_PREEMPTIONS)
    max_steps = _int(where, table, "max_steps", 20_000, 1, MAX_STEPS)
    minimize = table.get("minimize", True)
    if not isinstance(minimize, bool):
        raise where.error("minimize", f"expected true or false, got {show(minimize)}")
    sampled = [s for s in strategies if s in SAMPLED]
    first = last = 0
    if sampled:
        if "seeds" in table:
            first, last = _seed_range(where, table["seeds"], MAX_SEED_RANGE, "executions")
        elif executions is not None:
            first = _int(where, table, "seed", 0, 0, MAX_SEED - executions + 1)
            assert first is not None
            last = first + executions - 1
        else:
            raise where.error(
                "seeds", f"missing: {', '.join(sampled)} need seeds = 'A..B' or executions = N"
            )
    chunks = -(-(last - first + 1) // per_run) if sampled else 0
    grid = _size_grid(where, table, scenarios)
    count = (
        len(protocols)
        * len(scenarios)
        * len(grid)
        * (len(sampled) * chunks + len(strategies) - len(sampled))
    )
    _check_total(
        where,
        total,
        count,
        f"{len(protocols)} protocols x {len(scenarios)} scenarios x {len(strategies)} strategies"
        + (f", {chunks:,} rows of per_run = {per_run:,} seeds each" if sampled else ""),
    )
    runs = []
    for pname, proto in protocols:
        digest = switches_digest(proto)
        for scen, sizes in ((sc, g) for sc in scenarios for g in grid):
            for strat in strategies:
                common = [("max_steps", max_steps), ("minimize", minimize)]
                if sizes:  # only then: the keys of runs of original shapes stay as they were
                    common.append(("sizes", json.dumps(sizes, sort_keys=True)))
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


def _flag(where: _Where, table: dict, name: str) -> bool:
    value = table.get(name, True)
    if not isinstance(value, bool):
        raise where.error(name, f"expected true or false, got {show(value)}")
    return value


def _fuzz_runs(where: _Where, table: dict, total: int) -> list[RunSpec]:
    """A [[fuzz]] table: one `uvmsim fuzz` campaign per protocol and seed.  Stored as an
    explore row whose scenario and strategy are "fuzz" (the store's kinds are simulate and
    explore; a campaign is an exploration of generated scenarios), so `uvmsim report` counts
    its executions and lists its failures with their tokens next to the other campaigns."""
    _unknown_fields(where, table, FUZZ_FIELDS)
    protocols = _protocols(where, table)
    if "programs" not in table:
        raise where.error("programs", f"missing; expected {FUZZ_FIELDS['programs']}")
    programs = _int(where, table, "programs", None, 1, MAX_FUZZ_PROGRAMS)
    pct = _int(where, table, "pct", 12, 0, 100_000)
    random_ = _int(where, table, "random", 12, 0, 100_000)
    if pct == 0 and random_ == 0:
        raise where.error("random", "pct and random cannot both be 0")
    faults, minimize = _flag(where, table, "faults"), _flag(where, table, "minimize")
    seeds = _sim_seeds(where, table)
    _check_total(where, total, len(protocols) * len(seeds), f"{len(protocols)} protocols x "
                 f"{len(seeds)} seeds")  # fmt: skip
    params = (
        ("faults", faults),
        ("minimize", minimize),
        ("pct", pct),
        ("programs", programs),
        ("random", random_),
    )
    return [
        RunSpec(
            "explore",
            pname,
            proto.name,
            switches_digest(proto),
            FUZZ_TARGET,
            FUZZ_TARGET,
            None,
            seed,
            seed,
            params,
        )
        for pname, proto in protocols
        for seed in seeds
    ]


def parse_spec(text: str, path: str = "spec") -> SweepSpec:
    """Validate a spec and expand it into runs (in spec order, duplicates dropped).

    Raises `InputError`, and nothing else, for any `text`.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    for key in doc:
        if key not in TOP_LEVEL:
            raise InputError(
                f"{path}: unknown top-level key {show(key, 40)}; accepted: name, [[simulate]], "
                "[[explore]], [[fuzz]]"
            )
    name = doc.get("name", "sweep")
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > MAX_NAME
        or not name.isprintable()
    ):
        raise InputError(
            f"{path}: name: expected a one-line string of 1..{MAX_NAME} printable characters, "
            f"got {show(name)}"
        )
    runs: list[RunSpec] = []
    for kind in KINDS:
        tables = doc.get(kind, [])
        if isinstance(tables, dict):
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise InputError(f"{path}: {kind}: expected [[{kind}]] tables")
        for i, table in enumerate(tables, start=1):
            where = _Where(path, f"{kind}[{i}]")
            parse = {"simulate": _simulate_runs, "explore": _explore_runs, "fuzz": _fuzz_runs}
            runs += parse[kind](where, table, len(runs))
    if not runs:
        raise InputError(f"{path}: no runs: add a [[simulate]], an [[explore]] or a [[fuzz]] table")
    unique = list({r.key: r for r in runs}.values())
    return SweepSpec(name, path, unique)


def load_spec(path: str) -> SweepSpec:
    return parse_spec(read_input_text(path, MAX_SPEC_BYTES, "sweep spec"), path)
