"""The kernel entry points a program's operations run (see `program` for the language).

Each operation is what a process, the pagedaemon, the aiodone daemon or a kernel thread
does in the kernel, written with the model's functions and holding the locks the kernel's
callers hold: a page fault is `uvm_fault` on the process's map entry, `madvise` is
`uvm_map_clean`, `exit` is `uvmspace_free`'s unwiring, unmapping and detaching, a buffer is
read and flipped through the buffer cache's entry points under the kernel lock.

A process's address space is fixed: an anonymous entry of `ANON_PAGES` pages (an amap) at
`ANON_VA`, each attached shared-memory segment (an aobj, MAP_SHARED) and each mapped file
(a vnode, MAP_SHARED) at their own addresses.  What the map layer would keep for it (which
amap the entry uses, needs-copy, what it wired) is private to the process's own thread, so
it is plain Python state of the world, not shared fields: only that thread reads it.

Kernel counterparts that are not in the model's uvm/ modules (`uvm_map_clean`, the fork and
exit walks over a map) are written here from OpenBSD's uvm_map.c; see each docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from uvmsim.machine import RW_WRITE, curcpu, peek, poke, rw_enter, rw_exit, splbio, splx
from uvmsim.scenarios.base import Scenario
from uvmsim.scenarios.program import ANON_PAGES, Op, Program, to_ref
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.kernel_lock import KERNEL_LOCK, KERNEL_UNLOCK
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_amap import (
    amap_copy,
    amap_lock,
    amap_lookup,
    amap_ref,
    amap_unadd,
    amap_unlock,
    amap_unref,
    vm_amap,
)
from uvmsim.uvm.uvm_anon import uvm_anfree
from uvmsim.uvm.uvm_aobj import uao_create, uao_detach, uao_flush, uao_reference
from uvmsim.uvm.uvm_fault import (
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_SEQUENTIAL,
    fault_entry,
    fault_range,
    uvm_fault,
    uvm_fault_unwire,
)
from uvmsim.uvm.uvm_km import uvm_km_pgremove
from uvmsim.uvm.uvm_page import uvm_pagedeactivate
from uvmsim.uvm.uvm_page_h import PAGE_SIZE
from uvmsim.uvm.uvm_pager import (
    PGO_ALLPAGES,
    PGO_CLEANIT,
    PGO_DEACTIVATE,
    PGO_FREE,
    PGO_SYNCIO,
    uvm_aiodone_daemon,
)
from uvmsim.uvm.uvm_pdaemon import uvm_pageout, uvmpd_drop_inactive
from uvmsim.uvm.uvm_vnode import uvn_attach, uvn_flush
from uvmsim.uvm.uvmexp import uvmexp
from uvmsim.uvm.vfs_biomem import (
    buf_flip_dma,
    buf_flip_high,
    bufcache_alloc,
    bufcache_free,
)

ANON_VA = 0x10000
SHM_VA = 0x100000
FILE_VA = 0x400000
KERNEL_VA = 0x800000
ENTRY_SPAN = 0x20000  # address space between two entries

ADVICE = {"normal": MADV_NORMAL, "seq": MADV_SEQUENTIAL, "random": MADV_RANDOM}
FLUSH = {
    "cleanit": PGO_CLEANIT,
    "free": PGO_FREE,
    "deactivate": PGO_DEACTIVATE,
    "syncio": PGO_SYNCIO,
    "allpages": PGO_ALLPAGES,
}


@dataclass
class Proc:
    """A process's map, as far as its own thread keeps it (module docstring)."""

    name: str
    pm: Any
    amap: Any = None  # the anonymous entry's amap (None: unmapped)
    needs_copy: bool = False  # UVM_ET_NEEDSCOPY: the first fault copies the amap
    shm: set[int] = field(default_factory=set)
    files: set[int] = field(default_factory=set)
    wired: list[tuple[str, int]] = field(default_factory=list)  # in the order they were wired


