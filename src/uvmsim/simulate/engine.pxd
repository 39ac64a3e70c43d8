# Cython declarations for engine.py (compiled build only; the .py stays the one source).
# Clocks, costs and cycle sums are C doubles (the numbers pure Python adds, below 2**53);
# the helpers of `choose` are C methods (no Python-level override check per call).
cimport cython
from uvmsim.machine.core cimport CPU, Chooser, Machine
from uvmsim.machine.mutex cimport Mutex
from uvmsim.simulate.clockheap cimport ClockHeap
from uvmsim.simulate.spin cimport MutexState, SpinMutexes
from uvmsim.simulate.stats cimport CpuTime, LockStat

cdef class TimedEngine(Chooser):
    cdef public SpinMutexes mutexes
    cdef public object costs, rng, max_ops, max_cycles, max_visible
    cdef public Py_ssize_t ops_done
    cdef public object stats, profile, _fold, _tracing, _epoch
    cdef public double _read, _write, _atomic, _line_transfer, _mtx_enter, _mtx_leave
    cdef public double _half_handoff, _rw_enter, _rw_exit, _sleep, _wakeup, _wakeup_latency
    cdef public dict _work, _states, _site_stats, _rw_acq
    cdef public list _times
    cdef public ClockHeap _heap
    cdef public object _prev, _prev_op
    cdef public MutexState _prev_st
    cdef public double _prev_start, _prev_gap
    cdef dict __dict__

    cpdef op_done(self, Py_ssize_t n=*)

    @cython.locals(prev=CPU, c=CPU, cand=CPU, heap=ClockHeap, cpus=list,
                   states=dict, st=MutexState, idx=Py_ssize_t, times=CpuTime,
                   op=tuple, t=double, clock=double, gap=double, cost=double, ahead=bint,
                   top_t=double, prio=Py_ssize_t, lines=dict, d=dict, mtx=Mutex)
    cpdef choose(self, Machine machine, current)

    @cython.locals(st=MutexState, ls=LockStat, ss=LockStat, now=double, wait=double,
                   hold=double, handoff=bint, mtx=Mutex)
    cdef _after(self, Machine machine, CPU c, tuple op)

    cdef _push(self, CPU c, double t, Py_ssize_t prio=*)

    cdef _push_index(self, Py_ssize_t idx, double t, Py_ssize_t prio)

    cdef _spin(self, MutexState st, CPU c, double t)
