"""Control harnesses: the review's proof that a check can fire (and can stay silent).

A "holds" from a check that could never fire proves nothing.  Each pair here breaks, in the
harness and nowhere in the model, exactly the rule a review question relies on, next to a
twin that keeps it:

- R1 (two CPUs in uvm_pageclean on one page): a page with no owner passes the owner-lock
  assertions whoever frees it; only its user's discipline frees it once.
  `control-double-free` lets two CPUs free one such page with nothing held;
  `control-serialized-free` serializes them and frees it once.
- R5 (a fault maps the page between pmap_page_protect(NONE) and uvm_pagefree): the window is
  closed by the owner lock held across both.  `control-fault-in-free-window` drops the object
  lock between the two (as no kernel path does); `control-free-holds-owner` keeps it.

Expectations are per protocol (the rule broken or kept does not depend on the diff), so every
protocol expects the same outcome.
"""

from __future__ import annotations

from uvmsim.machine import RW_WRITE, Mutex, mtx_enter, mtx_leave, rw_enter, rw_exit
from uvmsim.machine.spl import IPL_NONE
from uvmsim.protocols import PROTOCOLS
from uvmsim.scenarios import setup as S  # noqa: N812
from uvmsim.scenarios.base import Scenario, World, register
from uvmsim.scenarios.catalog import _vnode_page as resident_vnode_page
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_aobj import uao_create
from uvmsim.uvm.uvm_fault import fault_entry, uvm_fault_lower
from uvmsim.uvm.uvm_page import uvm_pagefree, uvm_pagelookup
from uvmsim.uvm.uvm_page_h import PAGE_SIZE
from uvmsim.uvm.uvm_pager import PGO_FREE
from uvmsim.uvm.uvm_pmemrange import UVM_PLA_NOWAIT, uvm_pglistalloc
from uvmsim.uvm.uvm_vnode import uvn_attach, uvn_flush

P = PAGE_SIZE


def _on_every_protocol(outcome: str) -> dict[str, str]:
    return dict.fromkeys(PROTOCOLS, outcome)


# ---- R1: two CPUs freeing one ownerless page -----------------------------------------------------


def _ownerless_setup(w: World) -> None:
    # A page with neither object nor anon (as uvm_pglistalloc and the pmaps hand out): the
    # owner-lock assertions let any CPU free it, so only its user's discipline (one free, by
    # whoever allocated it) keeps two CPUs out of uvm_pageclean on it.
    pgl: list = []
    uvm_pglistalloc(1, UVM_PLA_NOWAIT, pgl)
    w.pg = pgl[0]
    w.lock = Mutex("control_owner", IPL_NONE)
    w.freed = False


def _free_unserialized(w: World) -> None:
    uvm_pagefree(w.pg)  # nothing tells a CPU that another is freeing it already


def _free_serialized(w: World) -> None:
    # Under the lock, the second CPU finds the page already freed; `w.freed` is read and
    # written only with the lock held.
    mtx_enter(w.lock)
    if not w.freed:
        w.freed = True
        uvm_pagefree(w.pg)
    mtx_leave(w.lock)


register(
    Scenario(
        name="control-double-free",
        cpus=2,
        pages=8,
        summary="control for R1: two CPUs free one ownerless page with nothing held (the "
        "owner-lock assertions cannot object): the R1 check must fire",
        questions=(),
        setup=_ownerless_setup,
        program=lambda w: [lambda: _free_unserialized(w), lambda: _free_unserialized(w)],
        expect=_on_every_protocol("fails"),
        apparatus=True,
    )
)

register(
    Scenario(
        name="control-serialized-free",
        cpus=2,
        pages=8,
        summary="control for R1: the same two CPUs, serialized by one lock, the page freed "
        "once: the R1 check must stay silent",
        questions=(),
        setup=_ownerless_setup,
        program=lambda w: [lambda: _free_serialized(w), lambda: _free_serialized(w)],
        expect=_on_every_protocol("holds"),
        apparatus=True,
    )
)


# ---- R5: a fault in the window between pmap_page_protect(NONE) and uvm_pagefree ------------------


def _window_setup(w: World) -> None:
    w.pm = S.new_pmap("proc")
    w.aobj = uao_create("aobj", npages=1)
    S.fault_object(w.pm, 0x2000, w.aobj, 0)


def _free_object_page(w: World, hold_across: bool) -> None:
    lock = w.aobj.vmobjlock
    rw_enter(lock, RW_WRITE)
    pg = uvm_pagelookup(w.aobj, 0)
    _pmap.pmap_page_protect(pg, _pmap.PROT_NONE)
    if not hold_across:
        rw_exit(lock)  # the window no kernel path opens without busying the page
        rw_enter(lock, RW_WRITE)
    # As the protocol's callers do: before the diff they hold the pageq lock around it.
    callers_lock = not uvm.proto.pageclean_no_assert
    if callers_lock:
        uvm_lock_pageq()
    uvm_pagefree(pg)
    if callers_lock:
        uvm_unlock_pageq()
    rw_exit(lock)


def _fault_object_page(w: World) -> None:
    if not _pmap.pmap_user_access(w.pm, 0x2000, False):
        uvm_fault_lower(fault_entry(pmap=w.pm, va=0x2000, uobj=w.aobj, offset=0))


register(
    Scenario(
        name="control-fault-in-free-window",
        cpus=2,
        pages=8,
        summary="control for R5: a free that drops the object lock between "
        "pmap_page_protect(NONE) and uvm_pagefree, racing a fault on the page: the R5 check "
        "must fire",
        questions=(),
        setup=_window_setup,
        program=lambda w: [lambda: _free_object_page(w, False), lambda: _fault_object_page(w)],
        expect=_on_every_protocol("fails"),
        apparatus=True,
    )
)

register(
    Scenario(
        name="control-free-holds-owner",
        cpus=2,
        pages=8,
        summary="control for R5: the same free holding the object lock across both, racing "
        "the same fault: the R5 check must stay silent",
        questions=(),
        setup=_window_setup,
        program=lambda w: [lambda: _free_object_page(w, True), lambda: _fault_object_page(w)],
        expect=_on_every_protocol("holds"),
        apparatus=True,
    )
)


# ---- R4: one flush of 16 clean file pages, on one CPU -------------------------------------------

FLUSH_PAGES = 16


def _flush_setup(w: World) -> None:
    w.uvn = uvn_attach("vnode", npages=FLUSH_PAGES)
    for i in range(FLUSH_PAGES):
        resident_vnode_page(w.uvn, i * P)


def _flush_all(w: World) -> None:
    rw_enter(w.uvn.vmobjlock, RW_WRITE)
    uvn_flush(w.uvn, 0, FLUSH_PAGES * P, PGO_FREE)
    rw_exit(w.uvn.vmobjlock)


register(
    Scenario(
        name="measure-flush",
        cpus=1,
        pages=64,
        summary=f"R4's measurement: one uvn_flush(PGO_FREE) of {FLUSH_PAGES} clean resident "
        "file pages, alone on one CPU, so that every fpageq round trip of its frees is counted",
        questions=("R4",),
        setup=_flush_setup,
        program=lambda w: [lambda: _flush_all(w)],
        expect=_on_every_protocol("holds"),
        apparatus=True,
    )
)
