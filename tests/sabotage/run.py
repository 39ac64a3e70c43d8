"""`make sabotage`: apply each breakage (tests/sabotage/breakages.py) to a fresh copy of the
repository and run the tests that must catch it; report which did, exit 1 if any survived.

    python -m tests.sabotage.run [NAME-SUBSTRING ...]

Not part of `make test` (each breakage reruns part of the suite in a copy: minutes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

from tests.sabotage.breakages import BREAKAGES, Breakage

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COPY = ("src", "tests", "docs", "examples", "pyproject.toml")


def _copy_tree(dest: str) -> None:
    for name in COPY:
        src = os.path.join(ROOT, name)
        if os.path.isdir(src):
            shutil.copytree(
                src,
                os.path.join(dest, name),
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy2(src, os.path.join(dest, name))


def sabotage(b: Breakage) -> tuple[bool, str, float]:
    """(caught, how, seconds): whether the named tests fail on the broken copy."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="uvmsim-sabotage-") as d:
        _copy_tree(d)
        path = os.path.join(d, b.file)
        with open(path) as fh:
            text = fh.read()
        if text.count(b.old) != 1:
            return False, f"the text to break occurs {text.count(b.old)} times in {b.file}", 0.0
        with open(path, "w") as fh:
            fh.write(text.replace(b.old, b.new))
        env = dict(os.environ, PYTHONPATH=os.path.join(d, "src"), PYTHONDONTWRITEBYTECODE="1")
        which = subprocess.run(
            [sys.executable, "-c", "import uvmsim; print(uvmsim.__file__)"],
            cwd=d,
            env=env,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not which.startswith(d):
            return False, f"the copy was not the uvmsim imported ({which})", 0.0
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *b.tests],
            cwd=d,
            env=env,
            capture_output=True,
            text=True,
        )
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("FAILED") or "error" in ln.lower()]
    how = lines[0] if lines else r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    return r.returncode != 0, how, time.monotonic() - t0


def main(argv: list[str]) -> int:
    chosen = [b for b in BREAKAGES if not argv or any(a in b.name for a in argv)]
    survived = 0
    for b in chosen:
        caught, how, seconds = sabotage(b)
        survived += not caught
        mark = "caught" if caught else "SURVIVED"
        print(f"{mark:8} {seconds:6.1f} s  {b.name}: {how}", flush=True)
    print(f"{len(chosen) - survived}/{len(chosen)} breakages caught by make test's tests")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
