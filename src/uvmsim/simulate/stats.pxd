# Cython declarations for stats.py (compiled build only; the .py stays the one source).
# The counters the timed engine updates on every operation and acquisition are C types.
# Sums of cycles are C doubles: pure Python adds the same numbers (ints below 2**53 are
# exact doubles, and an int plus a float is that float sum), and outputs round them.
cimport cython

@cython.final
cdef class Histogram:
    cdef public dict counts

    @cython.locals(b=Py_ssize_t, n=cython.longlong)
    cpdef add(self, double value)

@cython.final
cdef class LockStat:
    cdef public Py_ssize_t acquisitions, contended, handoffs
    cdef public double wait_cycles, wait_max, hold_cycles, hold_max
    cdef public Histogram wait_hist

    cpdef acquired(self, double wait, bint handoff)
    cpdef released(self, double hold)

@cython.final
cdef class CpuTime:
    cdef public double user, system, spin, idle
