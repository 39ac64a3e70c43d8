# Cython declarations for clockheap.py (compiled build only; the .py stays the one source).
# The arrays are typed memoryviews of the same array.array objects, indexed as C arrays;
# `_earlier` and `_place` are C functions.
cimport cython

@cython.final
cdef class ClockHeap:
    cdef public Py_ssize_t n
    cdef public double[::1] times
    cdef public long long[::1] prios, cpus, pos

    cpdef Py_ssize_t first(self)
    cpdef double first_time(self)
    cpdef Py_ssize_t first_prio(self)

    @cython.locals(i=Py_ssize_t)
    cpdef push(self, Py_ssize_t cpu, double t, Py_ssize_t prio)

    @cython.locals(i=Py_ssize_t)
    cpdef remove(self, Py_ssize_t cpu)

    @cython.locals(cpu=Py_ssize_t)
    cpdef Py_ssize_t pop(self)

    @cython.locals(last=Py_ssize_t)
    cdef _take(self, Py_ssize_t i)

    @cython.locals(start=Py_ssize_t, parent=Py_ssize_t, n=Py_ssize_t, child=Py_ssize_t,
                   right=Py_ssize_t)
    cdef _sift(self, Py_ssize_t i, double t, long long p, Py_ssize_t c)

    cdef _place(self, Py_ssize_t i, double t, long long p, Py_ssize_t c)

cdef bint _earlier(double t1, long long p1, long long c1, double t2, long long p2,
                   long long c2)
