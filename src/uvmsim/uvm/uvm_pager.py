"""The pager glue (sys/uvm/uvm_pager.c): pageout entry and async completion.

`uvm_pager_put` is entered with the pageq lock held (and the object lock for object pages)
and always returns with the pageq lock released: it builds the cluster under the lock, then
drops it before the I/O.  The model's clusters are the one page asked for.

Async swap writes complete in the aiodone daemon: `uvm_aio_aiodone_pages` takes each page's
owner lock, marks it clean, and unbusies it (freeing it if it was released meanwhile); before
the diff it also held the pageq lock around that (switch `aiodone_unlocked`).
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    MUTEX_ASSERT_LOCKED,
    RW_WRITE,
    Shared,
    SharedObject,
    atomic_setbits_int,
    atomic_sub_int,
    mtx_enter,
    mtx_leave,
    rw_enter,
    rw_exit,
    sleep_on,
    unlocked_read,
    wakeup,
)
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.uvm import uvm, uvm_lock_pageq, uvm_unlock_pageq
from uvmsim.uvm.uvmexp import uvmexp

# uvm_pager.h flags
PGO_CLEANIT = 0x001
PGO_SYNCIO = 0x002
PGO_DEACTIVATE = 0x004
PGO_FREE = 0x008
PGO_ALLPAGES = 0x010
PGO_DOACTCLUST = 0x020
PGO_LOCKED = 0x040
PGO_PDFREECLUST = 0x080
PGO_REALLOCSWAP = 0x100


class aio_queue(SharedObject):
    """`uvm.aio_done`: finished async I/Os waiting for the aiodone daemon (aiodoned_lock)."""

    bufs = Shared("", default=list)


def uvm_pager_init() -> None:
    """A fresh aiodone queue for this world."""
    uvm.aio_done = aio_queue("aio_done")


def uvm_aio_queue(pages: list) -> None:
    """An async write finished (`uvm_aio_biodone`): queue it for the aiodone daemon."""
    mtx_enter(uvm.aiodoned_lock)
    uvm.aio_done.bufs = [*uvm.aio_done.bufs, pages]
    wakeup(uvm.aio_done)
    mtx_leave(uvm.aiodoned_lock)


def uvm_pager_put(uobj: Any, pg: Any, flags: int, slot: int = 0) -> int:
    """`uvm_pager_put`: page `pg` out; pageq held on entry, released on return (always).

    Object pages go to the object's pager (`uvn_put` for vnodes) with the object lock held;
    swap-backed pages (`uobj` None) to swap at `slot`.
    """
    from uvmsim.uvm.uvm_swap import uvm_swap_put

    MUTEX_ASSERT_LOCKED(uvm.pageqlock)
    uvm_unlock_pageq()
    if uobj is not None:
        from uvmsim.uvm.uvm_vnode import uvn_put

        return uvn_put(uobj, [pg], flags)
    return uvm_swap_put(slot, [pg], flags)


def uvm_aio_aiodone_pages(pgs: list, write: bool, error: bool) -> None:
    """`uvm_aio_aiodone_pages`: finish an async swap write of swap-backed pages.

    Per page: take its owner lock (blocking, no mutex held), mark it clean on success, then
    either free the anon whose page was released meanwhile (`uvm_anon_release`, which drops
    the lock) or `uvm_page_unbusy` it (which frees a released object page) and unlock.
    """
    from uvmsim.uvm.uvm_anon import uvm_anon_release
    from uvmsim.uvm.uvm_page import uvm_page_unbusy
    from uvmsim.uvm.uvm_page_h import PG_CLEAN, PG_FAKE, PG_RELEASED, PQ_SWAPBACKED

    unlocked = uvm.proto.aiodone_unlocked
    for pg in pgs:
        KASSERT(pg.pg_flags & PQ_SWAPBACKED, "pg->pg_flags & PQ_SWAPBACKED")
        KASSERT((pg.pg_flags & PG_FAKE) == 0, "(pg->pg_flags & PG_FAKE) == 0")
        # The owner is read before its lock is taken: the busy page cannot change hands.
        uobj = unlocked_read(pg, "uobject")
        slock = uobj.vmobjlock if uobj is not None else unlocked_read(pg, "uanon").an_lock
        rw_enter(slock, RW_WRITE)
        anon_disposed = (pg.pg_flags & PG_RELEASED) != 0
        KASSERT(
            not anon_disposed or pg.uobject is not None or pg.uanon.an_ref == 0,
            "!anon_disposed || pg->uobject != NULL || pg->uanon->an_ref == 0",
        )
        if not unlocked:
            uvm_lock_pageq()
        if write and not error:
            _pmap.pmap_clear_reference(pg)
            _pmap.pmap_clear_modify(pg)
            atomic_setbits_int(pg, "pg_flags", PG_CLEAN)
        if pg.uobject is None and anon_disposed:
            if not unlocked:
                uvm_unlock_pageq()
            uvm_anon_release(pg.uanon)
        else:
            uvm_page_unbusy([pg])
            if not unlocked:
                uvm_unlock_pageq()
            rw_exit(slock)


def uvm_aiodone_daemon(rounds: int = 1) -> None:
    """`uvm_aiodone_daemon`: wait for finished async I/O and complete it, `rounds` times.

    Pages paged out by the pagedaemon leave `uvmexp.paging` here.
    """
    for _ in range(rounds):
        mtx_enter(uvm.aiodoned_lock)
        while not uvm.aio_done.bufs:
            sleep_on(uvm.aio_done, uvm.aiodoned_lock, "aiodoned")
            mtx_enter(uvm.aiodoned_lock)
        bufs = uvm.aio_done.bufs
        uvm.aio_done.bufs = []
        mtx_leave(uvm.aiodoned_lock)
        for pages in bufs:
            uvm_aio_aiodone_pages(pages, True, False)
            atomic_sub_int(uvmexp, "paging", len(pages))
