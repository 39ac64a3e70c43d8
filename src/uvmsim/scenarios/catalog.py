"""The named scenarios: each question of the review thread as a closed harness.

Expectations per protocol: "holds" (no interleaving fails), a failure kind that some
interleaving must reach, or "finding" (a failure of the kernel's own protocol, recorded in
docs/findings.md).
"""

from __future__ import annotations

from uvmsim.machine import RW_WRITE, atomic_clearbits_int, peek, poke, rw_enter, rw_exit
from uvmsim.scenarios import setup as S  # noqa: N812  (S.fault_anon reads like a verb)
from uvmsim.scenarios.base import Scenario, World, register
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_amap import amap_unref
from uvmsim.uvm.uvm_aobj import uao_create, uao_detach, uao_flush
from uvmsim.uvm.uvm_fault import fault_entry, uvm_fault_lower, uvm_fault_unwire, uvm_fault_upper
from uvmsim.uvm.uvm_km import uvm_km_pgremove
from uvmsim.uvm.uvm_object import uvm_obj_free, uvm_obj_init, uvm_object
from uvmsim.uvm.uvm_page import uvm_pageactivate, uvm_pagealloc, uvm_pagerealloc_multi
from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_BUSY, PG_FAKE
from uvmsim.uvm.uvm_pager import PGO_CLEANIT, PGO_FREE, PGO_SYNCIO, uvm_aiodone_daemon
from uvmsim.uvm.uvm_pdaemon import uvm_pageout, uvmpd_drop
from uvmsim.uvm.uvm_vnode import uvn_attach, uvn_flush

P = PAGE_SIZE
ALL_PROTOCOLS_HOLD = {
    "openbsd-pre": "holds",
    "seed": "holds",
    "seed-plain-wired": "holds",
    "seed-no-dequeue-first": "holds",
    "openbsd-2024-nocache": "holds",
    "seed-fixed": "holds",
}


def _access_or_fault_anon(w: World, va: int, slot: int, write: bool = False) -> None:
    """A user access: through the MMU if mapped, else a fault on the anon slot first."""
    if not _pmap.pmap_user_access(w.pm, va, write):
        uvm_fault_upper(fault_entry(pmap=w.pm, va=va, amap=w.amap, slot=slot))
        _pmap.pmap_user_access(w.pm, va, write)


def _access_or_fault_object(w: World, va: int, uobj, offset: int, write: bool = False) -> None:
    if (
        not _pmap.pmap_user_access(w.pm, va, write)
        and uvm_fault_lower(fault_entry(pmap=w.pm, va=va, uobj=uobj, offset=offset)) == 0
    ):
        _pmap.pmap_user_access(w.pm, va, write)


def _flush_free(uobj) -> None:
    rw_enter(uobj.vmobjlock, RW_WRITE)
    uao_flush(uobj, 0, peek(uobj, "u_pages") * P, PGO_FREE)
    rw_exit(uobj.vmobjlock)


# ---- pageclean-race (R1) ---------------------------------------------------------------------


