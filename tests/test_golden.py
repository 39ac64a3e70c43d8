"""Outputs recorded before the architecture refactor (tests/golden/record.py): the same
checks, counterexamples, replay tokens, simulations and review, wall-clock fields aside and
model line numbers compared as N (they move with any edit of a model file)."""

import json
import os

import pytest

from tests.golden import record

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def _recorded(name: str) -> dict:
    with open(os.path.join(HERE, f"{name}.json")) as fh:
        return json.load(fh)


@pytest.mark.parametrize("name", ["checks", "simulations"])
def test_same_outputs_as_recorded(name):
    now = record.normalized(json.loads(json.dumps(record.RECORDS[name](), sort_keys=True)))
    was = record.normalized(_recorded(name))
    assert sorted(now) == sorted(was)
    for key in was:
        assert now[key] == was[key], key


def test_same_review_as_recorded(review_small):
    now = json.loads(json.dumps(record.strip_wall_clock(review_small), sort_keys=True))
    assert record.normalized(now) == record.normalized(_recorded("review"))
