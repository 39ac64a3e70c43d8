# Cython declarations for shared.py (compiled build only; the .py stays the one source).
# A C type: a plain access reaches __get__/__set__ through the type's own slots instead of
# a Python-level method call; `_read` and `_write` call the machine and the race detector
# as C functions (typed locals).
cimport cython
cimport uvmsim.machine.frames as frames
from uvmsim.machine.core cimport CPU, Machine
from uvmsim.machine.races cimport RaceDetector

cdef class Shared:
    cdef public object atomic, checked, default, immutable, letters, name, qualname
    cdef public tuple locks

@cython.locals(site=tuple, locks=tuple, races=RaceDetector)
cdef _read(Shared desc, Machine m, obj)

@cython.locals(site=tuple, races=RaceDetector)
cdef _write(Shared desc, Machine m, obj)
