# Cython declarations for mutex.py (compiled build only; the .py stays the one source).
# `Mutex` stays a Python class: it is part of the world snapshot, restored in place through
# its slots (scenarios/base.py), which a C type does not have.
cimport cython
from uvmsim.machine.core cimport CPU, Machine

@cython.locals(mach=Machine, cpu=CPU, w=CPU, waiters=list)
cpdef mtx_enter(m)

@cython.locals(mach=Machine, cpu=CPU, held=list, w=CPU, waiters=list)
cpdef mtx_leave(m)
