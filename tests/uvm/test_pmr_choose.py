"""pmemrange's choice of free pages (`uvm_pmemrange._choose`) against its definition.

The definition is one pass over the pool: the fitting pages by range use, lowest use
first, pool order within a use, the first `count` of them (None if fewer fit).  The model
does it in two passes that skip the pool's leading pages of other uses (a cached lower
bound on the first page of use 0, kept across the pool's copies); random pools, with and
without a cached bound, must give the same positions.
"""

import random
from types import SimpleNamespace

import pytest

from uvmsim.uvm import uvm_pmemrange as pm
from uvmsim.uvm.uvm import uvm


def _definition(pool, count, low, high):
    by_use: dict[int, list[int]] = {}
    for i, pg in enumerate(pool):
        d = pg.__dict__
        if low <= d["phys_addr"] < high:
            by_use.setdefault(d["pmr_use"], []).append(i)
    fits = [i for use in sorted(by_use) for i in by_use[use]]
    return fits[:count] if len(fits) >= count else None


class _Page:
    def __init__(self, phys_addr: int, use: int):
        self.__dict__.update(phys_addr=phys_addr, pmr_use=use)


@pytest.fixture
def fresh_pmr(monkeypatch):
    monkeypatch.setattr(uvm, "pmr", SimpleNamespace(), raising=False)
    monkeypatch.setattr(uvm, "nshards", 1)


def test_the_two_passes_choose_what_one_pass_by_use_would(fresh_pmr):
    rng = random.Random(16)
    for _ in range(3000):
        pool = [
            _Page(rng.randint(0, 40), rng.choice((0, 0, 1, 1, 2)))
            for _ in range(rng.randint(0, 30))
        ]
        uvm.pmr.__dict__.clear()
        if rng.random() < 0.5:  # a cached bound: any position up to the first page of use 0
            k = next((i for i, pg in enumerate(pool) if pg.pmr_use == 0), len(pool))
            uvm.pmr.__dict__["use0_from"] = (pool, rng.randint(0, k))
        low = rng.randint(0, 20)
        high = rng.randint(low, 45)
        count = rng.randint(1, 8)
        constraint = pm.uvm_constraint_range("c", low, high)
        assert pm._choose(pool, count, constraint) == _definition(pool, count, low, high)


def test_the_bound_follows_the_pool_through_takes_and_frees(fresh_pmr):
    pool = [_Page(i, 1) for i in range(4)] + [_Page(i, 0) for i in range(4, 10)]
    assert pm._use0_from(pool) == 4
    rest = [pg for i, pg in enumerate(pool) if i not in (1, 6)]
    pm._keep_use0_from(pool, rest, [1, 6])  # one DMA page taken in front of the bound
    assert uvm.pmr.use0_from == (rest, 3)
    more = [*rest, _Page(99, 1)]
    pm._keep_use0_from(rest, more, None)  # frees are appended: the bound stays
    assert uvm.pmr.use0_from == (more, 3)
    assert pm._use0_from([_Page(0, 0)]) == 0  # another list: computed afresh