def boot_world(w: Any, prog: Program) -> None:
    """Create what exists at boot (the processes, segments, files, the kernel object) and
    set the pagedaemon's free target; runs on the set-up CPU before the set-up's operations."""
    spec = prog.world
    poke(uvmexp, "freetarg", spec.freetarg)
    w.kpm = _new_pmap("kernel_pmap")
    w.kobj = uao_create("kernel_object", npages=max(1, spec.kmem), kernel=True)
    w.shm = [uao_create(f"shm{i}", npages=n) for i, n in enumerate(spec.shm)]
    w.files = [uvn_attach(f"file{i}", npages=n) for i, n in enumerate(spec.files)]
    w.bufs = {}
    w.procs = {}
    for i in range(spec.procs):
        name = f"p{i}"
        w.procs[name] = Proc(
            name, _new_pmap(name), vm_amap(f"{name}.amap"), files=set(range(len(spec.files)))
        )


def _new_pmap(name: str) -> Any:
    pm = _pmap.pmap(name)
    uvm.pmaps.append(pm)
    return pm


def run_ops(w: Any, ops: tuple[Op, ...]) -> None:
    """Run `ops` one after the other on this CPU."""
    for op in ops:
        OPERATIONS[op.verb](w, op)


# ---- the map layer of a process ---------------------------------------------------------


def _base(region: str) -> tuple[int, int]:
    """(first va, pages) of a region of every process's address space."""
    if region == "anon":
        return ANON_VA, ANON_PAGES
    if region.startswith("shm"):
        i = int(region[3:])
        return SHM_VA + i * ENTRY_SPAN, 0
    i = int(region[4:])
    return FILE_VA + i * ENTRY_SPAN, 0


def _object(w: Any, region: str) -> Any:
    if region.startswith("shm"):
        return w.shm[int(region[3:])]
    return w.files[int(region[4:])]


def _entry(w: Any, p: Proc, region: str, index: int, prot: int, advice: int) -> Any:
    """The fault on page `index` of `region`: the whole entry is its range (fault-ahead)."""
    va, npages = _base(region)
    if region == "anon":
        if p.needs_copy:
            _amapcopy(p)
        return fault_range(p.pm, va, npages, index, amap=p.amap, prot=prot, advice=advice)
    uobj = _object(w, region)
    npages = peek(uobj, "u_pages") if region.startswith("shm") else peek(uobj, "u_size") // 4096
    return fault_range(p.pm, va, npages, index, uobj=uobj, prot=prot, advice=advice)


def _amapcopy(p: Proc) -> None:
    """`uvmfault_amapcopy`: a fault on a needs-copy anonymous entry copies the amap first
    (uvm_fault_check; for an entry without an object any access does)."""
    p.amap = amap_copy(p.amap, f"{p.name}.amap'")
    p.needs_copy = False


def op_fault(w: Any, op: Op) -> None:
    """A page fault (`uvm_fault`): read or write access, the entry's madvise(2) advice."""
    p = w.procs[op.actor]
    region, index, rw = op.args[0], int(op.args[1]), op.args[2]
    advice = ADVICE[op.args[3]] if len(op.args) > 3 else MADV_NORMAL
    prot = _pmap.PROT_READ | (_pmap.PROT_WRITE if rw == "w" else 0)
    uvm_fault(_entry(w, p, region, index, prot, advice))


def op_touch(w: Any, op: Op) -> None:
    """A user load or store: through the MMU if mapped (a stale mapping is caught there),
    else a fault and the access again."""
    p = w.procs[op.actor]
    region, index, rw = op.args[0], int(op.args[1]), op.args[2]
    va = _base(region)[0] + index * PAGE_SIZE
    write = rw == "w"
    if _pmap.pmap_user_access(p.pm, va, write):
        return
    prot = _pmap.PROT_READ | (_pmap.PROT_WRITE if write else 0)
    if uvm_fault(_entry(w, p, region, index, prot, MADV_NORMAL)) == 0:
        _pmap.pmap_user_access(p.pm, va, write)


def _wire_entry(w: Any, p: Proc, region: str, index: int) -> Any:
    va = _base(region)[0] + index * PAGE_SIZE
    if region == "anon":
        return fault_entry(pmap=p.pm, va=va, amap=p.amap, slot=index)
    return fault_entry(pmap=p.pm, va=va, uobj=_object(w, region), offset=index * PAGE_SIZE)


