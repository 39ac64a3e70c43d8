"""Timed workloads for the simulator (DESIGN.md §2): open-ended loads on many CPUs.

`WORKLOADS` is the registry: a new workload is a `Workload` subclass in a new module here
plus one line below.
"""

from uvmsim.workloads.base import Workload
from uvmsim.workloads.build import BUILD
from uvmsim.workloads.flush import FLUSH
from uvmsim.workloads.make import MAKE
from uvmsim.workloads.pressure import PRESSURE
from uvmsim.workloads.spinlock import SPINLOCK

WORKLOADS: dict[str, Workload] = {w.name: w for w in (SPINLOCK, BUILD, MAKE, FLUSH, PRESSURE)}

__all__ = ["WORKLOADS", "Workload"]
