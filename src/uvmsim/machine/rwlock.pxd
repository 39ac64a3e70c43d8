# Cython declarations for rwlock.py (compiled build only; the .py stays the one source).
# RWLock is a C type laid out exactly as its __slots__ (no C methods), pickled and restored
# in place through them: see mutex.pxd.
cimport cython
from uvmsim.machine.core cimport CPU, Machine

cdef class RWLock:
    cdef public object lock_class, name, site, vc_read, vc_write, vcm, writer
    cdef public list readers, waiters

@cython.locals(mach=Machine, cpu=CPU)
cpdef rw_enter(RWLock lk, flags)

@cython.locals(mine=list)
cpdef _acquired(Machine mach, CPU cpu, RWLock lk, op, site)

cpdef release(Machine mach, CPU cpu, RWLock lk)

@cython.locals(mach=Machine, cpu=CPU)
cpdef rw_exit(RWLock lk)
