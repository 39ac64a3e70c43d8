"""A protocol of your own: the next diff you want reviewed, as switches of the model.

Load it in any command with `--protocol examples/my_diff.py:NAME`.  Loading runs this file's
code (it is imported like any Python module), so only load files you trust.

This example asks a question the thread did not: what if only the atomic `uvmexp.wired`
hunks had been committed, and the callers had kept taking the pageq lock around every free?
"""

from uvmsim.protocols import PROTOCOLS

PRE_ATOMIC_WIRED = PROTOCOLS["openbsd-pre"].variant(
    "pre-atomic-wired",
    "openbsd-pre plus only the atomic uvmexp.wired hunks (12, 13, 14, 26)",
    wired_atomic=True,
)

# The diff without the pageq-lock removal in uvm_anfree_list: a "missed chunk" (R7).
SEED_MISSED_ANFREE = PROTOCOLS["seed"].variant(
    "seed-missed-anfree",
    "the diff, but uvm_anfree_list still wraps uvm_pagefree in the pageq lock",
    anfree_list_unlocked=False,
)

# The diff on a kernel without the per-CPU page magazines: what uvn_flush's per-page frees
# cost when each one takes the fpageq lock (docs/simulator.md, R4).
SEED_NOCACHE = PROTOCOLS["seed"].variant(
    "seed-nocache",
    "the diff without the per-CPU page magazines",
    percpu_magazines=False,
)