def op_wire(w: Any, op: Op) -> None:
    """mlock(2): `uvm_map_pageable` -> `uvm_fault_wire`, a wired fault on the page.  A fault
    that fails (no memory) leaves nothing wired, as mlock returns the error."""
    p = w.procs[op.actor]
    region, index = op.args[0], int(op.args[1])
    if uvm_fault(_wire_entry(w, p, region, index), wired=True) == 0:
        p.wired.append((region, index))


def op_unwire(w: Any, op: Op) -> None:
    """munlock(2): `uvm_fault_unwire` of a page the process wired (nothing if its mlock
    failed: the entry is not wired)."""
    p = w.procs[op.actor]
    key = (op.args[0], int(op.args[1]))
    if key in p.wired:
        p.wired.remove(key)
        uvm_fault_unwire(_wire_entry(w, p, *key))


def _unwire_region(w: Any, p: Proc, region: str | None) -> None:
    """`uvm_map_entry_unwire` of what the process wired in `region` (None: everywhere)."""
    for key in list(p.wired):
        if region is None or key[0] == region:
            p.wired.remove(key)
            uvm_fault_unwire(_wire_entry(w, p, *key))


def uvm_map_clean_anon(p: Proc, flags: int) -> None:
    """The amap half of `uvm_map_clean` (uvm_map.c, amap-locking version; shape read in an
    older revision, the amap lock as in 2025 [not re-read]) for the anonymous entry.

    Under the amap lock, for each resident anon page: PGO_DEACTIVATE (or PGO_FREE while the
    amap has other references) unmaps and deactivates it under the pageq lock unless it is
    wired; PGO_FREE otherwise drops the slot (`amap_unadd`) and the anon's reference,
    freeing the anon (and its page) with the last one.
    """
    amap = p.amap
    amap_lock(amap)
    for slot in range(ANON_PAGES):
        anon = amap_lookup(amap, slot)
        if anon is None:
            continue
        pg = anon.an_page
        if pg is None:
            continue
        if flags & PGO_DEACTIVATE or amap.am_ref > 1:
            if pg.wire_count != 0:
                continue
            uvm_lock_pageq()
            _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
            uvm_pagedeactivate(pg)
            uvm_unlock_pageq()
            continue
        if pg.wire_count != 0:
            continue
        amap_unadd(amap, slot)
        anon.an_ref = anon.an_ref - 1
        if anon.an_ref == 0:
            uvm_anfree(anon)
    amap_unlock(amap)


def op_madvise(w: Any, op: Op) -> None:
    """madvise(2): MADV_FREE is `uvm_map_clean(PGO_FREE)`, MADV_DONTNEED
    `uvm_map_clean(PGO_DEACTIVATE)`; an object's pages go to `pgo_flush` (uao_flush) with
    the object write-locked."""
    p = w.procs[op.actor]
    region = op.args[0]
    flags = PGO_FREE if op.args[1] == "free" else PGO_DEACTIVATE
    if region == "anon":
        uvm_map_clean_anon(p, flags)
        return
    uobj = _object(w, region)
    rw_enter(uobj.vmobjlock, RW_WRITE)
    uao_flush(uobj, 0, peek(uobj, "u_pages") * PAGE_SIZE, flags)
    rw_exit(uobj.vmobjlock)


def op_msync(w: Any, op: Op) -> None:
    """msync(2) of a file mapping: `uvm_map_clean` with PGO_CLEANIT, PGO_SYNCIO for MS_SYNC,
    PGO_FREE for MS_INVALIDATE: `uvn_flush` of the entry's range, object write-locked."""
    flags = PGO_CLEANIT | {"async": 0, "sync": PGO_SYNCIO, "invalidate": PGO_FREE}[op.args[1]]
    uobj = _object(w, op.args[0])
    rw_enter(uobj.vmobjlock, RW_WRITE)
    uvn_flush(uobj, 0, peek(uobj, "u_size"), flags)
    rw_exit(uobj.vmobjlock)


