# Cython declarations for core.py (compiled build only; the .py stays the one source).
# Every field is a Python object, as in pure Python: only where it lives changes (a C
# struct instead of slots or a __dict__), so values and results are the same.
cimport cython
cimport uvmsim.machine.frames as frames

# The timed engine reads and writes `clock` on every operation: a C double.  Its values are
# the same numbers as pure Python's (an int clock there: cycle counts stay far below 2**53,
# where every integer is a double), and every output rounds them.
cdef class CPU:
    cdef public object args, blocker, fn, greenlet, ipl, local
    cdef public object mutexes, name, op, rwlocks, vc, want, work_cycles
    cdef public double clock
    cdef public Py_ssize_t index
    cdef public bint done, runnable

cdef class Machine

# Engines' `choose`, called by `visible` through the vtable (engines derive from Chooser).
cdef class Chooser:
    cpdef choose(self, Machine machine, current)

cdef class ForwardChooser(Chooser):
    cdef object _choose

cdef class Machine:
    cdef public object engine, analyses, record
    cdef public Chooser _chooser
    cdef public Py_ssize_t max_steps
    cdef public object schedule_covered, trace, failure
    cdef public object annotation_locks, annotation_consts, step_checks
    cdef public object quiescent_checks, end_checks, sleepers, witness, races, driver
    cdef public object input_error
    # Read on every visible operation (the running CPU, the schedule) or lock operation.
    cdef public CPU current
    cdef public list cpus, schedule
    cdef public Py_ssize_t locks_held, primed
    cdef public bint halted, _priming, _special, races_on, stopped
    cdef dict __dict__

    @cython.locals(cpu=CPU, nxt=CPU, schedule=list)
    cpdef visible(self, kind, obj, field, site, blocker=*)

    @cython.locals(i=Py_ssize_t)
    cdef unwait(self, list waiters, CPU cpu)

# Workloads post a kernel_work on every think and hold time: the machine is a C type there.
@cython.locals(m=Machine)
cpdef kernel_work(what, obj=*, cycles=*)
