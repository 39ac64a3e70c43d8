"""Record (or compare) the outputs the architecture refactor must not change.

    python -m tests.golden.record [checks|simulations|review]   # rewrite tests/golden/*.json
    pytest tests/test_golden.py            # compare the current code against them

What is recorded: `check --json` (coverage, failure, interleaving, replay token) for every
scenario on four protocols, `simulate --json` for every workload on two protocols and two
seeds, and the review JSON at the small bounds the review tests use.  Wall-clock fields
(`elapsed_s`, `seconds`) are dropped: they are the only part allowed to differ.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import zlib

from click.testing import CliRunner

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOLS = ("openbsd-pre", "seed", "seed-no-dequeue-first", "seed-plain-wired")
SIM = (
    ("spinlock", 4, 2000),
    ("build", 16, 600),
    ("flush", 8, 300),
    ("pressure", 4, 200),
    ("make", 8, 300),
)
WALL_CLOCK = {"elapsed_s", "seconds", "elapsed"}
# Model source lines move whenever a model file is edited (an import, a docstring); what must
# not change is everything else, so lines are compared as "N".
_LINES = re.compile(r'(\.py:|\.py", line )\d+')


def strip_wall_clock(doc):
    if isinstance(doc, dict):
        return {k: strip_wall_clock(v) for k, v in doc.items() if k not in WALL_CLOCK}
    if isinstance(doc, list):
        return [strip_wall_clock(v) for v in doc]
    return doc


def _decoded_token(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def normalized(doc):
    """`doc` with model line numbers as N and replay tokens decoded (their schedule and
    failure signature are what must stay the same)."""
    if isinstance(doc, dict):
        return {
            normalized(k): normalized(
                _decoded_token(v) if isinstance(v, str) and v.startswith("uvm1.") else v
            )
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [normalized(v) for v in doc]
    if isinstance(doc, str):
        return _LINES.sub(lambda m: m.group(1) + "N", doc)
    return doc


def _cli(args: list[str]) -> dict:
    from uvmsim.cli import main

    r = CliRunner().invoke(main, args)
    assert r.exit_code in (0, 1), (args, r.output)
    return strip_wall_clock(json.loads(r.output))


def scenarios() -> list[str]:
    r = _cli(["scenarios", "--json"])
    return (
        sorted(s["name"] for s in r["scenarios"])
        if isinstance(r, dict)
        else sorted(s["name"] for s in r)
    )


def checks() -> dict:
    out = {}
    for sc in scenarios():
        for p in PROTOCOLS:
            out[f"{sc} on {p}"] = _cli(
                ["check", "-p", p, "-s", sc, "--json", "--max-executions", "400"]
            )
    return out


def simulations() -> dict:
    out = {}
    for wl, cpus, ops in SIM:
        for p in ("openbsd-pre", "seed"):
            for seed in (1, 2):
                out[f"{wl} {cpus} CPUs on {p} seed {seed}"] = _cli(
                    [
                        "simulate",
                        "-w",
                        wl,
                        "-p",
                        p,
                        "-n",
                        str(cpus),
                        "--ops",
                        str(ops),
                        "--seed",
                        str(seed),
                        "--json",
                    ]
                )
    return out


def review() -> dict:
    from tests.conftest import SMALL
    from uvmsim.review.render import to_json
    from uvmsim.review.run import run_review

    return strip_wall_clock(to_json(run_review("seed", "openbsd-pre", bounds=SMALL)))


RECORDS = {"checks": checks, "simulations": simulations, "review": review}


def main() -> None:
    names = sys.argv[1:] or list(RECORDS)
    for name in names:
        doc = RECORDS[name]()
        with open(os.path.join(HERE, f"{name}.json"), "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
            fh.write("\n")
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
