"""Amaps (sys/uvm/uvm_amap.c): the anon arrays of map entries, as far as faults and frees need.

`struct vm_amap`: `am_lock` is the rwlock shared by the amap and all its anons (an anon's
`an_lock` points at it); `am_anon` maps a slot to its anon [o]; `am_ref` counts map entries.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import KASSERT, RWLock, Shared, SharedObject, peek, poke, rw_write_held
from uvmsim.uvm.uvm import uvm


class vm_amap(SharedObject):
    """`struct vm_amap` (see the module docstring)."""

    am_anon = Shared("o", default=dict)
    am_ref = Shared("o")

    annotation_locks = {"o": lambda amap: peek(amap, "am_lock")}

    def __init__(self, name: str, refs: int = 1):
        super().__init__(name)
        poke(self, "am_lock", RWLock(f"{name}.am_lock", lock_class="amaplock"))
        poke(self, "am_ref", refs)
        uvm.amaps.append(self)


def amap_lock(amap: vm_amap) -> None:
    """`amap_lock`: rw_enter(amap->am_lock, RW_WRITE)."""
    from uvmsim.machine import RW_WRITE, rw_enter

    rw_enter(amap.am_lock, RW_WRITE)


def amap_unlock(amap: vm_amap) -> None:
    """`amap_unlock`: rw_exit(amap->am_lock)."""
    from uvmsim.machine import rw_exit

    rw_exit(amap.am_lock)


def amap_lookup(amap: vm_amap, slot: int) -> Any:
    """`amap_lookup`: the anon in `slot`, or None; amap lock held."""
    return amap.am_anon.get(slot)


def amap_add(amap: vm_amap, slot: int, anon: Any) -> None:
    """`amap_add`: put `anon` in `slot`; amap lock write-held."""
    KASSERT(rw_write_held(peek(amap, "am_lock")), "rw_write_held(amap->am_lock)")
    amap.am_anon = {**amap.am_anon, slot: anon}


def amap_unref(amap: vm_amap) -> None:
    """`amap_unref`: drop a map entry's reference; the last one wipes the amap out.

    `amap_wipeout` drops each anon's reference under the amap lock; an anon whose last
    reference goes is freed with `uvm_anfree` (its page freed, or marked PG_RELEASED if busy).
    """
    from uvmsim.uvm.uvm_anon import uvm_anfree

    amap_lock(amap)
    amap.am_ref = amap.am_ref - 1
    if amap.am_ref == 0:
        for slot, anon in sorted(amap.am_anon.items()):
            anon.an_ref = anon.an_ref - 1
            if anon.an_ref == 0:
                uvm_anfree(anon)
            amap.am_anon = {k: v for k, v in amap.am_anon.items() if k != slot}
    amap_unlock(amap)
