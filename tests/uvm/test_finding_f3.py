"""Finding F3 (docs/findings.md): a failed swap-in frees a page with PG_WANTED still set.

DPOR reaches it on every OpenBSD protocol in `swapin-waiter`; with the proposed fix
(`anonget_error_clears_wanted`) the exploration completes and finds nothing, also grown to
three threads and in `swapin-error` grown to three CPUs, where it was first seen.  Without the
per-CPU magazines the failure is the kernel's own KASSERT in uvm_pmr_freepages.
"""

from __future__ import annotations

import pytest

from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.check import check_protocol
from uvmsim.scenarios.findings import classify

# DPOR's first failing execution: its length in visible steps, per protocol
FIRST_FAILURE_STEPS = {
    "openbsd-pre": 94,
    "seed": 89,
    "seed-fixed": 89,
    "openbsd-2026": 89,
    "openbsd-2024-nocache": 106,
}


@pytest.mark.parametrize("name", sorted(FIRST_FAILURE_STEPS))
def test_dpor_reaches_f3_and_the_fix_removes_it(name):
    proto = PROTOCOLS[name]
    res = check_protocol(proto, "swapin-waiter")
    assert classify(res.failure) == "F3"
    assert (res.coverage.executions, len(res.schedule)) == (2, FIRST_FAILURE_STEPS[name])
    fixed = check_protocol(
        proto.variant(f"{name}~f3", anonget_error_clears_wanted=True), "swapin-waiter"
    )
    assert fixed.failure is None and fixed.coverage.complete
    assert fixed.coverage.executions == 4


def test_without_magazines_it_is_the_allocators_kassert():
    res = check_protocol(PROTOCOLS["openbsd-2024-nocache"], "swapin-waiter")
    assert res.failure.kind == "kassert"
    assert "VALID_FLAGS" in res.failure.message and "PG_WANTED" in res.failure.message


def test_the_fix_holds_on_grown_scenarios():
    fixed = PROTOCOLS["seed"].variant("seed~f3", anonget_error_clears_wanted=True)
    for scenario, executions in (("swapin-waiter", 84), ("swapin-error", 7441)):
        grown = {"cpus": 3}
        assert classify(check_protocol(PROTOCOLS["seed"], scenario, sizes=grown).failure) == "F3"
        res = check_protocol(fixed, scenario, sizes=grown)
        assert res.failure is None and res.coverage.complete, scenario
        assert res.coverage.executions == executions
