"""The machine-dependent pmap, as deep as UVM's locking and invariants need (amd64 shape).

Per page (`pg.mdpage`): the pv list of (pmap, va) mappings under the page's `pv_mtx`.  Per
pmap: the va -> page mappings under `pm_mtx`.  Lock order as in amd64 `pmap_page_remove`:
`pm_mtx` before `pv_mtx`; both are IPL_VM spin mutexes that nest inside the pageq lock
(`uvm_pagedeactivate` calls `pmap_page_protect` with it held) and inside owner locks.
Referenced/modified bits live in `pg_flags` (PG_PMAP_REF/PG_PMAP_MOD) and change atomically.

Not modelled: page tables, TLB shootdowns, pv entry allocation; `pmap_update` is a no-op.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    IPL_VM,
    Mutex,
    Shared,
    SharedObject,
    atomic_clearbits_int,
    atomic_setbits_int,
    kernel_work,
    mtx_enter,
    mtx_leave,
    peek,
    poke,
)
from uvmsim.machine import failure as fk
from uvmsim.machine.core import fail
from uvmsim.machine.sites import inline

PROT_NONE = 0x00
PROT_READ = 0x01
PROT_WRITE = 0x02
PROT_EXEC = 0x04

PG_PMAP_REF = 0x01000000  # PG_PMAP0 on amd64: referenced
PG_PMAP_MOD = 0x02000000  # PG_PMAP1 on amd64: modified


class vm_page_md(SharedObject):
    """`struct vm_page_md`: the pv list of one page, protected by its `pv_mtx`."""

    pv_list = Shared("", default=list)  # [(pmap, va, prot)]

    def __init__(self, name: str):
        super().__init__(name)
        poke(self, "pv_mtx", Mutex(f"{name}.pv_mtx", IPL_VM, lock_class="pv_mtx"))


class pmap(SharedObject):
    """`struct pmap`: one address space's va -> (page, prot) mappings under `pm_mtx`."""

    pm_map = Shared("", default=dict)  # va -> (page, prot, allocation generation)

    def __init__(self, name: str):
        super().__init__(name)
        poke(self, "pm_mtx", Mutex(f"{name}.pm_mtx", IPL_VM, lock_class="pm_mtx"))


def pmap_enter(pm: pmap, va: int, pg: Any, prot: int) -> int:
    """`pmap_enter`: map `pg` at `va` with `prot` (replacing what was there)."""
    md = pg.mdpage
    mtx_enter(pm.pm_mtx)
    old = pm.pm_map.get(va)
    if old is not None and old[0] is not pg:
        _pv_remove(old[0], pm, va)
    mtx_enter(md.pv_mtx)
    pvs = md.pv_list
    md.pv_list = [e for e in pvs if not (e[0] is pm and e[1] == va)] + [(pm, va, prot)]
    mtx_leave(md.pv_mtx)
    m = pm.pm_map
    # The page's allocation generation is remembered so a stale mapping is recognised even
    # after the page was freed and allocated again to someone else.
    pm.pm_map = {**m, va: (pg, prot, peek(pg, "gen"))}
    mtx_leave(pm.pm_mtx)
    return 0


@inline
def _pv_remove(pg: Any, pm: pmap, va: int) -> None:
    md = pg.mdpage
    mtx_enter(md.pv_mtx)
    pvs = md.pv_list
    md.pv_list = [e for e in pvs if not (e[0] is pm and e[1] == va)]
    mtx_leave(md.pv_mtx)


def pmap_extract(pm: pmap, va: int) -> bool:
    """`pmap_extract`: whether `va` is mapped in `pm` (the physical address is not needed).

    amd64 reads the PTE without a lock (an aligned, atomically updated word); the model's
    mappings are one dict, so it reads them under `pm_mtx`, a leaf lock.
    """
    mtx_enter(pm.pm_mtx)
    mapped = va in pm.pm_map
    mtx_leave(pm.pm_mtx)
    return mapped


def pmap_remove(pm: pmap, sva: int, eva: int) -> None:
    """`pmap_remove`: unmap [sva, eva) of `pm`."""
    mtx_enter(pm.pm_mtx)
    m = pm.pm_map
    gone = sorted(va for va in m if sva <= va < eva)
    for va in gone:
        _pv_remove(m[va][0], pm, va)
    if gone:
        pm.pm_map = {va: e for va, e in m.items() if not sva <= va < eva}
    mtx_leave(pm.pm_mtx)


