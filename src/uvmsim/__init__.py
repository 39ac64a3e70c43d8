"""uvmsim: check and measure locking changes in OpenBSD's UVM page layer on an executable model."""

__version__ = "0.1.0"

from uvmsim import _compiled

_compiled.install()
