"""Build the compiled hot path (docs/decisions.md, "Compiled hot path").

Every project setting is in pyproject.toml; this file only adds the optional extension
modules: the machine and the engines, compiled by Cython from their own `.py` (pure-Python
mode, so the `.py` stays the one source).  No Cython, no C compiler, or `UVMSIM_PURE=1` in
the environment: nothing is compiled and uvmsim runs as pure Python, with the same results.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent


def compiled_modules() -> list[str]:
    """`COMPILED` of src/uvmsim/_compiled.py, read without importing uvmsim."""
    text = (HERE / "src/uvmsim/_compiled.py").read_text()
    block = re.search(r"^COMPILED = \((.*?)^\)", text, re.S | re.M)
    assert block is not None, "src/uvmsim/_compiled.py: COMPILED not found"
    return re.findall(r'"([\w.]+)"', block.group(1))


def extensions() -> list:
    if os.environ.get("UVMSIM_PURE", "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    exts = [
        # optional: a module that does not compile is left pure Python (a warning, no error).
        Extension(name, [f"src/{name.replace('.', '/')}.py"], optional=True)
        for name in compiled_modules()
    ]
    return cythonize(
        exts,
        quiet=True,
        # The generated C stays out of the source tree (only the extension modules land
        # beside their .py, where an editable install needs them).
        build_dir="build/cython",
        include_path=[str(HERE / "src")],  # the .pxd files cimport each other's types
        compiler_directives={
            "language_level": 3,
            # Annotations are documentation here: typing from them would turn `float`
            # into a C double and change results (an int clock would print as a float).
            "annotation_typing": False,
        },
    )


# Both cores of a CI machine compile (the C files are large: one per module).
setup(ext_modules=extensions(), options={"build_ext": {"parallel": os.cpu_count() or 1}})