def _pageclean_race_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=2)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.clean_anon(w.amap, 0)
    S.deactivate_anon(w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.clean_object_page(w.aobj, 0)
    S.deactivate_object_page(w.aobj, 0)


register(
    Scenario(
        name="pageclean-race",
        cpus=3,
        pages=12,
        summary="two free paths reach one page: an exiting process frees its anon, the last "
        "reference of an aobj goes, and the pagedaemon wants the same clean inactive pages",
        questions=("R1",),
        setup=_pageclean_race_setup,
        program=lambda w: [
            lambda: amap_unref(w.amap),
            lambda: uao_detach(w.aobj),
            lambda: uvm_pageout(shortage=2),
        ],
        expect={
            "openbsd-pre": "holds",
            "seed": "finding",
            "seed-plain-wired": "finding",
            "seed-no-dequeue-first": "finding",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
    )
)


# ---- pdaemon-vs-free (R6) ---------------------------------------------------------------------


def _swap_only_elsewhere(w: World) -> None:
    """Another process has a page that lives only in swap (uvmexp.swpgonly is 1), as on any
    system that has swapped: without it the released-page path trips finding F2 first."""
    w.other = S.new_amap("other")
    S.fault_anon(w.pm, 0x9000, w.other, 0)
    S.clean_anon(w.other, 0)
    S.evict_anon(w.other, 0)


def _pdaemon_vs_free_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=2)
    _swap_only_elsewhere(w)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.clean_anon(w.amap, 0)
    S.deactivate_anon(w.amap, 0)
    S.fault_anon(w.pm, 0x2000, w.amap, 1)  # dirty: the pagedaemon pages it out
    S.deactivate_anon(w.amap, 1)
    S.fault_object(w.pm, 0x3000, w.aobj, 0)
    S.clean_object_page(w.aobj, 0)
    S.deactivate_object_page(w.aobj, 0)


register(
    Scenario(
        name="pdaemon-vs-free",
        cpus=3,
        pages=12,
        summary="the pagedaemon's inactive scan frees clean pages and pages a dirty anon out "
        "(synchronously) while other CPUs free queued anon and aobj pages (amap wipeout, "
        "uao_flush)",
        questions=("R6",),
        setup=_pdaemon_vs_free_setup,
        program=lambda w: [
            lambda: uvm_pageout(shortage=3),
            lambda: amap_unref(w.amap),
            lambda: _flush_free(w.aobj),
        ],
        expect={
            "openbsd-pre": "holds",
            "seed": "finding",
            "seed-plain-wired": "finding",
            "seed-no-dequeue-first": "recursion",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
    )
)


def _pdaemon_released_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)  # dirty: paged out synchronously
    S.deactivate_anon(w.amap, 0)
    _swap_only_elsewhere(w)


register(
    Scenario(
        name="pdaemon-released",
        cpus=2,
        pages=12,
        summary="the pagedaemon pages a dirty anon out synchronously while the process exits: "
        "the anon is freed during the I/O (PG_RELEASED) and the pagedaemon frees the page after "
        "it, with the pageq lock held",
        questions=("R6",),
        setup=_pdaemon_released_setup,
        program=lambda w: [lambda: uvm_pageout(shortage=1), lambda: amap_unref(w.amap)],
        expect={**ALL_PROTOCOLS_HOLD, "seed-no-dequeue-first": "recursion"},
    )
)


def _swpgonly_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)  # dirty: paged out synchronously
    S.deactivate_anon(w.amap, 0)


register(
    Scenario(
        name="swpgonly-released",
        cpus=2,
        pages=12,
        summary="finding F2: as pdaemon-released, but no other page lives only in swap, so the "
        "pagedaemon's free of the released anon trips KASSERT(uvmexp.swpgonly > 0)",
        questions=(),
        setup=_swpgonly_setup,
        program=lambda w: [lambda: uvm_pageout(shortage=1), lambda: amap_unref(w.amap)],
        expect={name: "finding" for name in ALL_PROTOCOLS_HOLD},
    )
)


# ---- wired-counter (R3) -------------------------------------------------------------------------


def _wired_counter_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.kpm = S.new_pmap("kernel_pmap")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=1)
    w.kobj = uao_create("kernel_object", npages=2, kernel=True)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.fault_object(w.kpm, 0x8000, w.kobj, 0, wired=True)  # wired kernel memory
    S.fault_object(w.kpm, 0x9000, w.kobj, P)  # pageable kernel memory: queued


def _wire_unwire_anon(w: World) -> None:
    e = fault_entry(pmap=w.pm, va=0x1000, amap=w.amap, slot=0)
    uvm_fault_upper(e, wired=True)
    uvm_fault_unwire(e)


def _wire_unwire_object(w: World) -> None:
    e = fault_entry(pmap=w.pm, va=0x2000, uobj=w.aobj, offset=0)
    uvm_fault_lower(e, wired=True)
    uvm_fault_unwire(e)


def _km_free(w: World) -> None:
    rw_enter(w.kobj.vmobjlock, RW_WRITE)
    uvm_km_pgremove(w.kobj, w.kpm, 0x8000, 0x8000 + 2 * P, kva_base=0x8000)
    rw_exit(w.kobj.vmobjlock)


