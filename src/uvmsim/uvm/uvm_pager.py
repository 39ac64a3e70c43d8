"""The pager glue (sys/uvm/uvm_pager.c 1.93 before the seed diff, 1.94 with it).

`uvm_pager_put` is entered with the pageq lock held (and the object lock for object pages)
and always returns with the pageq lock released.  Object pages go to the object's pager
(`uvn_put`) as a cluster of the one page asked for (no `pgo_mk_pcluster` in the model);
swap-backed pages come as the cluster the pagedaemon built.  A failed pageout drops the
cluster (`uvm_pager_dropcluster`) only when it holds more than one page or no page of
interest: a one-page cluster with a page of interest keeps its fresh swap slot (the path of
finding F2).

Async swap writes complete in the aiodone daemon (`uvm_aiodone_daemon`): under the kernel
lock, at splbio, each buffer is finished by `uvm_aio_aiodone`: a bounced write (PQ_ENCRYPT)
only frees its bounce pages; otherwise `uvm_aio_aiodone_pages` takes each page's owner lock,
marks it clean and unbusies it (freeing it if it was released meanwhile); before the diff it
also held the pageq lock around that (switch `aiodone_unlocked`).  Then, with the kernel lock
dropped, the daemon takes the pages written for the pagedaemon out of `uvmexp.paging` under
the fpageq lock and wakes the pagedaemon or those waiting for memory.
"""

from __future__ import annotations

from typing import Any

from uvmsim.machine import (
    KASSERT,
    MUTEX_ASSERT_LOCKED,
    RW_WRITE,
    Shared,
    SharedObject,
    atomic_clearbits_int,
    atomic_setbits_int,
    atomic_sub_int,
    mtx_enter,
    mtx_leave,
    rw_exit,
    rw_write_held,
    sleep_on,
    splbio,
    splx,
    unlocked_read,
    wakeup,
)
from uvmsim.uvm import pmap as _pmap
from uvmsim.uvm.kernel_lock import KERNEL_LOCK, KERNEL_UNLOCK, kl_rw_enter
from uvmsim.uvm.uvm import (
    current_pageq_lock,
    uvm,
    uvm_lock_fpageq,
    uvm_lock_pageq,
    uvm_unlock_fpageq,
    uvm_unlock_pageq,
)
from uvmsim.uvm.uvm_swap import PGO_SYNCIO as PGO_SYNCIO  # uvm_pager.h's, re-exported
from uvmsim.uvm.uvm_swap import (
    VM_PAGER_AGAIN,
    VM_PAGER_OK,
    VM_PAGER_PEND,
    swapbuf,
    uvm_swap_free,
    uvm_swap_freepages,
    uvm_swap_markbad,
    uvm_swap_put,
)
from uvmsim.uvm.uvmexp import uvmexp

# uvm_pager.h flags
PGO_CLEANIT = 0x001
PGO_DEACTIVATE = 0x004
PGO_FREE = 0x008
PGO_ALLPAGES = 0x010
PGO_DOACTCLUST = 0x020
PGO_LOCKED = 0x040
PGO_PDFREECLUST = 0x080
PGO_REALLOCSWAP = 0x100
PGO_NOWAIT = 0x200


class _DontCare:
    """`PGO_DONTCARE`: a slot of a pgo_get page array the pager must not look at."""

    def __repr__(self) -> str:
        return "PGO_DONTCARE"

    def __reduce__(self) -> str:
        return "PGO_DONTCARE"


PGO_DONTCARE = _DontCare()


class aio_queue(SharedObject):
    """`uvm.aio_done`: finished async I/Os waiting for the aiodone daemon (aiodoned_lock)."""

    bufs = Shared("", default=list)


def uvm_pager_init() -> None:
    """A fresh aiodone queue for this world."""
    uvm.aio_done = aio_queue("aio_done")


def uvm_aio_biodone(bp: swapbuf) -> None:
    """`uvm_aio_biodone` (uvm_pager.c 1.94): the interrupt-time end of an async I/O.

    Queues the buffer for the aiodone daemon under `aiodoned_lock` and wakes it.
    """
    mtx_enter(uvm.aiodoned_lock)
    uvm.aio_done.bufs = [*uvm.aio_done.bufs, bp]
    wakeup(uvm.aio_done)
    mtx_leave(uvm.aiodoned_lock)


def _owner_lock(pg: Any) -> Any:
    """The owner lock of a busy swap-backed page, read without it (PG_BUSY pins the owner)."""
    from uvmsim.uvm.uvm_page_h import PQ_ANON

    if pg.pg_flags & PQ_ANON:
        return unlocked_read(pg, "uanon").an_lock
    return unlocked_read(pg, "uobject").vmobjlock


