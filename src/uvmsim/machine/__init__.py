"""The simulated multiprocessor (knows nothing of UVM).

Model code imports its primitives from here, named as in the kernel, so it reads like the C it
mirrors: `mtx_enter(uvm.pageqlock)`, `rw_enter(uobj.vmobjlock, RW_WRITE)`,
`atomic_dec_int(uvmexp, "wired")`, `KASSERT(pg.wire_count == 0, "pg->wire_count == 0")`.
"""

from uvmsim.machine.atomic import (
    atomic_add_int,
    atomic_cas,
    atomic_clearbits_int,
    atomic_dec_int,
    atomic_dec_int_nv,
    atomic_inc_int,
    atomic_load,
    atomic_rmw_ordered,
    atomic_setbits_int,
    atomic_sub_int,
)
from uvmsim.machine.core import (
    CPU,
    Analyses,
    Execution,
    KernelFailure,
    Machine,
    curcpu,
    kernel_work,
    running,
)
from uvmsim.machine.engines import Engine, RandomEngine, ReplayEngine, RoundRobinEngine
from uvmsim.machine.failure import Failure, InputError
from uvmsim.machine.kassert import KASSERT, panic
from uvmsim.machine.mutex import (
    MUTEX_ASSERT_LOCKED,
    MUTEX_ASSERT_UNLOCKED,
    Mutex,
    mtx_enter,
    mtx_enter_try,
    mtx_leave,
    mtx_owned,
)
from uvmsim.machine.rwlock import (
    EBUSY,
    RW_NOSLEEP,
    RW_READ,
    RW_WRITE,
    RWLock,
    rw_enter,
    rw_exit,
    rw_held_by_me,
    rw_lock_held,
    rw_read_held,
    rw_write_held,
)
from uvmsim.machine.shared import Shared, SharedObject, peek, poke, racy_read, unlocked_read
from uvmsim.machine.sites import call_site, format_site, inline
from uvmsim.machine.sleepq import sleep_on, wakeup
from uvmsim.machine.spl import IPL_BIO, IPL_NONE, IPL_VM, splassert, splbio, splvm, splx

__all__ = [
    "CPU",
    "EBUSY",
    "IPL_BIO",
    "IPL_NONE",
    "IPL_VM",
    "KASSERT",
    "MUTEX_ASSERT_LOCKED",
    "MUTEX_ASSERT_UNLOCKED",
    "RW_NOSLEEP",
    "RW_READ",
    "RW_WRITE",
    "Analyses",
    "Engine",
    "Execution",
    "Failure",
    "InputError",
    "KernelFailure",
    "Machine",
    "Mutex",
    "RWLock",
    "RandomEngine",
    "ReplayEngine",
    "RoundRobinEngine",
    "Shared",
    "SharedObject",
    "atomic_add_int",
    "atomic_cas",
    "atomic_clearbits_int",
    "atomic_dec_int",
    "atomic_dec_int_nv",
    "atomic_inc_int",
    "atomic_load",
    "atomic_rmw_ordered",
    "atomic_setbits_int",
    "atomic_sub_int",
    "call_site",
    "curcpu",
    "format_site",
    "inline",
    "kernel_work",
    "mtx_enter",
    "mtx_enter_try",
    "mtx_leave",
    "mtx_owned",
    "panic",
    "peek",
    "poke",
    "racy_read",
    "running",
    "rw_enter",
    "rw_exit",
    "rw_held_by_me",
    "rw_lock_held",
    "rw_read_held",
    "rw_write_held",
    "sleep_on",
    "splassert",
    "splbio",
    "splvm",
    "splx",
    "unlocked_read",
    "wakeup",
]
