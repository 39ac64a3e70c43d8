"""Names to objects: the one place a protocol, scenario, workload or strategy name given by a
user becomes the object it names, with one line listing what is accepted when it names
nothing.

A protocol may also be the user's own, `path/to/file.py:NAME` or `package.module:NAME`: the
module is imported (run) here and nowhere else.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from uvmsim.check.strategies import STRATEGIES
from uvmsim.check.strategy import Strategy
from uvmsim.machine.failure import InputError
from uvmsim.protocols import PROTOCOLS, Protocol
from uvmsim.scenarios import SCENARIOS, Scenario
from uvmsim.scenarios.entry_points import to_scenario
from uvmsim.scenarios.program import PROGRAM_REF, from_ref, load_file
from uvmsim.workloads import WORKLOADS, Workload


def get_protocol(name: str) -> Protocol:
    """A named protocol, or a user's protocol given as `path/to/file.py:NAME` or `pkg.mod:NAME`."""
    if name in PROTOCOLS:
        return PROTOCOLS[name]
    if ":" in name:
        return load_protocol(name)
    raise InputError(
        f"protocol {name!r} is unknown; accepted: {', '.join(PROTOCOLS)} "
        "or path/to/file.py:NAME or package.module:NAME"
    )


def load_protocol(spec: str) -> Protocol:
    """Load a user's Protocol from `path/to/file.py:NAME` or `package.module:NAME`.

    This imports (executes) the user's module, exactly like `python path/to/file.py` would.
    """
    where, _, attr = spec.rpartition(":")
    if not where or not attr:
        raise InputError(f"protocol {spec!r}: expected path/to/file.py:NAME or package.module:NAME")
    try:
        if where.endswith(".py") or "/" in where:
            path = Path(where)
            if not path.is_file():
                raise InputError(f"protocol {spec!r}: no file {where}")
            mod_name = f"uvmsim_user_protocol_{abs(hash(str(path.resolve())))}"
            module_spec = importlib.util.spec_from_file_location(mod_name, path)
            if module_spec is None or module_spec.loader is None:
                raise InputError(f"protocol {spec!r}: cannot load {where}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[mod_name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except InputError:
        raise
    except Exception as exc:  # the user's module failed to import: say so in one line
        raise InputError(
            f"protocol {spec!r}: loading {where} failed: {type(exc).__name__}: {exc}"
        ) from None
    proto = getattr(module, attr, None)
    if not isinstance(proto, Protocol):
        raise InputError(f"protocol {spec!r}: {where} has no Protocol named {attr!r}")
    return proto


def get_scenario(name: str, sizes: Mapping[str, int] | None = None) -> Scenario:
    """A scenario of the catalog (`uvmsim scenarios` lists them) grown to `sizes` (name ->
    value of `cpus`, `pages`, `ops`, `passes`; checked against the scenario's bounds), a
    scenario file (`FILE.toml`, a program as `uvmsim fuzz` writes them), or the program a
    replay token carries (`program:<data>`). A program has its own shape: it takes no sizes."""
    if name.startswith(PROGRAM_REF) or (name.endswith(".toml") and name not in SCENARIOS):
        if sizes:
            raise InputError(
                f"scenario {name[:40]!r}: --{next(iter(sizes))} is not accepted, a program has "
                "its own shape; accepted: --cpus/--pages/--ops/--passes on catalog scenarios"
            )
        if name.startswith(PROGRAM_REF):
            return to_scenario(from_ref(name))
        return to_scenario(load_file(name))
    if name not in SCENARIOS:
        raise InputError(
            f"scenario {name!r} is unknown; accepted: {', '.join(sorted(SCENARIOS))} or FILE.toml"
        )
    return SCENARIOS[name].sized(sizes or {})


def get_workload(name: str) -> Workload:
    """A timed workload (`uvmsim simulate --help` lists them with their options)."""
    if name not in WORKLOADS:
        raise InputError(f"workload {name!r} is unknown; accepted: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]


def get_strategy(name: str) -> type[Strategy]:
    """An exploration strategy class of the registry in check/strategies."""
    if name not in STRATEGIES:
        raise InputError(f"strategy {name!r} is unknown; accepted: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
