"""The application floor: names become objects here, and here checks and simulations run.

Everything above (`review/`, `sweep/`, `cli/`) goes through this floor; everything below
(the engines `check/` and `simulate/`, the harnesses `scenarios/` and `workloads/`, the model)
knows nothing of it.  See docs/architecture.md.

- `names`: protocol, scenario, workload and strategy names to objects, with the one-line
  errors that list what is accepted;
- `target`: a UVM scenario on a protocol as a checker `Target`;
- `check`: a check (strategy x scenario x protocol), its counterexample and replay;
- `simulate`: a timed run of a workload on a protocol;
- `executors`: this process, a local process pool or a Dask cluster, for sweeps and `-j`.
"""
