"""Many runs at once: sweep specs, executors (local processes, Dask), the SQLite store, reports."""

from uvmsim.sweep.driver import SweepProgress, run_sweep
from uvmsim.sweep.spec import RunSpec, SweepSpec, load_spec, parse_spec
from uvmsim.sweep.store import Store

__all__ = ["RunSpec", "Store", "SweepProgress", "SweepSpec", "load_spec", "parse_spec", "run_sweep"]
