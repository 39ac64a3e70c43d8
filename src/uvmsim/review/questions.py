"""R1-R9: every concern of the seed thread, in the thread's order, each answered by a check
or a measurement with a control (docs/review.md).

- R1, R2, R3, R5, R6: explorations by the checker (`review.checked`);
- R4, R8: measurements by the simulator (`review.measured`);
- R7: the mutation analysis (`review.mutation`);
- R9: randomized campaigns (`review.campaign`).

Nothing is hard-coded: flip a switch of the reviewed protocol and the verdicts, the figures
and the explanations follow; a verdict whose control does not flip is "unproven".
"""

from __future__ import annotations

from collections.abc import Callable

from uvmsim.review import checked
from uvmsim.review.campaign import r9
from uvmsim.review.measured import r4, r8
from uvmsim.review.mutation import r7
from uvmsim.review.verdict import Bounds, Context, Verdict

__all__ = ["QUESTIONS", "Bounds", "Context", "Verdict"]


def _checked(qid: str) -> Callable[[Context], Verdict]:
    question = next(q for q in checked.QUESTIONS if q.id == qid)

    def ask(ctx: Context) -> Verdict:
        v = checked.ask(ctx, question)
        if qid == "R2":
            v.evidence.insert(
                0,
                "the protocol's uvm_pageclean asserts the pageq lock for tabled/queued pages"
                if not ctx.protocol.pageclean_no_assert
                else "the protocol's uvm_pageclean no longer requires the pageq lock",
            )
        return v

    return ask


QUESTIONS: dict[str, Callable[[Context], Verdict]] = {
    "R1": _checked("R1"),
    "R2": _checked("R2"),
    "R3": _checked("R3"),
    "R4": r4,
    "R5": _checked("R5"),
    "R6": _checked("R6"),
    "R7": r7,
    "R8": r8,
    "R9": r9,
}
