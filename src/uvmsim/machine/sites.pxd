# Cython declarations for sites.py (compiled build only; the .py stays the one source):
# `call_site` takes the site by frames.pxd's inline C function.
cimport uvmsim.machine.frames as frames
