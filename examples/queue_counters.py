"""The seed diff with the other two kinds of queue counter (the knob `queue_counters`).

`seed` changes uvmexp.active/inactive with plain ++/-- under the pageq lock (kind 1, the
kernel's own before uvm_page.c 1.184); 1.184 made them atomic (kind 2); NetBSD's
`cpu_count` and Linux's per-CPU vmstat deltas keep one share per CPU that its readers sum
(kind 3).  Every kind changes the counters inside the pageq lock's hold, so the kind changes
how long the lock is held:

    uvmsim compare --cpus 64 --no-check --protocol \
        seed,examples/queue_counters.py:SEED_ATOMIC,examples/queue_counters.py:SEED_PERCPU
"""

from uvmsim.protocols import PROTOCOLS

SEED_ATOMIC = PROTOCOLS["seed"].variant(
    "seed-atomic-counters",
    "the seed diff with atomic queue counters (atomic_inc_int/atomic_dec_int, as 1.184)",
    queue_counters=2,
)
SEED_PERCPU = PROTOCOLS["seed"].variant(
    "seed-percpu-counters",
    "the seed diff with per-CPU queue counters summed by their readers",
    queue_counters=3,
)