def _unmap(w: Any, p: Proc, region: str) -> None:
    """`uvm_unmap_remove` of one entry: unwire, `pmap_remove`, then (`uvm_unmap_detach`) drop
    the amap's or the object's reference."""
    _unwire_region(w, p, region)
    va = _base(region)[0]
    _pmap.pmap_remove(p.pm, va, va + ENTRY_SPAN)
    if region == "anon":
        amap_unref(p.amap)
        p.amap = None
    elif region.startswith("shm"):
        p.shm.discard(int(region[3:]))
        uao_detach(_object(w, region))
    else:
        p.files.discard(int(region[4:]))


def op_munmap(w: Any, op: Op) -> None:
    """munmap(2) of a whole entry (`_unmap`)."""
    _unmap(w, w.procs[op.actor], op.args[0])


def op_fork(w: Any, op: Op) -> None:
    """fork(2): `uvmspace_fork`, entry by entry (uvm_map.c uvm_mapent_forkcopy/forkshared).

    The anonymous entry is MAP_INHERIT_COPY unless `share` is given: the child references
    the same amap (`amap_ref`) and both entries become needs-copy, the parent's mappings
    write-protected (`pmap_protect`); with `share` both use the amap from now on.  Each
    attached segment gains a reference (`uao_reference`); files stay mapped (vnode
    references are not modelled).  The child's pmap starts empty (no `pmap_copy`).
    """
    p = w.procs[op.actor]
    child = Proc(op.args[0], _new_pmap(op.args[0]), files=set(p.files))
    if p.amap is not None:
        amap_ref(p.amap)
        child.amap = p.amap
        if op.args[1:] != ("share",):
            child.needs_copy = True
            if not p.needs_copy:
                _pmap.pmap_protect(p.pm, ANON_VA, ANON_VA + ENTRY_SPAN, _pmap.PROT_READ)
                p.needs_copy = True
    for i in sorted(p.shm):
        uao_reference(w.shm[i])
        child.shm.add(i)
    w.procs[child.name] = child


def op_exit(w: Any, op: Op) -> None:
    """exit(2): `uvmspace_free` -> `uvm_unmap_remove` of the whole map in address order
    (unwire, unmap), then `uvm_unmap_detach` drops each amap and object reference."""
    p = w.procs[op.actor]
    _unwire_region(w, p, None)
    _pmap.pmap_remove(p.pm, 0, 1 << 40)
    if p.amap is not None:
        amap_unref(p.amap)
        p.amap = None
    for i in sorted(p.shm):
        uao_detach(w.shm[i])
    p.shm.clear()


def op_shmat(w: Any, op: Op) -> None:
    """shmat(2): map a segment; its aobj gains a reference (`uao_reference`)."""
    p = w.procs[op.actor]
    i = int(op.args[0][3:])
    uao_reference(w.shm[i])
    p.shm.add(i)


def op_shmrm(w: Any, op: Op) -> None:
    """shmctl(IPC_RMID): the segment drops its own reference to its aobj (`uao_detach`); the
    last reference frees its pages."""
    uao_detach(w.shm[int(op.args[0][3:])])


# ---- daemons ----------------------------------------------------------------------------


def op_pageout(w: Any, op: Op) -> None:
    """One round of the pagedaemon (`uvm_pageout`): the shortage from uvmexp.freetarg, or the
    one given.  The CPU is the pagedaemon's only while it runs (a CPU runs other threads)."""
    local = curcpu().local
    was = local.get("pagedaemon")
    uvm_pageout(1, shortage=int(op.args[0]) if op.args else None)
    if was is None:
        local.pop("pagedaemon", None)


def op_aiodone(w: Any, op: Op) -> None:
    """The aiodone daemon woken: one batch of finished asynchronous swap writes, if any."""
    uvm_aiodone_daemon(1, idle_return=True)


# ---- kernel threads ---------------------------------------------------------------------


def _kernel_entry(w: Any, k: int) -> Any:
    va = KERNEL_VA + k * PAGE_SIZE
    return fault_entry(pmap=w.kpm, va=va, uobj=w.kobj, offset=k * PAGE_SIZE)


