"""Shared fixtures: the small-bounds review (computed once per session)."""

import os
import signal

import pytest

from uvmsim.review.questions import Bounds

# The bounds every test of the whole review uses: small enough for CI, large enough that
# each question's check reaches its failure or completes.
SMALL = Bounds(
    max_executions=1500, campaign_executions=40, sim_ops=400, sim_cpus=(8,), mutant_executions=150
)


@pytest.fixture(scope="session")
def small_review():
    from uvmsim.review.run import run_review

    return run_review("seed", "openbsd-pre", bounds=SMALL)


@pytest.fixture(scope="session")
def review_small(small_review):
    from uvmsim.review.render import to_json

    return to_json(small_review)


def tree_of(path) -> dict[str, bytes]:
    """Every file below `path` with its bytes: a directory compared before and after."""
    out = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, path)] = fh.read()
    return out


def default_sigint() -> None:
    """`preexec_fn` for a child that a test interrupts: a pytest-xdist worker ignores SIGINT,
    and an ignored signal stays ignored across exec, so the child would never see it; a
    shell gives it the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
