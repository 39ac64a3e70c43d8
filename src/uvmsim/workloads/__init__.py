"""Timed workloads for the simulator (DESIGN.md §2): open-ended loads on many CPUs."""
