# Cython declarations for engines.py (compiled build only; the .py stays the one source).
# The machine's own engines are C types: `choose` runs once per visible operation, and an
# instance attribute of a Python class is a dict lookup each time.  They are registered as
# virtual subclasses of the abstract `Engine` (a C type cannot derive from an ABC).
cimport cython
from uvmsim.machine.core cimport CPU, Chooser, Machine

cdef class RoundRobinEngine(Chooser):
    cdef public object quantum
    cdef public Py_ssize_t left, last
    cdef dict __dict__

    @cython.locals(cpus=list, c=CPU, n=Py_ssize_t, i=Py_ssize_t, last=Py_ssize_t)
    cpdef choose(self, Machine machine, current)

cdef class RandomEngine(Chooser):
    cdef public object seed, rng
    cdef dict __dict__

    cpdef choose(self, Machine machine, current)

cdef class ReplayEngine(Chooser):
    cdef public list choices
    cdef public object then
    cdef dict __dict__

    @cython.locals(i=Py_ssize_t, cpu=CPU, cpus=list)
    cpdef choose(self, Machine machine, current)
