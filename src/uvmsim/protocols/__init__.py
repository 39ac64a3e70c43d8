"""Protocols: which variant of each hunk of the seed diff the model runs.

`Protocol` is a frozen dataclass of named switches, one per hunk or tight group of hunks of
"Push UVM's pageqlock inside uvm_pagefree()" (tech@, 26 Feb 2025), each documented in `HUNKS`
with file, function and hunk header.  A switch is True when the model behaves as the diff says.
Model code branches on them (`if uvm.proto.anfree_list_unlocked: ...`).
"""

from uvmsim.protocols.base import (
    ALL_SWITCHES,
    PROTOCOLS,
    SWITCHES,
    Protocol,
    Switch,
)
from uvmsim.protocols.hunks import HUNKS, Hunk

__all__ = [
    "ALL_SWITCHES",
    "HUNKS",
    "PROTOCOLS",
    "SWITCHES",
    "Hunk",
    "Protocol",
    "Switch",
]