register(
    Scenario(
        name="wired-counter",
        cpus=3,
        pages=12,
        summary="wire and unwire an anon and an aobj page (pageq held) while uvm_km_pgremove "
        "frees a wired kernel page (uvm_pageclean drops its wiring) and a pageable, queued one",
        questions=("R3",),
        setup=_wired_counter_setup,
        program=lambda w: [
            lambda: _wire_unwire_anon(w),
            lambda: _km_free(w),
            lambda: _wire_unwire_object(w),
        ],
        expect={
            "openbsd-pre": "holds",
            "seed": "holds",
            "seed-plain-wired": "data-race",
            "seed-no-dequeue-first": "holds",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
    )
)


# ---- fault-vs-free (R5) -------------------------------------------------------------------------


def _fault_vs_free_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=1)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)


def _faulter(w: World) -> None:
    _access_or_fault_anon(w, 0x1000, 0, write=True)
    _access_or_fault_object(w, 0x2000, w.aobj, 0)


def _freer(w: World) -> None:
    amap_unref(w.amap)
    _flush_free(w.aobj)


register(
    Scenario(
        name="fault-vs-free",
        cpus=2,
        pages=12,
        summary="a CPU touches (and if needed faults) an anon page and an aobj page while "
        "another unmaps and frees them: can the page be faulted back in between "
        "pmap_page_protect(PROT_NONE) and uvm_pagefree?",
        questions=("R5",),
        setup=_fault_vs_free_setup,
        program=lambda w: [lambda: _faulter(w), lambda: _freer(w)],
        expect=dict(ALL_PROTOCOLS_HOLD),
    )
)


# ---- flush-vs-fault ---------------------------------------------------------------------------


def _vnode_page(uvn, off: int) -> None:
    """A resident file page (as if read in by uvn_get): allocated, activated, unbusied."""

    rw_enter(uvn.vmobjlock, RW_WRITE)
    pg = uvm_pagealloc(uvn, off, None, 0)
    uvm_lock_pageq()
    uvm_pageactivate(pg)
    uvm_unlock_pageq()
    atomic_clearbits_int(pg, "pg_flags", PG_BUSY | PG_FAKE)
    rw_exit(uvn.vmobjlock)


def _flush_vs_fault_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.uvn = uvn_attach("vnode", npages=3)
    for i in range(3):
        _vnode_page(w.uvn, i * P)
    uvm_fault_lower(fault_entry(pmap=w.pm, va=0x3000, uobj=w.uvn, offset=0))
    uvm_fault_lower(fault_entry(pmap=w.pm, va=0x4000, uobj=w.uvn, offset=P))
    _pmap.pmap_user_access(w.pm, 0x4000, write=True)  # page 1 is dirty
    S.clean_object_page(w.uvn, 0, swap=False)
    S.clean_object_page(w.uvn, 2 * P, swap=False)
    S.deactivate_object_page(w.uvn, 2 * P)


def _flusher(w: World) -> None:
    rw_enter(w.uvn.vmobjlock, RW_WRITE)
    uvn_flush(w.uvn, 0, 3 * P, PGO_CLEANIT | PGO_FREE | PGO_SYNCIO)
    rw_exit(w.uvn.vmobjlock)


def _file_user(w: World) -> None:
    _access_or_fault_object(w, 0x3000, w.uvn, 0)
    _pmap.pmap_user_access(w.pm, 0x4000, write=True)


register(
    Scenario(
        name="flush-vs-fault",
        cpus=2,
        pages=12,
        summary="uvn_flush(PGO_CLEANIT|PGO_FREE|PGO_SYNCIO) cleans and frees a file's pages "
        "(one dirty: paged out under the pageq dance) while a process faults and writes them",
        questions=("R6", "R4"),
        setup=_flush_vs_fault_setup,
        program=lambda w: [lambda: _flusher(w), lambda: _file_user(w)],
        expect={
            "openbsd-pre": "holds",
            "seed": "holds",
            "seed-plain-wired": "holds",
            "seed-no-dequeue-first": "recursion",
            "openbsd-2024-nocache": "holds",
            "seed-fixed": "holds",
        },
    )
)


# ---- aiodone-vs-flush ---------------------------------------------------------------------------


