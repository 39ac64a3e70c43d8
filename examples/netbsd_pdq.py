"""NetBSD's intent queues with smaller per-CPU queues than NetBSD's 128 entries.

The model's worlds have tens of pages per CPU, and a page already queued is not queued
again, so 128-entry queues rarely fill there and the batching never happens inside a
measured window (docs/protocols.md).  Eight entries let a scaled-down world show the
batching factor:

    uvmsim compare --protocol seed,netbsd-intent,examples/netbsd_pdq.py:NETBSD_PDQ8 --no-check
"""

from uvmsim.protocols import PROTOCOLS

NETBSD_PDQ8 = PROTOCOLS["netbsd-intent"].variant(
    "netbsd-intent-pdq8",
    "netbsd-intent with 8-entry per-CPU intent queues instead of 128",
    pdq_size=8,
)
