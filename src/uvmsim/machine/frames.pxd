# Cython declarations for frames.py (compiled build only): `model_site` reads the frame
# fields through the C API that the frame attributes of frames.py are built on, so the
# pure-Python definition and this one give the same (code, offset) for the same stack.
# A module cimporting this one calls it as an inline C function (`frames.model_site`).
from cpython.ref cimport PyObject, Py_XDECREF

cdef extern from "Python.h":
    ctypedef struct PyFrameObject:
        pass
    PyFrameObject* PyEval_GetFrame()  # borrowed; NULL: no Python frame
    PyFrameObject* PyFrame_GetBack(PyFrameObject*)  # new reference
    object PyFrame_GetCode(PyFrameObject*)  # new reference
    int PyFrame_GetLasti(PyFrameObject*)
    object PyLong_FromVoidPtr(void*)  # what id() returns

cdef inline tuple model_site(set codes):
    cdef PyFrameObject* f = PyEval_GetFrame()
    cdef PyFrameObject* back
    if f == NULL:
        raise ValueError("call stack is not deep enough")
    fc = PyFrame_GetCode(f)
    while PyLong_FromVoidPtr(<void*>fc) in codes:
        back = PyFrame_GetBack(f)
        # The frames of a running stack are kept alive by the stack itself: the walk needs
        # no reference of its own.
        Py_XDECREF(<PyObject*>back)
        f = back
        fc = PyFrame_GetCode(f)
    return (fc, PyFrame_GetLasti(f))
