"""The fitted build workload reproduces the published system times C1-C5 within 15%."""

import pytest

from uvmsim.runs.calibration import POINTS, simulate_points
from uvmsim.workloads.build import FITTED


def test_fitted_build_reproduces_c1_to_c5_within_15_percent():
    results = simulate_points(FITTED)
    assert [p.id for p in results] == [p[0] for p in POINTS]
    for p in results:
        # system time = simulated system/user ratio x the published user time
        assert p.simulated == pytest.approx(p.published, rel=0.15), (p.id, p.simulated)
