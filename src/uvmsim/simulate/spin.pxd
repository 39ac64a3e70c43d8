# Cython declarations for spin.py (compiled build only; the .py stays the one source).
cimport cython

@cython.final
cdef class MutexState:
    cdef public object mutex, ls, ss, site_code, site_offset
    cdef public double ready, acq_time
    cdef public list queue
    cdef public Py_ssize_t reserved, holder, last_holder

# The spin model is a C type too: the engine calls `state` and `hand_off` as C methods
# (C only: nothing else calls them).
@cython.final
cdef class SpinMutexes:
    cdef public object fifo, rng
    cdef public double handoff
    cdef public dict _states
    cdef dict __dict__

    @cython.locals(st=MutexState)
    cdef MutexState state(self, m)

    @cython.locals(q=list, pos=Py_ssize_t, k=Py_ssize_t, idx=Py_ssize_t, ready=double)
    cdef hand_off(self, MutexState st, double now)
