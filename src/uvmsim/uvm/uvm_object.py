"""Objects (sys/uvm/uvm_object.c, uvm_object.h).

`struct uvm_object`: `vmobjlock` is a *pointer* to an rwlock (several objects may share one,
e.g. a tmpfs vnode and its aobj); `memt` is the tree of resident pages by offset [o];
`uo_npages` [o]; `uo_refs` (atomic).  `pgops` says which pager the object uses; the pmap and
buffer-cache "dummy" objects skip the owner-lock assertions.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import KASSERT, RWLock, Shared, SharedObject, atomic_clearbits_int, peek, poke
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvm_page_h import UVM_OBJ_IS_DUMMY


def _objlock(uobj: Any) -> Any:
    return None if UVM_OBJ_IS_DUMMY(uobj) else peek(uobj, "vmobjlock")


class uvm_object(SharedObject):
    """`struct uvm_object` (see the module docstring)."""

    memt = Shared("o", default=dict)
    uo_npages = Shared("o")
    uo_refs = Shared("a")
    vmobjlock = Shared("I", default=None)
    pgops = Shared("I", default="aobj")

    annotation_locks = {"o": _objlock}


def uvm_obj_init(uobj: uvm_object, pgops: str, refs: int, lock: RWLock | None = None) -> None:
    """`uvm_obj_init`: set the pager and references; allocate a lock unless one is shared in."""
    d = uobj.__dict__
    d["pgops"] = pgops
    d["uo_refs"] = refs
    d["vmobjlock"] = (
        lock if lock is not None else RWLock(f"{uobj.name}.vmobjlock", lock_class="vmobjlock")
    )
    uvm.objects.append(uobj)


def uvm_obj_free(uobj: uvm_object) -> None:
    """`uvm_obj_free` (uvm_object.c 1.26/1.27): tear down a buffer-cache object's pages.

    Kernel lock held (asserted; `buf_free_pages` is the caller); the pages were unwired by
    hand and were never queued.  Each page loses PG_TABLED and `uobject` by hand (1.26), is
    cleaned (before the diff inside its own pageq lock round trip, switch
    `obj_free_unlocked`) and goes on a local list for one `uvm_pglistfree` (one fpageq
    acquisition, no magazines).
    """
    from uvmsim.uvm.kernel_lock import KERNEL_ASSERT_LOCKED

    KERNEL_ASSERT_LOCKED()
    from uvmsim.uvm.uvm_page import uvm_pageclean, uvm_pglistfree
    from uvmsim.uvm.uvm_page_h import PG_TABLED, UVM_OBJ_IS_BUFCACHE

    KASSERT(UVM_OBJ_IS_BUFCACHE(uobj), "UVM_OBJ_IS_BUFCACHE(uobj)")
    # The kernel lock keeps the rest of the buffer cache out while the object is torn down;
    # the invariants skip an object in this state.
    poke(uobj, "dying", True)
    pgl: list = []
    for _off, pg in sorted(uobj.memt.items()):
        atomic_clearbits_int(pg, "pg_flags", PG_TABLED)
        pg.uobject = None
        if not uvm.proto.obj_free_unlocked:
            uvm_lock_pageq()
        uvm_pageclean(pg)
        if not uvm.proto.obj_free_unlocked:
            uvm_unlock_pageq()
        pgl.append(pg)
    uvm_pglistfree(pgl)
    # The tree is not emptied: the object is being discarded with it.
    uvm.objects.remove(uobj)
