# Cython declarations for spin.py (compiled build only; the .py stays the one source).
cdef class MutexState:
    cdef public object mutex, ready, acq_time, ls, ss
    cdef public list queue
    cdef public Py_ssize_t reserved, holder, last_holder
