"""`Switch.functions` is what the code does: the model functions that read each switch.

A function reads a switch when it evaluates `proto.<switch>` or `uvm.proto.<switch>`.  A
read inside an `@inline` wrapper (a C macro or inline, e.g. `_wired_inc`) counts for the
functions that call the wrapper, as it would after the C preprocessor.
"""

import ast
import os
from collections import defaultdict

from uvmsim.protocols import ALL_SWITCHES

UVM = os.path.join(os.path.dirname(__file__), "..", "..", "src", "uvmsim", "uvm")


def _is_inline(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "inline" for d in fn.decorator_list)


def _reads(fn: ast.FunctionDef) -> set[str]:
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and node.attr in ALL_SWITCHES:
            base = node.value
            if (isinstance(base, ast.Name) and base.id == "proto") or (
                isinstance(base, ast.Attribute) and base.attr == "proto"
            ):
                out.add(node.attr)
    return out


def switch_readers() -> dict[str, set[str]]:
    readers: dict[str, set[str]] = defaultdict(set)
    inline_reads: dict[str, set[str]] = {}
    callers: dict[str, set[str]] = defaultdict(set)
    for name in sorted(os.listdir(UVM)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(UVM, name)) as fh:
            tree = ast.parse(fh.read())
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            if _is_inline(fn):
                inline_reads[fn.name] = _reads(fn)
            else:
                for switch in _reads(fn):
                    readers[switch].add(fn.name)
            for call in ast.walk(fn):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                    callers[call.func.id].add(fn.name)
    for wrapper, switches in inline_reads.items():
        for switch in switches:
            readers[switch] |= {c for c in callers[wrapper] if c not in inline_reads}
    return readers


def test_switch_functions_are_the_functions_that_read_the_switch():
    readers = switch_readers()
    for name, row in ALL_SWITCHES.items():
        assert set(row.functions) == readers[name], name


def test_the_reader_analysis_sees_inline_wrappers():
    # _wired_inc/_wired_dec are @inline: their read of wired_atomic belongs to the callers.
    assert {"uvm_pagewire", "uvm_pageunwire"} <= switch_readers()["wired_atomic"]
    assert "_wired_inc" not in switch_readers()["wired_atomic"]
