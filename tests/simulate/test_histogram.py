"""The wait and hold histograms: bucket b holds the times whose whole part has b bits."""

import math

import pytest

from uvmsim.simulate.stats import Histogram


def test_buckets_are_the_bit_length_of_the_whole_cycles():
    h = Histogram()
    for v in (0.0, 0.5, 1.0, 1.9, 2.0, 3.99, 4.0, 1000.0, 1023.5, 1024.0, 2.0**40, -5.0):
        h.add(v)
    assert h.counts == {0: 2, 1: 2, 2: 2, 3: 2, 10: 2, 11: 1, 41: 1}
    for v in (0.0, 0.5, 1.0, 1.9, 2.0, 3.99, 4.0, 1000.0, 1023.5, 1024.0, 2.0**40, -5.0):
        assert int(v).bit_length() in h.counts


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 2.0**63])
def test_a_time_no_run_can_reach_is_an_error_not_a_bucket(bad):
    with pytest.raises(ValueError, match="histogram"):
        Histogram().add(bad)
