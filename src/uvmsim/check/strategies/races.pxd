# Cython declarations for races.py (compiled build only; the .py stays the one source).
# `add` runs once per event an execution adds, `truncate` once per execution: the
# happens-before state is a C type, its containers struct fields instead of dict entries.
cimport cython

@cython.final
cdef class HappensBefore:
    cdef public object n
    cdef public list vcs, cpu_of, idx_of, local, prev_of, _zero, lock_states, _undo
    cdef public dict fields, lock_ops, chan_last, asleep, woken_by, _resources
    cdef dict __dict__
