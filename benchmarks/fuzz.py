"""`uvmsim fuzz` from scratch: programs and seconds until it rediscovers the three failures
the hand-written scenarios found, the minimized sizes, a control, and hunk coverage.

No hand-written scenario and no corpus is given to any campaign: every program comes from the
grammar (scenarios/grammar.py).  For each target failure and each seed, one campaign runs until
the first program that shows it (`FuzzSpec.stop_at`), at most --programs programs; its first
failing program is then minimized (`minimize_group`) and its size compared with the smallest
hand-written scenario that shows the same failure, counted in the same units
(`scenario_size`).  The control runs the same --programs on `seed-fixed` for every seed and
must find nothing.  The coverage part reads, over every campaign of the run plus one on
`openbsd-pre` (the kernel before the diff), which of the 26 hunks' switches were read by the
hunk's function with each value: True is the diff's branch, False the code it replaced.

Seconds are wall time on this machine with the given --jobs (the first hit is timed at the end
of its batch of 8 programs), minimization not included.  Programs, sizes and coverage depend on
the seeds only.

Run: `make bench-fuzz` (about 35 minutes on 2 shared cores, nice 10); it prints a
summary and writes benchmarks/results/fuzz.json, which docs/fuzz.md renders (`make docs`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from uvmsim.protocols.base import SWITCHES
from uvmsim.protocols.hunks import HUNKS
from uvmsim.runs.fuzz import (
    FuzzSpec,
    first_group,
    fuzz,
    minimize_group,
    model_functions,
    scenario_size,
)
from uvmsim.runs.names import get_protocol
from uvmsim.scenarios.base import SCENARIOS

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "fuzz.json")

# (what, protocol, label prefix the campaign stops at, the hand-written scenarios showing it)
TARGETS = [
    (
        "wired-counter drift",
        "seed-plain-wired",
        "data-race|data race on uvmexp.wired",
        [n for n, s in SCENARIOS.items() if s.expect.get("seed-plain-wired") == "data-race"],
    ),
    (
        "lock recursion",
        "seed-no-dequeue-first",
        "recursion|panic: mtx pageqlock: locking against myself",
        [n for n, s in SCENARIOS.items() if s.expect.get("seed-no-dequeue-first") == "recursion"],
    ),
    # F1's scenario (docs/findings.md); pdaemon-vs-free reaches it too and is larger.
    ("F1", "seed", "F1", ["pageclean-race", "pdaemon-vs-free"]),
]
CONTROL = "seed-fixed"
PRE = "openbsd-pre"


def _smallest_handwritten(names: list[str]) -> dict:
    sizes = {n: scenario_size(n) for n in names}
    name = min(sizes, key=lambda n: (sizes[n], n))
    return {"scenario": name, "operations": sizes[name][0], "cpus": sizes[name][1]}


def _campaign(protocol: str, seed: int, args: argparse.Namespace, **kw) -> tuple:
    spec = FuzzSpec(
        protocol=protocol,
        programs=args.programs,
        seed=seed,
        jobs=args.jobs,
        pct=args.pct,
        random=args.random,
        **kw,
    )
    return spec, fuzz(spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="campaign seeds 0..N-1 per target")
    ap.add_argument("--programs", type=int, default=200, help="programs per campaign at most")
    ap.add_argument("--pct", type=int, default=12, help="PCT executions per program")
    ap.add_argument("--random", type=int, default=12, help="random executions per program")
    ap.add_argument("--jobs", type=int, default=1, help="local processes per campaign")
    ap.add_argument("--out", default=RESULTS, help="results file (JSON)")
    args = ap.parse_args()
    reads: dict[str, set] = {}
    out: dict = {
        "settings": {
            "seeds": args.seeds,
            "programs": args.programs,
            "pct": args.pct,
            "random": args.random,
            "jobs": args.jobs,
            "python": platform.python_version(),
        },
        "targets": [],
    }
    for what, protocol, label, hand in TARGETS:
        row = {
            "failure": what,
            "protocol": protocol,
            "label": label,
            "handwritten": _smallest_handwritten(hand),
            "runs": [],
        }
        for seed in range(args.seeds):
            spec, res = _campaign(protocol, seed, args, stop_at=label)
            reads.setdefault(protocol, set()).update(res.switches)
            g = first_group(res, label)
            run: dict = {"seed": seed, "programs_run": res.programs}
            if g is not None:
                t0 = time.monotonic()
                minimize_group(spec, g)
                assert g.minimized is not None
                run.update(
                    programs=g.program_index + 1,
                    seconds=round(g.seconds, 1),
                    found_by=g.first.engine.split()[0],
                    original=[g.first.program.size(), len(g.first.program.cpus)],
                    minimized=[g.minimized.size(), len(g.minimized.cpus)],
                    preemptions=g.preemptions,
                    minimize_seconds=round(time.monotonic() - t0, 1),
                    other_failures=sorted(lab for lab in res.groups if not lab.startswith(label)),
                )
            row["runs"].append(run)
            print(f"{what} on {protocol}, seed {seed}: {run}", flush=True)
        out["targets"].append(row)

    control = []
    functions: set[str] = set()
    for seed in range(args.seeds):
        # the first control campaign also profiles model functions (--coverage)
        _spec, res = _campaign(CONTROL, seed, args, coverage=seed == 0)
        reads.setdefault(CONTROL, set()).update(res.switches)
        functions |= res.functions
        run = {
            "seed": seed,
            "programs": res.programs,
            "executions": res.executions,
            "seconds": round(res.elapsed, 1),
            "failures": sorted(res.groups),
        }
        control.append(run)
        print(f"control {CONTROL}, seed {seed}: {run}", flush=True)
    out["control"] = {"protocol": CONTROL, "runs": control}

    _spec, res = _campaign(PRE, 0, args, coverage=True)
    reads.setdefault(PRE, set()).update(res.switches)
    functions |= res.functions
    out["pre"] = {"protocol": PRE, "programs": res.programs, "failures": sorted(res.groups)}
    out["coverage"] = _coverage(reads, functions)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".tmp", "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(args.out + ".tmp", args.out)
    print(json.dumps(out["coverage"]["summary"]))
    print(f"wrote {args.out}")


def _coverage(reads: dict[str, set], functions: set[str]) -> dict:
    """Per hunk and switch: with which values its function read it, on which protocols."""
    hunks = []
    for h in HUNKS:
        fn = h.function.split(" ")[0]
        sides: dict[str, list[str]] = {"True": [], "False": []}
        switches = [s.name for s in SWITCHES if h.number in s.hunks]
        for protocol in sorted(reads):
            proto = get_protocol(protocol)
            for sw, reader in reads[protocol]:
                if sw not in switches:
                    continue
                # hunk 26 is struct uvmexp's `wired`: read wherever uvmexp.wired changes
                if reader == fn or (h.number == 26 and reader != "uvmexp_init"):
                    side = sides[str(getattr(proto, sw))]
                    if protocol not in side:
                        side.append(protocol)
        hunks.append(
            {"hunk": h.number, "function": h.function, "switches": switches, "reached": sides}
        )
    both = sum(1 for h in hunks if h["reached"]["True"] and h["reached"]["False"])
    diff_side = sum(1 for h in hunks if h["reached"]["True"])
    all_functions = model_functions()
    return {
        "hunks": hunks,
        "functions_not_reached": [f for f in all_functions if f not in functions],
        "summary": {
            "hunks": len(hunks),
            "diff_branch_reached": diff_side,
            "both_branches_reached": both,
            "functions": len(all_functions),
            "functions_reached": len(all_functions) - len(set(all_functions) - functions),
        },
    }


if __name__ == "__main__":
    sys.exit(main())
