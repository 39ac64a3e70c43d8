"""Closed checker harnesses (see `base` for the contract, `catalog` for the scenarios)."""

from uvmsim.scenarios import catalog, controls  # noqa: F401  (register the scenarios)
from uvmsim.scenarios.base import SCENARIOS, Scenario, build, run_scenario

__all__ = ["SCENARIOS", "Scenario", "build", "run_scenario"]
