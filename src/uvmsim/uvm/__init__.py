"""The executable model of OpenBSD's UVM page layer: one module per sys/uvm file.

Function names are the kernel's; every docstring names the kernel counterpart and its lock
contract; every shared field carries the annotation of the kernel's lock legend.  The model
branches on the switches of `uvm.proto` (see `uvmsim.protocols`) wherever the seed diff changed
a line.  The world (pages, objects, anons, queues, counters) is rebuilt for each execution by
`uvm.uvm_world_init`.
"""
