"""The files a simulation writes for other tools: folded stacks and a Chrome/Perfetto trace.

Both are built from a `SimResult` run with `folded=True` / `trace=True`, as text, so the
caller writes them atomically (uvmsim.output_files).
"""

from __future__ import annotations

import json
from typing import Any

from uvmsim.simulate.run import SimResult

PID = 0
"""The trace's one process: the simulated machine (the engine's spans use pid 0)."""


def folded_text(r: SimResult) -> str:
    """`cpuN;function;...;leaf cycles` lines for flamegraph.pl, sorted, zero lines left out."""
    folded = r.folded or {}
    lines = [f"{k} {round(v)}" for k, v in sorted(folded.items()) if round(v) > 0]
    return "\n".join(lines) + "\n"


def trace_metadata(r: SimResult) -> list[dict[str, Any]]:
    """Metadata events naming the process and each CPU's track, in CPU order.

    Without them Perfetto and chrome://tracing show bare numbers ("Process 0", "Thread 3").
    The sort index keeps cpu10 after cpu9 rather than after cpu1.
    """
    events: list[dict[str, Any]] = [
        {
            "name": "process_name",
            "ph": "M",
            "pid": PID,
            "tid": 0,
            "args": {"name": f"uvmsim {r.workload} on {r.protocol}"},
        }
    ]
    for cpu in range(r.cpus):
        events.append(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": PID,
                "tid": cpu,
                "args": {"name": f"cpu{cpu}"},
            }
        )
        events.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": PID,
                "tid": cpu,
                "args": {"sort_index": cpu},
            }
        )
    return events


def chrome_trace(r: SimResult) -> dict[str, Any]:
    """The trace-event document: names first, then the engine's lock spans."""
    return {
        "traceEvents": trace_metadata(r) + list(r.trace or []),
        "displayTimeUnit": "ns",
        "otherData": {
            "protocol": r.protocol,
            "workload": r.workload,
            "cpus": r.cpus,
            "seed": r.seed,
        },
    }


def chrome_trace_text(r: SimResult) -> str:
    """`chrome_trace` as JSON text."""
    return json.dumps(chrome_trace(r))
