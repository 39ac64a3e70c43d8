# Cython declarations for shared.py (compiled build only; the .py stays the one source).
# A C type: a plain access reaches __get__/__set__ through the type's own slots instead of
# a Python-level method call.
cdef class Shared:
    cdef public object atomic, checked, default, immutable, letters, name, qualname
    cdef public tuple locks
