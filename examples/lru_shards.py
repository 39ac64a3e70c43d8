"""FreeBSD's and Linux's designs with their LRU split into domains (the knob `lru_shards`).

Each shard (a FreeBSD domain, a Linux node's lruvec) has its own queues and lock
`pageqlock.<i>`; memory and CPUs are split into that many domains and allocations prefer
the CPU's own:

    uvmsim compare --cpus 64 --no-check --protocol \\
        freebsd-batch,examples/lru_shards.py:FREEBSD_4,linux-lruvec,examples/lru_shards.py:LINUX_4
"""

from uvmsim.protocols import PROTOCOLS

FREEBSD_4 = PROTOCOLS["freebsd-batch"].variant(
    "freebsd-batch-4domains", "freebsd-batch with 4 domains, a page-queue lock each", lru_shards=4
)
LINUX_4 = PROTOCOLS["linux-lruvec"].variant(
    "linux-lruvec-4nodes", "linux-lruvec with 4 nodes, an lruvec lock each", lru_shards=4
)
