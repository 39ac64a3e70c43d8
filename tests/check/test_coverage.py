"""The budget every strategy stops on: an execution cap or a time limit, named in stopped_by."""

import time

from uvmsim.check.result import Coverage


def test_out_of_budget_names_what_ran_out():
    cov = Coverage(executions=10)
    now = time.monotonic()
    assert not cov.out_of_budget(11, 60.0, now) and cov.stopped_by is None
    assert cov.out_of_budget(10, 60.0, now) and cov.stopped_by == "max-executions"
    cov = Coverage(executions=10)
    assert cov.out_of_budget(None, 0.5, now - 1.0) and cov.stopped_by == "time-limit"
    assert not Coverage().out_of_budget(None, None, now - 1e6)
