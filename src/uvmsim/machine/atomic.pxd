# Cython declarations for atomic.py (compiled build only; the .py stays the one source):
# the call site of an atomic is taken by frames.pxd's inline C function.
cimport uvmsim.machine.frames as frames
