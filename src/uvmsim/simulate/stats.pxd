# Cython declarations for stats.py (compiled build only; the .py stays the one source).
# The counters the timed engine updates on every operation and acquisition are C types.
# Values stay Python objects (a float sum must add as it does in pure Python).
cdef class LockStat:
    cdef public object acquisitions, contended, wait_cycles, wait_max, hold_cycles
    cdef public object hold_max, handoffs, wait_hist

    cpdef acquired(self, wait, handoff)
    cpdef released(self, hold)

cdef class CpuTime:
    cdef public object user, system, spin, idle
