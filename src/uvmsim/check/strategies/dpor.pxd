# Cython declarations for dpor.py (compiled build only; the .py stays the one source).
# A node is made per step an execution adds and the engine's `choose` runs per visible step
# (most of them replayed): C types, so their fields are struct fields, not dict entries.
cimport cython
from uvmsim.machine.core cimport CPU, Chooser, Machine

@cython.final
cdef class Node:
    cdef public tuple enabled, lock
    cdef public dict ops, sleep
    cdef public Py_ssize_t chosen, preemptions
    cdef public set backtrack, done
    cdef public list wut
    cdef public object foreign

cdef class _Engine(Chooser):
    cdef public object x
    cdef public Py_ssize_t replay_len, last_cpu, fast
    cdef public list replay
    cdef dict __dict__

    @cython.locals(step=Py_ssize_t, cpu=CPU, node=Node, nodes=list)
    cpdef choose(self, Machine machine, current)

@cython.locals(nodes=list, cpus=list, prev=Node, ran=CPU, ops=dict, pre=Py_ssize_t,
               root=Py_ssize_t)
cpdef Node _new_node(x, Machine machine, Py_ssize_t step, enabled)
