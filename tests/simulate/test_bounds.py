"""Simulation inputs that would hang or blow up are refused at once, naming the limit."""

import time

import pytest

from uvmsim.machine.failure import InputError
from uvmsim.runs.names import get_protocol
from uvmsim.runs.simulate import simulate
from uvmsim.simulate.run import MAX_CPUS

SEED = get_protocol("seed")


@pytest.mark.parametrize("cycles", [float("nan"), float("inf"), 0.0, -5.0])
def test_non_finite_or_non_positive_cycles_are_refused(cycles):
    with pytest.raises(InputError, match="accepted values are finite numbers > 0"):
        simulate("spinlock", SEED, 2, cycles=cycles)


def test_cpu_counts_above_the_maximum_are_refused_at_once():
    t0 = time.monotonic()
    with pytest.raises(InputError, match=f"--cpus 100000: accepted range is 1..{MAX_CPUS} CPUs"):
        simulate("build", SEED, 100_000, ops=10)
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_workload_options_must_be_finite(value):
    with pytest.raises(InputError, match="option think must be a finite number"):
        simulate("build", SEED, 2, ops=10, options={"think": value})
