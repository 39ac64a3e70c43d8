"""Checkpoints of a split DPOR run, so that an interrupted exhaustive check resumes.

A split run's whole state is the coordinator's: the shared states and the branches not yet
explored (`split.Frontier`), and the tallies of what was explored (coverage, failures).
`save` writes it as JSON (never a pickle: resuming a file must not run code), atomically,
with the branches of the slices still running put back as unexplored (their results were
not merged, so exploring them again loses and repeats nothing); `load` reads it back after
checking that it belongs to the same check (`identity`: target, strategy, bounds, uvmsim
version).  The store of `uvmsim sweep` keeps whole runs only; a split run's state lives in
its own file (`uvmsim check --checkpoint FILE`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

from uvmsim import __version__
from uvmsim.check.result import Coverage, FailureTally
from uvmsim.check.strategies.odpor import WakeupNode
from uvmsim.check.strategies.split import Branch, Frontier, SharedNode
from uvmsim.machine import Failure
from uvmsim.machine.failure import InputError
from uvmsim.output_files import write_atomically

FORMAT = "uvmsim-split-checkpoint"


def _key(k: Any) -> tuple:
    return tuple(k)


def _wut_out(nodes: list[WakeupNode]) -> list:
    return [[n.cpu, list(n.key), _wut_out(n.children)] for n in nodes]


def _wut_in(doc: list) -> list[WakeupNode]:
    return [WakeupNode(cpu, _key(key), _wut_in(children)) for cpu, key, children in doc]


def _branch_out(b: Branch) -> dict:
    return {
        "prefix": list(b.prefix),
        "sleep": [[q, list(k)] for q, k in b.sleep],
        "guide": _wut_out(list(b.guide)),
    }


def _branch_in(d: dict) -> Branch:
    return Branch(
        tuple(d["prefix"]),
        tuple((q, _key(k)) for q, k in d["sleep"]),
        tuple(_wut_in(d["guide"])),
    )


def _node_out(n: SharedNode) -> dict:
    return {
        "path": list(n.path),
        "enabled": list(n.enabled),
        "ops": [[c, list(k)] for c, k in n.ops.items()],
        "sleep": [[c, list(k)] for c, k in n.sleep.items()],
        "claimed": list(n.claimed),
        "todo": sorted(n.todo),
        "wut": _wut_out(n.wut),
        "preemptions": n.preemptions,
        "foreign": sorted(n.foreign),
    }


def _node_in(d: dict) -> SharedNode:
    return SharedNode(
        tuple(d["path"]),
        tuple(d["enabled"]),
        {c: _key(k) for c, k in d["ops"]},
        {c: _key(k) for c, k in d["sleep"]},
        claimed=list(d["claimed"]),
        todo=set(d["todo"]),
        wut=_wut_in(d["wut"]),
        preemptions=d["preemptions"],
        foreign=frozenset(d["foreign"]),
    )


def _failure_out(f: Failure, schedule: tuple[int, ...]) -> dict:
    return {"failure": asdict(f), "schedule": list(schedule)}


def _failure_in(d: dict) -> tuple[Failure, tuple[int, ...]]:
    f = d["failure"]
    failure = Failure(
        kind=f["kind"],
        message=f["message"],
        cpu=f["cpu"],
        stacks=tuple((cpu, tuple(stack)) for cpu, stack in f["stacks"]),
        sites=tuple(f["sites"]),
        schedule=tuple(f["schedule"]),
        step=f["step"],
        detail=tuple(f["detail"]),
    )
    return failure, tuple(d["schedule"])


def save(
    path: str,
    identity: dict,
    frontier: Frontier,
    running: list[Branch],
    coverage: Coverage,
    tally: FailureTally,
    first: tuple[Failure, tuple[int, ...]] | None,
) -> None:
    """Write the state of a split run to `path` (see the module docstring)."""
    doc = {
        "format": FORMAT,
        "uvmsim_version": __version__,
        "identity": identity,
        "nodes": [_node_out(n) for n in frontier.nodes.values()],
        "open": [list(p) for p in frontier.open_paths()],
        "ready": [_branch_out(b) for b in [*running, *frontier.ready]],
        "counts": frontier.counts,
        "coverage": {
            k: getattr(coverage, k)
            for k in ("executions", "traces", "redundant", "pruned", "deepest", "elapsed")
        },
        "tally": {
            "counts": tally.counts,
            "examples": {sig: _failure_out(f, s) for sig, (f, s) in tally.examples.items()},
        },
        "first": None if first is None else _failure_out(*first),
    }
    write_atomically(path, json.dumps(doc))


def load(
    path: str, identity: dict, frontier: Frontier
) -> tuple[Coverage, FailureTally, tuple[Failure, tuple[int, ...]] | None]:
    """Restore a split run saved by `save` into `frontier`; its coverage, tally and first
    failure.  Refuses (InputError) a file of another check or another uvmsim version."""
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"--checkpoint {path}: cannot read it ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"--checkpoint {path}: not a uvmsim checkpoint")
    if doc.get("uvmsim_version") != __version__:
        raise InputError(
            f"--checkpoint {path}: written by uvmsim {doc.get('uvmsim_version')}, this is "
            f"uvmsim {__version__}; start a new checkpoint"
        )
    if doc.get("identity") != json.loads(json.dumps(identity)):
        raise InputError(
            f"--checkpoint {path}: it is the checkpoint of another check "
            f"({doc.get('identity')}); give the same protocol, scenario, strategy and bounds, "
            "or another file"
        )
    try:
        frontier.restore(
            [_node_in(n) for n in doc["nodes"]],
            [_branch_in(b) for b in doc["ready"]],
            [tuple(p) for p in doc["open"]],
            doc["counts"],
        )
        cov = Coverage(**doc["coverage"])
        tally = FailureTally(
            counts=doc["tally"]["counts"],
            examples={sig: _failure_in(e) for sig, e in doc["tally"]["examples"].items()},
        )
        first = None if doc["first"] is None else _failure_in(doc["first"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"--checkpoint {path}: damaged ({type(exc).__name__}: {exc})") from None
    return cov, tally, first


def remove(path: str) -> None:
    """The run finished: its checkpoint has nothing left to resume."""
    if os.path.exists(path):
        os.unlink(path)
