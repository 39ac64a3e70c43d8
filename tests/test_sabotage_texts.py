"""Every deliberate breakage of `make sabotage` still finds the code it breaks: a refactor
that moves that code must move the breakage too (one went stale after issue 14 and was
reported as a surviving breakage, not as a stale one)."""

import os

from tests.sabotage.breakages import BREAKAGES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_each_breakage_text_occurs_exactly_once_in_its_file():
    stale = []
    for b in BREAKAGES:
        with open(os.path.join(ROOT, b.file)) as fh:
            n = fh.read().count(b.old)
        if n != 1:
            stale.append(f"{b.name}: {n} occurrences in {b.file}")
    assert stale == []
    assert len(BREAKAGES) >= 18
