"""Control harnesses: the review's proof that a check can fire (and can stay silent).

A "holds" from a check that could never fire proves nothing.  Each pair here breaks, in the
harness and nowhere in the model, exactly the rule a review question relies on, next to a
twin that keeps it:

- R1 (two CPUs in uvm_pageclean on one page): buffer-cache pages skip the owner-lock
  assertions (their object is a dummy); the kernel lock is what keeps two CPUs out of
  `uvm_obj_free` on one buffer object.  `control-bufcache-double-free` lets two CPUs tear
  the same buffer object down with nothing held; `control-bufcache-serialized` holds a lock
  around each, as the kernel lock does.
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
from uvmsim.uvm.uvm_aobj import uao_create
from uvmsim.uvm.uvm_fault import fault_entry, uvm_fault_lower
from uvmsim.uvm.uvm_object import uvm_obj_free, uvm_obj_init, uvm_object
from uvmsim.uvm.uvm_page import uvm_pagealloc, uvm_pagefree, uvm_pagelookup
from uvmsim.uvm.uvm_page_h import PAGE_SIZE
from uvmsim.uvm.uvm_pager import PGO_FREE
from uvmsim.uvm.uvm_vnode import uvn_attach, uvn_flush

P = PAGE_SIZE


def _on_every_protocol(outcome: str) -> dict[str, str]:
    return dict.fromkeys(PROTOCOLS, outcome)


# ---- R1: two CPUs tearing one buffer object down ----------------------------------------------


def _bufcache_setup(w: World) -> None:
    w.bobj = uvm_object("bufcache")
    uvm_obj_init(w.bobj, "bufcache", 1)
    for i in range(2):
        uvm_pagealloc(w.bobj, i * P, None, 0)
    w.biglock = Mutex("control_kernel_lock", IPL_NONE)


def _free_buffer_serialized(w: World) -> None:
    # Under the lock, the second CPU finds the object already torn down (the buffer code
    # knows, under the kernel lock, that its buffer is gone); `w.freed` is read and written
    # only with the lock held.
    mtx_enter(w.biglock)
    if not w.freed:
        w.freed = True
        uvm_obj_free(w.bobj)
    mtx_leave(w.biglock)


def _free_buffer_unserialized(w: World) -> None:
    # No lock, so nothing tells a CPU that another is tearing the object down already: the
    # rule the kernel lock enforces, broken.
    uvm_obj_free(w.bobj)


def _double_free_setup(w: World) -> None:
    _bufcache_setup(w)
    w.freed = False


register(
    Scenario(
        name="control-bufcache-double-free",
        cpus=2,
        pages=8,
        summary="control for R1: two CPUs tear down one buffer-cache object with no lock "
        "held (buffer pages skip the owner-lock assertions): the R1 check must fire",
        questions=(),
        setup=_double_free_setup,
        program=lambda w: [
            lambda: _free_buffer_unserialized(w),
            lambda: _free_buffer_unserialized(w),
        ],
        expect=_on_every_protocol("fails"),
        apparatus=True,
    )
)

register(
    Scenario(
        name="control-bufcache-serialized",
        cpus=2,
        pages=8,
        summary="control for R1: the same two CPUs, serialized by one lock as the kernel lock "
        "serializes the buffer cache: the R1 check must stay silent",
        questions=(),
        setup=_double_free_setup,
        program=lambda w: [lambda: _free_buffer_serialized(w), lambda: _free_buffer_serialized(w)],
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
        rw_exit(lock)  # the window no kernel path opens
        rw_enter(lock, RW_WRITE)
    uvm_pagefree(pg)
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