def pmap_protect(pm: pmap, sva: int, eva: int, prot: int) -> None:
    """`pmap_protect`: lower the protection of [sva, eva) of `pm` to `prot` (fork write-protects
    a copy-on-write parent's entry this way).  `pm_mtx`, then each page's `pv_mtx`."""
    mtx_enter(pm.pm_mtx)
    m = pm.pm_map
    lowered = {}
    for va in sorted(v for v in m if sva <= v < eva):
        pg, old, gen = m[va]
        if old & ~prot:
            md = pg.mdpage
            mtx_enter(md.pv_mtx)
            md.pv_list = [
                (e[0], e[1], e[2] & prot) if e[0] is pm and e[1] == va else e for e in md.pv_list
            ]
            mtx_leave(md.pv_mtx)
            lowered[va] = (pg, old & prot, gen)
    if lowered:
        pm.pm_map = {**m, **lowered}
    mtx_leave(pm.pm_mtx)


def pmap_page_protect(pg: Any, prot: int) -> None:
    """`pmap_page_protect`: lower every mapping of `pg` to `prot` (PROT_NONE removes them).

    As amd64's `pmap_page_remove`, it takes each mapping's `pm_mtx` before the page's
    `pv_mtx`, re-checking the pv list after dropping and retaking the latter.
    """
    md = pg.mdpage
    while True:
        mtx_enter(md.pv_mtx)
        pvs = md.pv_list
        todo = [e for e in pvs if prot == PROT_NONE or e[2] & ~prot]
        mtx_leave(md.pv_mtx)
        if not todo:
            return
        pm, va, _old = todo[0]
        mtx_enter(pm.pm_mtx)
        mtx_enter(md.pv_mtx)
        pvs = md.pv_list
        rest = [e for e in pvs if not (e[0] is pm and e[1] == va)]
        if prot != PROT_NONE:
            rest.append((pm, va, _old & prot))
        md.pv_list = rest
        mtx_leave(md.pv_mtx)
        m = pm.pm_map
        cur = m.get(va)
        if cur is not None and cur[0] is pg:
            if prot == PROT_NONE:
                pm.pm_map = {k: v for k, v in m.items() if k != va}
            else:
                pm.pm_map = {**m, va: (pg, cur[1] & prot, cur[2])}
        mtx_leave(pm.pm_mtx)
        if prot != PROT_NONE:
            # Only lowering was asked for: one pass over the mappings is enough.
            mtx_enter(md.pv_mtx)
            remaining = [e for e in md.pv_list if e[2] & ~prot]
            mtx_leave(md.pv_mtx)
            if not remaining:
                return


def pmap_is_referenced(pg: Any) -> bool:
    """`pmap_is_referenced`: the referenced bit (a plain read of the atomic pg_flags)."""
    return bool(pg.pg_flags & PG_PMAP_REF)


def pmap_is_modified(pg: Any) -> bool:
    """`pmap_is_modified`: the modified bit."""
    return bool(pg.pg_flags & PG_PMAP_MOD)


def pmap_clear_reference(pg: Any) -> None:
    """`pmap_clear_reference`."""
    atomic_clearbits_int(pg, "pg_flags", PG_PMAP_REF)


def pmap_clear_modify(pg: Any) -> None:
    """`pmap_clear_modify`."""
    atomic_clearbits_int(pg, "pg_flags", PG_PMAP_MOD)


def pmap_user_access(pm: pmap, va: int, write: bool = False) -> bool:
    """A user load or store at `va` through the MMU (no fault path).

    Returns False if `va` is not mapped (or not writable for a store): the caller would take
    a fault.  If it is mapped, the hardware sets the referenced (and modified) bit of the
    mapped page; a mapping that still points at a page that has been freed is a
    use-after-free, the very thing the review's question R5 asks about.
    """
    mtx_enter(pm.pm_mtx)
    entry = pm.pm_map.get(va)
    mtx_leave(pm.pm_mtx)
    if entry is None or (write and not entry[1] & PROT_WRITE):
        return False
    pg, _prot, gen = entry
    if peek(pg, "gen") != gen or peek(pg, "owner_state") != "allocated":
        fail(
            fk.INVARIANT,
            f"invariant violated: user access through {pm.name} va 0x{va:x} reached "
            f"{pg.name}, which was freed after it was mapped (a stale mapping)",
        )
    kernel_work("user_access", pg)
    atomic_setbits_int(pg, "pg_flags", PG_PMAP_REF | (PG_PMAP_MOD if write else 0))
    return True
