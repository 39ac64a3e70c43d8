# Cython declarations for mutex.py (compiled build only; the .py stays the one source).
cimport cython
from uvmsim.machine.core cimport CPU, Machine

@cython.locals(mach=Machine, cpu=CPU)
cpdef mtx_enter(m)

@cython.locals(mach=Machine, cpu=CPU, held=list)
cpdef mtx_leave(m)
