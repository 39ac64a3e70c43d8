# Cython declarations for clockheap.py (compiled build only; the .py stays the one source).
# Times are read as C doubles (the values pure Python compares: cycle counts below 2**53),
# priorities and CPU numbers as C integers; the lists keep Python objects, moved, not made.
cimport cython

cdef class ClockHeap:
    cdef public list times, prios, cpus, pos

    cpdef Py_ssize_t size(self)
    cpdef bint queued(self, Py_ssize_t cpu)

    @cython.locals(i=Py_ssize_t)
    cpdef push(self, Py_ssize_t cpu, double t, Py_ssize_t prio)

    @cython.locals(i=Py_ssize_t)
    cpdef remove(self, Py_ssize_t cpu)

    @cython.locals(cpu=Py_ssize_t)
    cpdef Py_ssize_t pop(self)

    @cython.locals(times=list, prios=list, cpus=list, pos=list, last=Py_ssize_t,
                   c=Py_ssize_t)
    cdef _take(self, Py_ssize_t i)

    @cython.locals(ti=double, tj=double, pi=Py_ssize_t, pj=Py_ssize_t)
    cdef bint _before(self, Py_ssize_t i, Py_ssize_t j)

    @cython.locals(times=list, prios=list, cpus=list, pos=list, ci=Py_ssize_t,
                   cj=Py_ssize_t)
    cdef _swap(self, Py_ssize_t i, Py_ssize_t j)

    @cython.locals(parent=Py_ssize_t)
    cdef _up(self, Py_ssize_t i)

    @cython.locals(n=Py_ssize_t, child=Py_ssize_t)
    cdef _down(self, Py_ssize_t i)
