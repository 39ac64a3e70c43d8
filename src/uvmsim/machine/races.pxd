# Cython declarations for races.py (compiled build only; the .py stays the one source).
# The detector and its cells are C types: a plain access reads and writes a cell's fields
# in place instead of indexing a list of Python objects.
cimport cython
from uvmsim.machine.core cimport CPU

cdef class _Cell:
    cdef public Py_ssize_t writer
    cdef public object epoch, site, obj
    cdef public bint atomic
    cdef public dict readers

cdef class RaceDetector:
    cdef public dict cells, ordered
    cdef public object machine

    @cython.locals(per_obj=dict, cell=_Cell)
    cpdef _Cell _cell(self, obj, name)

    @cython.locals(per_obj=dict, cell=_Cell, vc=list, me=Py_ssize_t, w=Py_ssize_t,
                   readers=dict, r=Py_ssize_t)
    cpdef plain(self, CPU cpu, obj, desc, bint write, site)

    @cython.locals(cell=_Cell, vc=list, me=Py_ssize_t, w=Py_ssize_t)
    cpdef atomic(self, CPU cpu, obj, desc, site)
