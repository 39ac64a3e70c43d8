"""Interrupt priority levels: `splvm()`/`splx()` as far as the per-CPU magazines need them.

The per-CPU page magazines have no lock: only their own CPU touches them, at raised IPL, so an
interrupt that frees a page on the same CPU cannot interleave.  Only the order of the levels
matters here (as on amd64: BIO < NET < TTY < VM < SCHED < HIGH); changing the level is CPU-local
and not a visible operation.
"""

from __future__ import annotations

from uvmsim.machine import core as _core
from uvmsim.machine import failure as fk
from uvmsim.machine import sites as _sites

IPL_NONE = 0
IPL_SOFTCLOCK = 1
IPL_SOFTNET = 2
IPL_BIO = 3
IPL_NET = 4
IPL_TTY = 5
IPL_VM = 6
IPL_AUDIO = 7
IPL_CLOCK = 8
IPL_SCHED = 9
IPL_HIGH = 10

IPL_NAMES = {
    IPL_NONE: "IPL_NONE",
    IPL_SOFTCLOCK: "IPL_SOFTCLOCK",
    IPL_SOFTNET: "IPL_SOFTNET",
    IPL_BIO: "IPL_BIO",
    IPL_NET: "IPL_NET",
    IPL_TTY: "IPL_TTY",
    IPL_VM: "IPL_VM",
    IPL_AUDIO: "IPL_AUDIO",
    IPL_CLOCK: "IPL_CLOCK",
    IPL_SCHED: "IPL_SCHED",
    IPL_HIGH: "IPL_HIGH",
}


def splraise(level: int) -> int:
    """Raise the current CPU's IPL to at least `level`; return the previous level."""
    cpu = _core.curcpu()
    old = cpu.ipl
    if level > old:
        cpu.ipl = level
    return old


def splvm() -> int:
    """`splvm()`: block interrupts that may allocate or free pages; return the old level."""
    return splraise(IPL_VM)


def splbio() -> int:
    """`splbio()`: block disk interrupts; return the old level."""
    return splraise(IPL_BIO)


def splx(level: int) -> None:
    """`splx(s)`: restore a level saved by an spl call.

    Lowering below the level a held mutex needs would let an interrupt on this CPU take that
    mutex again: the kernel forbids it, and so does the machine.
    """
    cpu = _core.curcpu()
    for m in cpu.mutexes:
        if level < m.ipl:
            _core.fail(
                fk.PANIC,
                f"panic: splx({IPL_NAMES.get(level, level)}) below {IPL_NAMES.get(m.ipl, m.ipl)} "
                f"while holding mtx {m.name}",
            )
    cpu.ipl = level


def splassert(level: int) -> None:
    """`splassert(level)`: panic unless the current CPU runs at `level` or above."""
    cpu = _core.curcpu()
    if cpu.ipl < level:
        _core.fail(
            fk.PANIC,
            f"panic: splassert: want {IPL_NAMES.get(level, level)} "
            f"have {IPL_NAMES.get(cpu.ipl, cpu.ipl)}",
            [_sites.call_site()],
        )


_sites.look_through(globals())  # call sites look through this module's frames