def uvm_pager_put(uobj: Any, pg: Any, flags: int, start: int = 0, pps: list | None = None) -> int:
    """`uvm_pager_put` (uvm_pager.c 1.94): page out `pg` (object) or the cluster `pps` (swap).

    Pageq held on entry, released on return (always).  Object pages go to the object's
    pager with the object lock held; swap-backed pages (`uobj` None) to swap from slot
    `start`.  On OK with PGO_PDFREECLUST the other pages of the cluster are unbusied and
    marked clean.  On a failure with more than one page or no page of interest, the cluster
    is dropped with its slots zeroed (PGO_REALLOCSWAP), the page of interest's slot is
    zeroed under its owner lock, and the slots are freed (AGAIN) or marked bad (errors).
    With one page of interest alone nothing of this runs: it keeps its slot.
    With `lru_shards` the pageq lock held is the scanned shard's, and `uvn_flush` holds none.
    """
    held = current_pageq_lock()
    if held is not None:
        MUTEX_ASSERT_LOCKED(held)
    if uobj is not None:
        pps = [pg]  # no pgo_mk_pcluster in the model
        swblk = 0
    else:
        assert pps is not None
        swblk = start
    uvm_unlock_pageq()
    if uobj is not None:
        from uvmsim.uvm.uvm_vnode import uvn_put

        result = uvn_put(uobj, pps, flags)
    else:
        result = uvm_swap_put(swblk, pps, flags)
    npages = len(pps)
    if result in (VM_PAGER_PEND, VM_PAGER_OK):
        if result == VM_PAGER_OK and flags & PGO_PDFREECLUST and (npages > 1 or pg is None):
            uvm_pager_dropcluster(uobj, pg, pps, PGO_PDFREECLUST)
        return result
    if npages > 1 or pg is None:
        uvm_pager_dropcluster(uobj, pg, pps, PGO_REALLOCSWAP)
        if uobj is None:
            if pg is not None:
                from uvmsim.uvm.uvm_aobj import uao_set_swslot
                from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PQ_ANON

                slock = _owner_lock(pg)
                kl_rw_enter(slock, RW_WRITE)
                if pg.pg_flags & PQ_ANON:
                    pg.uanon.an_swslot = 0
                else:
                    uao_set_swslot(pg.uobject, pg.offset // PAGE_SIZE, 0)
                rw_exit(slock)
            if result == VM_PAGER_AGAIN:
                uvm_swap_free(swblk, npages)
            else:
                uvm_swap_markbad(swblk, npages)
    return result


def uvm_pager_dropcluster(uobj: Any, pg: Any, pps: list, flags: int) -> None:
    """`uvm_pager_dropcluster` (uvm_pager.c 1.94): unbusy the cluster pages other than `pg`.

    Swap-backed pages are taken one by one under their owner lock (blocking; a thread
    holding the kernel lock sleeps without it).  PGO_REALLOCSWAP zeroes their slots; a
    released anon is freed (`uvm_anon_release`, which unlocks); others lose
    BUSY|WANTED|FAKE|RELEASED; PGO_PDFREECLUST (a successful pageout) also clears their
    referenced and modified bits and marks them clean.
    """
    from uvmsim.uvm.uvm_anon import uvm_anon_release
    from uvmsim.uvm.uvm_aobj import uao_set_swslot
    from uvmsim.uvm.uvm_page_h import (
        PAGE_SIZE,
        PG_BUSY,
        PG_CLEAN,
        PG_FAKE,
        PG_RELEASED,
        PG_WANTED,
        PQ_ANON,
    )

    KASSERT(uobj is None or rw_write_held(uobj.vmobjlock), "uobj == NULL || rw_write_held")
    for p in pps:
        if p is pg or p is None:
            continue
        slock = None
        if uobj is None:
            slock = _owner_lock(p)
            kl_rw_enter(slock, RW_WRITE)
            if flags & PGO_REALLOCSWAP:
                if p.pg_flags & PQ_ANON:
                    p.uanon.an_swslot = 0
                else:
                    uao_set_swslot(p.uobject, p.offset // PAGE_SIZE, 0)
        if p.pg_flags & PG_WANTED:
            wakeup(p)
        if p.pg_flags & PG_RELEASED and p.pg_flags & PQ_ANON:
            uvm_anon_release(p.uanon)
            continue
        atomic_clearbits_int(p, "pg_flags", PG_BUSY | PG_WANTED | PG_FAKE | PG_RELEASED)
        if flags & PGO_PDFREECLUST:
            _pmap.pmap_clear_reference(p)
            _pmap.pmap_clear_modify(p)
            atomic_setbits_int(p, "pg_flags", PG_CLEAN)
        if slock is not None:
            rw_exit(slock)


def uvm_aio_aiodone_pages(pgs: list, write: bool, error: bool) -> None:
    """`uvm_aio_aiodone_pages` (uvm_pager.c 1.93/1.94): finish an unbounced async swap write.

    Per page: take its owner lock (blocking: the aiodone daemon holds the kernel lock and
    sleeps without it), mark it clean on success, then either free the anon whose page was
    released meanwhile (`uvm_anon_release`, which drops the lock) or `uvm_page_unbusy` it
    (which frees a released object page) and unlock.  Before the diff the pageq lock was
    held around the update and the unbusy (switch `aiodone_unlocked`).  On error the slots
    are marked bad afterwards.
    """
    from uvmsim.uvm.uvm_anon import uvm_anon_release
    from uvmsim.uvm.uvm_aobj import uao_find_swslot
    from uvmsim.uvm.uvm_page import uvm_page_unbusy
    from uvmsim.uvm.uvm_page_h import PAGE_SIZE, PG_CLEAN, PG_FAKE, PG_RELEASED, PQ_SWAPBACKED

    unlocked = uvm.proto.aiodone_unlocked
    swslot = 0
    if error:
        pg = pgs[0]
        uobj = unlocked_read(pg, "uobject")
        if uobj is not None:
            swslot = uao_find_swslot(uobj, unlocked_read(pg, "offset") // PAGE_SIZE)
        else:
            swslot = unlocked_read(unlocked_read(pg, "uanon"), "an_swslot")
    for pg in pgs:
        KASSERT(pg.pg_flags & PQ_SWAPBACKED, "pg->pg_flags & PQ_SWAPBACKED")
        KASSERT((pg.pg_flags & PG_FAKE) == 0, "(pg->pg_flags & PG_FAKE) == 0")
        # The owner is read before its lock is taken: the busy page cannot change hands.
        uobj = unlocked_read(pg, "uobject")
        slock = uobj.vmobjlock if uobj is not None else unlocked_read(pg, "uanon").an_lock
        kl_rw_enter(slock, RW_WRITE)
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
    if error:
        uvm_swap_markbad(swslot, len(pgs))


def uvm_aio_aiodone(bp: swapbuf) -> None:
    """`uvm_aio_aiodone` (uvm_pager.c 1.94): finish one async buffer; splbio, kernel lock.

    A buffer whose first page has PQ_ENCRYPT carries bounce pages: they are freed
    (`uvm_swap_freepages`) and nothing else happens (the originals were unbusied before
    the write).  Otherwise its pages are the originals: `uvm_aio_aiodone_pages`.
    """
    from uvmsim.uvm.uvm_page_h import PQ_ENCRYPT

    pgs = bp.pages
    if pgs[0].pg_flags & PQ_ENCRYPT:
        uvm_swap_freepages(pgs)
        return
    uvm_aio_aiodone_pages(pgs, True, bool(bp.b_error))


def uvm_aiodone_daemon(rounds: int = 1, idle_return: bool = False) -> None:
    """`uvm_aiodone_daemon` (uvm_pdaemon.c 1.134/1.137): `rounds` batches of finished I/O.

    With `idle_return` a round that finds the done list empty ends the run instead of
    sleeping on it: the daemon goes back to its sleep with nothing to do, which a closed
    program would otherwise report as a deadlock at its end (generated programs).

    The daemon runs without the kernel lock (it drops it at start) until it has taken the
    whole done list under `aiodoned_lock`; then it completes each buffer with the kernel
    lock held and at splbio, drops the kernel lock, and under the fpageq lock subtracts
    the pages written for the pagedaemon (B_PDAEMON) from `uvmexp.paging` and wakes the
    pagedaemon (memory still below the kernel reserve) or those sleeping on `&uvmexp.free`.
    """
    for _ in range(rounds):
        mtx_enter(uvm.aiodoned_lock)
        if idle_return and not uvm.aio_done.bufs:
            mtx_leave(uvm.aiodoned_lock)
            return
        while not uvm.aio_done.bufs:
            sleep_on(uvm.aio_done, uvm.aiodoned_lock, "aiodoned")
            mtx_enter(uvm.aiodoned_lock)
        bufs = uvm.aio_done.bufs
        uvm.aio_done.bufs = []
        mtx_leave(uvm.aiodoned_lock)
        npages = 0
        KERNEL_LOCK()
        for bp in bufs:
            if bp.pdaemon:
                npages += bp.npages
            s = splbio()
            uvm_aio_aiodone(bp)
            splx(s)
        KERNEL_UNLOCK()
        uvm_lock_fpageq()
        atomic_sub_int(uvmexp, "paging", npages)
        if uvmexp.free <= uvmexp.reserve_kernel:
            wakeup(uvm.pagedaemon_chan)
        else:
            wakeup(uvmexp)
        uvm_unlock_fpageq()
