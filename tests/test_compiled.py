"""The compiled build (Cython, `pip install -e .`) and pure Python give the same outputs.

One subprocess per build (`UVMSIM_PURE=1` forces pure Python at import) runs the same
checks (a finding with its minimized counterexample and replay token, and an exhaustive run
that holds), the replay of that token, a model error, and simulations with folded stacks;
the JSON of each must match byte for byte, wall-clock fields aside.  Skipped when no
compiled module is there (no Cython or no C compiler at install, or `UVMSIM_PURE=1`
then), or when the build is incomplete or stale: uvmsim then runs as pure Python, so pure
Python is all there is to compare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uvmsim import _compiled

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys, tempfile, os
from click.testing import CliRunner
from uvmsim import _compiled
from uvmsim.cli import main
from uvmsim.machine import Machine, RoundRobinEngine
from tests.golden.record import strip_wall_clock

def cli(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code in (0, 1), (args, r.output)
    return strip_wall_clock(json.loads(r.output))

out = {}
out["check finding"] = cli(["check", "-s", "pageclean-race", "-p", "seed", "--json"])
token = out["check finding"].get("replay_token")
out["check holds"] = cli(["check", "-s", "pageclean-race", "-p", "openbsd-pre", "--json"])
out["check bounded"] = cli(
    ["check", "-s", "pdaemon-vs-free", "-p", "seed-no-dequeue-first", "--strategy", "bounded",
     "--max-executions", "300", "--json"])
out["replay"] = cli(["replay", token, "--json"]) if token else None

def buggy():
    return {}["missing"]

f = Machine(RoundRobinEngine()).run([buggy]).failure
out["model error"] = [f.render(), list(f.detail)]
with tempfile.TemporaryDirectory() as d:
    for workload, cpus, ops in (("spinlock", 4, 2000), ("build", 8, 300), ("flush", 8, 200)):
        folded = os.path.join(d, workload + ".folded")
        doc = cli(["simulate", "-w", workload, "-p", "seed", "--cpus", str(cpus),
                   "--ops", str(ops), "--seed", "3", "--folded", folded, "--json"])
        with open(folded) as fh:
            doc["folded file"] = fh.read()
        out[f"simulate {workload}"] = doc
out["modules"] = _compiled.status()
print(json.dumps(out, sort_keys=True, indent=1))
"""


def _run(pure: bool) -> dict:
    env = dict(os.environ, UVMSIM_PURE="1" if pure else "0")
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _built() -> list[str]:
    return [name for name in _compiled.COMPILED if _compiled.extension_of(name) is not None]


def _stale() -> list[str]:
    return [name for name in _built() if _compiled.is_stale(name)]


@pytest.mark.skipif(
    not _built(),
    reason="no compiled module: uvmsim was installed without Cython or a C compiler (or with "
    "UVMSIM_PURE=1), so pure Python is all there is",
)
@pytest.mark.skipif(
    bool(_stale()) or len(_built()) < len(_compiled.COMPILED),
    reason="the compiled build is incomplete or older than its sources, so uvmsim runs as pure "
    "Python: pip install -e . (make does it) rebuilds it",
)
def test_compiled_and_pure_outputs_are_byte_identical():
    pure, compiled = _run(True), _run(False)
    assert set(pure.pop("modules").values()) <= {"pure", "not imported"}
    modules = compiled.pop("modules")
    assert set(modules.values()) <= {"compiled", "not imported"}, modules
    assert "compiled" in modules.values(), modules
    assert pure["check finding"]["found"], "the finding check must exercise a counterexample"
    for key in pure:
        a = json.dumps(pure[key], sort_keys=True, indent=1)
        b = json.dumps(compiled[key], sort_keys=True, indent=1)
        assert a == b, key