def op_kmalloc(w: Any, op: Op) -> None:
    """Kernel memory in the kernel object: wired (`uvm_km_alloc` + wiring, a wired fault) or
    pageable (faulted in on first use)."""
    uvm_fault(_kernel_entry(w, int(op.args[0])), wired=op.args[1] == "wired")


def op_kfree(w: Any, op: Op) -> None:
    """`uvm_km_free` of one kernel page: `uvm_km_pgremove` with the kernel object locked (a
    wired page loses its wiring in `uvm_pageclean`)."""
    k = int(op.args[0])
    va = KERNEL_VA + k * PAGE_SIZE
    rw_enter(w.kobj.vmobjlock, RW_WRITE)
    uvm_km_pgremove(w.kobj, w.kpm, va, va + PAGE_SIZE, kva_base=KERNEL_VA)
    rw_exit(w.kobj.vmobjlock)


def op_bread(w: Any, op: Op) -> None:
    """A buffer of N pages read in (`buf_get` -> `buf_alloc_pages`, kernel lock, splbio)."""
    w.bufs[op.args[0]] = bufcache_alloc(op.args[0], int(op.args[1]))


def op_bflip(w: Any, op: Op) -> None:
    """The buffer cache moving a buffer to high memory or back to DMA memory, as its callers
    do under the kernel lock: only when B_DMA says the buffer is not already there."""
    bp = w.bufs[op.args[0]]
    KERNEL_LOCK()
    s = splbio()
    dma = bp.b_dma
    if op.args[1] == "high" and dma:
        buf_flip_high(bp)
    elif op.args[1] == "dma" and not dma:
        buf_flip_dma(bp)
    splx(s)
    KERNEL_UNLOCK()


def op_brelse(w: Any, op: Op) -> None:
    """A buffer given back (`buf_put` -> `buf_free_pages`)."""
    bufcache_free(w.bufs.pop(op.args[0]))


def op_flush(w: Any, op: Op) -> None:
    """A VFS caller of `uvn_flush` (uvm_vnp_sync, uvm_vnp_terminate, truncation) with the
    object write-locked, with the given flags."""
    flags = 0
    for name in op.args[1].split(","):
        flags |= FLUSH[name]
    uobj = _object(w, op.args[0])
    rw_enter(uobj.vmobjlock, RW_WRITE)
    uvn_flush(uobj, 0, peek(uobj, "u_size"), flags)
    rw_exit(uobj.vmobjlock)


def op_hibernate(w: Any, op: Op) -> None:
    """Hibernate's `uvmpd_drop` of the inactive queue (the system is quiesced: set-up only)."""
    uvmpd_drop_inactive()


OPERATIONS = {
    "fault": op_fault,
    "touch": op_touch,
    "wire": op_wire,
    "unwire": op_unwire,
    "madvise": op_madvise,
    "msync": op_msync,
    "munmap": op_munmap,
    "fork": op_fork,
    "exit": op_exit,
    "shmat": op_shmat,
    "shmrm": op_shmrm,
    "pageout": op_pageout,
    "aiodone": op_aiodone,
    "kmalloc": op_kmalloc,
    "kfree": op_kfree,
    "bread": op_bread,
    "bflip": op_bflip,
    "brelse": op_brelse,
    "flush": op_flush,
    "hibernate": op_hibernate,
}


def to_scenario(prog: Program) -> Scenario:
    """The program as a checker scenario: the boot and the set-up's operations on the set-up
    CPU, then one function per CPU running its operations.  Its `source` is the program
    itself (`program:<data>`), so that a replay token needs no file."""
    name = prog.name or f"program-{prog.digest()}"

    def setup(w: Any) -> None:
        boot_world(w, prog)
        run_ops(w, prog.setup)

    def program(w: Any) -> list:
        return [lambda ops=ops: run_ops(w, ops) for ops in prog.cpus]

    swap = prog.world.swap_dict()
    return Scenario(
        name=name,
        cpus=len(prog.cpus),
        pages=prog.world.pages,
        summary=prog.summary or f"a program of {prog.size()} operations on {len(prog.cpus)} CPUs",
        questions=(),
        setup=setup,
        program=program,
        swap=swap,
        world={"dma_share": prog.world.dma_share},
        source=to_ref(prog),
    )
