# Cython declarations for mutex.py (compiled build only; the .py stays the one source).
# Mutex is a C type with one object field per name of its __slots__ and nothing else (no
# C methods: a vtable pointer would make its layout differ from what its slots describe, and
# pickling then refuses it); mutex.py's `# cython: auto_pickle=False` keeps Cython's own
# pickling out, so it pickles and is restored in place (scenarios/base.py) through its slots
# exactly as the pure-Python class is.
cimport cython
cimport uvmsim.machine.frames as frames
from uvmsim.machine.core cimport CPU, Machine

cdef class Mutex:
    cdef public object ipl, lock_class, name, oldipl, owner, site, vc, vcm
    cdef public list waiters

@cython.locals(w=CPU, waiters=list, mine=list)
cpdef _acquired(Machine mach, CPU cpu, Mutex m, site)

@cython.locals(mach=Machine, cpu=CPU, w=CPU, waiters=list, mine=list)
cpdef mtx_enter(Mutex m)

@cython.locals(mach=Machine, cpu=CPU)
cpdef mtx_enter_try(Mutex m)

@cython.locals(mach=Machine, cpu=CPU, held=list, w=CPU, waiters=list)
cpdef mtx_leave(Mutex m)

@cython.locals(w=CPU, waiters=list)
cpdef release(Machine mach, CPU cpu, Mutex m)