def _aiodone_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=1)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.deactivate_anon(w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.deactivate_object_page(w.aobj, 0)
    # The pagedaemon starts asynchronous pageouts of both dirty pages; they stay busy until
    # the aiodone daemon completes them.
    uvm_pageout(shortage=2)


register(
    Scenario(
        name="aiodone-vs-flush",
        cpus=3,
        pages=12,
        summary="async swap pageout completion (uvm_aio_aiodone_pages) against uao_flush(PGO_FREE) "
        "waiting for the busy aobj page and an exit freeing the busy anon (PG_RELEASED)",
        questions=("R5", "R6"),
        setup=_aiodone_setup,
        program=lambda w: [
            lambda: uvm_aiodone_daemon(1),
            lambda: _flush_free(w.aobj),
            lambda: amap_unref(w.amap),
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        swap={"write_async": True},
    )
)


# ---- smaller harnesses for the remaining hunks ------------------------------------------------


def _swapin_error_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    w.aobj = uao_create("aobj", npages=1)
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.clean_anon(w.amap, 0)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)
    S.clean_object_page(w.aobj, 0)
    S.evict_anon(w.amap, 0)  # the data now lives only on swap
    S.evict_object_page(w.aobj, 0)
    poke(uvm.swap, "read_error", True)


register(
    Scenario(
        name="swapin-error",
        cpus=2,
        pages=12,
        summary="faults on an anon and an aobj page whose data is only on swap, with swap reads "
        "failing: uvmfault_anonget and uao_get free the fresh busy page on their error paths",
        questions=("R7",),
        setup=_swapin_error_setup,
        program=lambda w: [
            lambda: uvm_fault_upper(fault_entry(pmap=w.pm, va=0x1000, amap=w.amap, slot=0)),
            lambda: uvm_fault_lower(fault_entry(pmap=w.pm, va=0x2000, uobj=w.aobj, offset=0)),
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
    )
)


def _bufcache_setup(w: World) -> None:
    w.bobj = uvm_object("bufcache")
    uvm_obj_init(w.bobj, "bufcache", 1)
    pg = uvm_pagealloc(w.bobj, 0, None, 0)
    pg.wire_count = 1
    poke(pg, "hand_wired", True)
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")


def _bufcache_flip_and_free(w: World) -> None:
    uvm_pagerealloc_multi(w.bobj, 0, P, None)
    # vfs_biomem zeroes wire_count before the object is freed.
    pg = w.bobj.memt[0]
    pg.wire_count = 0
    poke(pg, "hand_wired", False)
    uvm_obj_free(w.bobj)


register(
    Scenario(
        name="bufcache-flip",
        cpus=2,
        pages=12,
        summary="the buffer cache flips a buffer's page (uvm_pagerealloc_multi) then frees its "
        "object (uvm_obj_free) while a process faults pages in",
        questions=("R7",),
        setup=_bufcache_setup,
        program=lambda w: [
            lambda: _bufcache_flip_and_free(w),
            lambda: S.fault_anon(w.pm, 0x1000, w.amap, 0),
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
    )
)


def _hibernate_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.aobj = uao_create("aobj", npages=2)
    w.amap = S.new_amap("amap")
    for i in range(2):
        S.fault_object(w.pm, 0x1000 + i * P, w.aobj, i * P)
        S.clean_object_page(w.aobj, i * P)
        S.deactivate_object_page(w.aobj, i * P)


register(
    Scenario(
        name="hibernate-drop",
        cpus=1,
        pages=12,
        summary="uvmpd_drop (hibernate) frees clean inactive object pages walking the queue "
        "unlocked; hibernate runs alone, with every other CPU quiesced",
        questions=("R7",),
        setup=_hibernate_setup,
        program=lambda w: [lambda: uvmpd_drop(uvm.page_inactive)],
        expect=dict(ALL_PROTOCOLS_HOLD),
    )
)


def _encrypted_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.amap = S.new_amap("amap")
    S.fault_anon(w.pm, 0x1000, w.amap, 0)
    S.deactivate_anon(w.amap, 0)


register(
    Scenario(
        name="pageout-encrypted",
        cpus=2,
        pages=16,
        summary="the pagedaemon pages a dirty anon out to encrypted swap (bounce pages freed by "
        "uvm_swap_freepages) while the process touches another page",
        questions=("R7",),
        setup=_encrypted_setup,
        program=lambda w: [
            lambda: uvm_pageout(shortage=1),
            lambda: S.fault_anon(w.pm, 0x2000, w.amap, 1),
        ],
        expect=dict(ALL_PROTOCOLS_HOLD),
        swap={"encrypt": True},
    )
)
