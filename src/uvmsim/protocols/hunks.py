"""The 26 hunks of the seed diff, in diff order: file, hunk header, function, what changes.

`tests/uvm/test_protocols.py` checks the headers against ../shared/seed (and against the
copy committed in tests/uvm/seed-hunk-headers.txt when ../shared is absent).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hunk:
    """One hunk of the seed diff: file, hunk header, function, what it changes."""

    number: int
    file: str
    header: str
    function: str
    change: str


# The 26 hunks of ../shared/seed/pageqlock-diff-reflowed.txt, in diff order.
HUNKS: tuple[Hunk, ...] = (
    Hunk(
        1,
        "uvm/uvm_anon.c",
        "@@ -106,14 +106,10 @@",
        "uvm_anfree_list",
        "drop the pageq lock around uvm_pageclean (pgl case) and uvm_pagefree",
    ),
    Hunk(
        2,
        "uvm/uvm_anon.c",
        "@@ -249,10 +245,8 @@",
        "uvm_anon_release",
        "drop the pageq lock around pmap_page_protect + uvm_pagefree",
    ),
    Hunk(
        3,
        "uvm/uvm_aobj.c",
        "@@ -839,9 +839,7 @@",
        "uao_detach",
        "drop the pageq lock around uvm_pagefree",
    ),
    Hunk(
        4,
        "uvm/uvm_aobj.c",
        "@@ -957,10 +955,7 @@",
        "uao_flush",
        "drop the pageq lock around uvm_pagefree (PGO_FREE)",
    ),
    Hunk(
        5,
        "uvm/uvm_aobj.c",
        "@@ -1179,9 +1174,7 @@",
        "uao_get",
        "drop the pageq lock around uvm_pagefree (swap-in error path)",
    ),
    Hunk(
        6,
        "uvm/uvm_fault.c",
        "@@ -417,9 +417,7 @@",
        "uvmfault_anonget",
        "drop the pageq lock around uvm_pagefree (page-in error path)",
    ),
    Hunk(
        7,
        "uvm/uvm_km.c",
        "@@ -270,9 +270,7 @@",
        "uvm_km_pgremove",
        "drop the pageq lock around uvm_pagefree",
    ),
    Hunk(
        8,
        "uvm/uvm_object.c",
        "@@ -238,9 +238,7 @@",
        "uvm_obj_free",
        "drop the pageq lock around uvm_pageclean",
    ),
    Hunk(
        9,
        "uvm/uvm_page.c",
        "@@ -863,9 +863,7 @@",
        "uvm_pagerealloc_multi",
        "drop the pageq lock around uvm_pagefree",
    ),
    Hunk(
        10,
        "uvm/uvm_page.c",
        "@@ -947,7 +945,6 @@",
        "uvm_pageclean (comment)",
        "remove 'caller must lock page queues if pg is managed' from the comment",
    ),
    Hunk(
        11,
        "uvm/uvm_page.c",
        "@@ -955,10 +952,6 @@",
        "uvm_pageclean",
        "remove MUTEX_ASSERT_LOCKED(&uvm.pageqlock) for tabled or queued pages",
    ),
    Hunk(
        12,
        "uvm/uvm_page.c",
        "@@ -982,14 +975,18 @@",
        "uvm_pageclean",
        "take the pageq lock around uvm_pagedequeue only if PQ_ACTIVE|PQ_INACTIVE; "
        "atomic_dec_int(&uvmexp.wired)",
    ),
    Hunk(
        13,
        "uvm/uvm_page.c",
        "@@ -1235,7 +1232,7 @@",
        "uvm_pagewire",
        "atomic_inc_int(&uvmexp.wired)",
    ),
    Hunk(
        14,
        "uvm/uvm_page.c",
        "@@ -1255,7 +1252,7 @@",
        "uvm_pageunwire",
        "atomic_dec_int(&uvmexp.wired)",
    ),
    Hunk(
        15,
        "uvm/uvm_pager.c",
        "@@ -761,7 +761,6 @@",
        "uvm_aio_aiodone_pages",
        "do not take the pageq lock per page",
    ),
    Hunk(
        16,
        "uvm/uvm_pager.c",
        "@@ -777,11 +776,9 @@",
        "uvm_aio_aiodone_pages",
        "do not drop it before uvm_anon_release / after uvm_page_unbusy",
    ),
    Hunk(
        17,
        "uvm/uvm_pdaemon.c",
        "@@ -596,6 +596,8 @@",
        "uvmpd_scan_inactive",
        "dequeue a clean page before uvm_pagefree, to prevent lock recursion",
    ),
    Hunk(
        18,
        "uvm/uvm_pdaemon.c",
        "@@ -853,6 +855,8 @@",
        "uvmpd_scan_inactive",
        "dequeue a released page before uvm_pagefree, to prevent lock recursion",
    ),
    Hunk(
        19,
        "uvm/uvm_pdaemon.c",
        "@@ -1055,7 +1059,6 @@",
        "uvmpd_drop",
        "do not take the pageq lock after the object lock",
    ),
    Hunk(
        20,
        "uvm/uvm_pdaemon.c",
        "@@ -1071,7 +1074,6 @@",
        "uvmpd_drop",
        "do not drop it before rw_exit",
    ),
    Hunk(
        21,
        "uvm/uvm_swap.c",
        "@@ -395,10 +395,8 @@",
        "uvm_swap_freepages",
        "drop the pageq lock around the uvm_pagefree loop",
    ),
    Hunk(
        22,
        "uvm/uvm_vnode.c",
        "@@ -602,13 +602,11 @@",
        "uvn_flush",
        "remove the local 'dead' pglist",
    ),
    Hunk(
        23,
        "uvm/uvm_vnode.c",
        "@@ -696,9 +694,9 @@",
        "uvn_flush",
        "no-clean-needed PGO_FREE: uvm_pagedequeue + uvm_pagefree instead of "
        "uvm_pageclean + dead list",
    ),
    Hunk(
        24,
        "uvm/uvm_vnode.c",
        "@@ -830,8 +828,9 @@",
        "uvn_flush (ReTry:)",
        "after pageout PGO_FREE: uvm_pagedequeue + uvm_pagefree instead of "
        "uvm_pageclean + dead list",
    ),
    Hunk(
        25,
        "uvm/uvm_vnode.c",
        "@@ -852,8 +851,6 @@",
        "uvn_flush (ReTry:)",
        "remove the final uvm_pglistfree(&dead)",
    ),
    Hunk(
        26,
        "uvm/uvmexp.h",
        "@@ -61,7 +61,7 @@",
        "struct uvmexp",
        "annotate wired as [a] (atomic operations)",
    ),
)
