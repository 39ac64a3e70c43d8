"""The floors of docs/architecture.md: every import points down (or sideways where allowed).

Imports are read with `ast` from every module of src/uvmsim, including imports inside
functions (they hide cycles as well as top-level ones do).  A module may import its own
package, anything on a lower floor, and nothing else; siblings on one floor do not import
each other, except where `SIDEWAYS` says so.
"""

from __future__ import annotations

import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(__file__), "..", "src")

# package -> floor (bottom up).  The top-level modules `uvmsim` (the version),
# `uvmsim.output_files` (safe file writing) and `uvmsim.console` (rich consoles and tables)
# are support, importable from anywhere.
FLOORS: dict[str, int] = {
    "uvmsim.machine": 0,
    "uvmsim.protocols": 1,
    "uvmsim.uvm": 2,
    "uvmsim.scenarios": 3,
    "uvmsim.workloads": 3,
    "uvmsim.check": 4,
    "uvmsim.simulate": 4,
    "uvmsim.runs": 5,
    "uvmsim.review": 6,
    "uvmsim.sweep": 6,
    "uvmsim.cli": 7,
}
SUPPORT = {"uvmsim", "uvmsim.output_files", "uvmsim.console", "uvmsim.__main__"}
# The engines know no UVM: on top of their own package they may import only the machine.
ENGINES_MAY_IMPORT = {"uvmsim.machine"}
SIDEWAYS: set[tuple[str, str]] = set()


def package_of(module: str) -> str | None:
    for pkg in sorted(FLOORS, key=len, reverse=True):
        if module == pkg or module.startswith(pkg + "."):
            return pkg
    return None


def modules() -> dict[str, str]:
    """module name -> file path, for every module of src/uvmsim."""
    out = {}
    root = os.path.join(SRC, "uvmsim")
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, SRC)[:-3].replace(os.sep, ".")
                out[rel.removesuffix(".__init__")] = path
    return out


def imports_of(module: str, path: str) -> set[str]:
    with open(path) as fh:
        tree = ast.parse(fh.read())
    found = set()
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            # `from uvmsim import uvm` imports a subpackage
            found.update(f"{name}.{a.name}" for a in node.names if f"{name}.{a.name}" in MODS)
    return {m for m in found if m == "uvmsim" or m.startswith("uvmsim.")}


MODS = modules()


def violation(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None if it may."""
    if imported in SUPPORT or importer in SUPPORT:
        return None
    a, b = package_of(importer), package_of(imported)
    if a is None or b is None:
        return f"{importer} -> {imported}: a module outside the floors"
    if a == b:
        return None
    if FLOORS[a] in (FLOORS["uvmsim.check"],) and b not in ENGINES_MAY_IMPORT:
        return f"{importer} -> {imported}: an engine may import only the machine"
    if FLOORS[b] > FLOORS[a]:
        return f"{importer} -> {imported}: imports upward ({a} is below {b})"
    if FLOORS[b] == FLOORS[a] and (a, b) not in SIDEWAYS:
        return f"{importer} -> {imported}: siblings on one floor"
    return None


def all_violations() -> list[str]:
    out = []
    for module, path in sorted(MODS.items()):
        for imported in sorted(imports_of(module, path)):
            why = violation(module, imported)
            if why:
                out.append(why)
    return out


def test_every_import_points_down():
    assert all_violations() == []


# The 14 imports by which engines knew UVM before the floors were enforced (issue 11), and
# the three by which workloads reached up into the simulator: each must be refused.
BROKEN_BEFORE = [
    ("uvmsim.check.report", "uvmsim.findings"),
    ("uvmsim.check.report", "uvmsim.uvm.uvm"),
    ("uvmsim.check.report", "uvmsim.uvm.uvm_page"),
    ("uvmsim.check.runner", "uvmsim.protocols"),
    ("uvmsim.check.runner", "uvmsim.scenarios"),
    ("uvmsim.check.target", "uvmsim.scenarios.base"),
    ("uvmsim.check.target", "uvmsim.uvm.uvm"),
    ("uvmsim.simulate.run", "uvmsim.protocols"),
    ("uvmsim.simulate.run", "uvmsim.uvm.uvm"),
    ("uvmsim.simulate.run", "uvmsim.uvm.uvmexp"),
    ("uvmsim.simulate.run", "uvmsim.workloads.build"),
    ("uvmsim.simulate.run", "uvmsim.workloads.flush"),
    ("uvmsim.simulate.run", "uvmsim.workloads.pressure"),
    ("uvmsim.simulate.run", "uvmsim.workloads.spinlock"),
    ("uvmsim.workloads.build", "uvmsim.simulate.costs"),
    ("uvmsim.workloads.calibration", "uvmsim.simulate.run"),
    ("uvmsim.workloads.spinlock", "uvmsim.simulate.costs"),
]


@pytest.mark.parametrize(("importer", "imported"), BROKEN_BEFORE)
def test_the_rule_refuses_the_imports_that_broke_the_floors(importer, imported):
    assert violation(importer, imported) is not None


def test_the_rule_admits_the_floors_as_drawn():
    assert violation("uvmsim.runs.check", "uvmsim.check.strategy") is None
    assert violation("uvmsim.runs.check", "uvmsim.scenarios") is None
    assert violation("uvmsim.check.strategies.dpor", "uvmsim.machine") is None
    assert violation("uvmsim.uvm.uvm_page", "uvmsim.protocols") is None
    assert violation("uvmsim.cli.check", "uvmsim.review.run") is None
    assert violation("uvmsim.workloads.build", "uvmsim.scenarios.base") is not None
    assert violation("uvmsim.sweep.runs", "uvmsim.review") is not None
