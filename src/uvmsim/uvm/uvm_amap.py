"""Amaps (sys/uvm/uvm_amap.c): the anon arrays of map entries, as far as faults and frees need.

`struct vm_amap`: `am_lock` is the rwlock shared by the amap and all its anons (an anon's
`an_lock` points at it); `am_anon` maps a slot to its anon [o]; `am_ref` counts map entries.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    RWLock,
    Shared,
    SharedObject,
    peek,
    poke,
    rw_write_held,
)
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


def amap_unadd(amap: vm_amap, slot: int) -> None:
    """`amap_unadd`: empty `slot` (the caller drops the anon's reference); amap write-locked."""
    KASSERT(rw_write_held(peek(amap, "am_lock")), "rw_write_held(amap->am_lock)")
    amap.am_anon = {k: v for k, v in amap.am_anon.items() if k != slot}


def amap_ref(amap: vm_amap) -> None:
    """`amap_ref`: one more map entry references the amap (fork: a shared or needs-copy
    entry of the child); amap write-locked around the count."""
    amap_lock(amap)
    amap.am_ref = amap.am_ref + 1
    amap_unlock(amap)


def amap_copy(srcamap: vm_amap, name: str) -> vm_amap:
    """`amap_copy` (uvm_amap.c, the amap-locking version): resolve a needs-copy entry.

    The first fault on a copy-on-write entry after a fork gives it an amap of its own.
    With one reference left the entry just takes the old amap over (`am_ref` is read
    unlocked first, then re-checked under the lock).  Otherwise the new amap shares the
    source amap's lock (`rw_obj_hold`), every anon of the source gets one more reference
    (`an_ref++`, still under that lock), and the source loses this entry's reference.
    Returns the amap the entry now uses.  Not modelled: chunking, `am_ppref`, and the
    kernel's first, unlocked look at `am_ref` (a benign race its comment argues for: only
    our own reference can make it 1); the locked re-check decides the same.
    """
    amap = vm_amap(name)
    amap_lock(srcamap)
    if srcamap.am_ref == 1:
        amap_unlock(srcamap)
        uvm.amaps.remove(amap)  # amap_free of the unused new amap
        return srcamap
    # The new amap shares the source's lock: it and all the shared anons are one lock.
    poke(amap, "am_lock", peek(srcamap, "am_lock"))
    copied = {}
    for slot, anon in sorted(srcamap.am_anon.items()):
        KASSERT(anon.an_lock is peek(srcamap, "am_lock"), "anon->an_lock == srcamap->am_lock")
        KASSERT(anon.an_ref > 0, "anon->an_ref > 0")
        anon.an_ref = anon.an_ref + 1
        copied[slot] = anon
    amap.am_anon = copied
    srcamap.am_ref = srcamap.am_ref - 1
    KASSERT(srcamap.am_ref > 0, "srcamap->am_ref > 0")
    amap_unlock(srcamap)
    return amap


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
