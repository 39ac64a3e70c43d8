"""The make build family (workloads/make.py): a finite build, reported as time(1) would."""

import pytest

from uvmsim.machine.failure import InputError
from uvmsim.protocols import PROTOCOLS
from uvmsim.runs.simulate import simulate
from uvmsim.simulate.costs import CPU_HZ
from uvmsim.workloads.make import KINDS, MAKE

SMALL = {"jobs": 16, "pages": 16}


def _make(cpus: int = 4, seed: int = 3, ops: int | None = None, **options):
    return simulate("make", PROTOCOLS["seed"], cpus, seed=seed, ops=ops, options=options)


def test_a_build_ends_by_itself_and_counts_faults():
    r = _make(**SMALL)
    # 16 jobs of ~16 pages plus the link, one fault per page and one on the compiler's text
    # every eighth page: pinned for seed 3
    assert r.ops == 332
    t = r.time()
    assert t == {"real": 0.008623, "user": 0.017311, "sys": 0.010251}
    # time(1)'s CPU time fits in real time x CPUs
    assert t["user"] + t["sys"] <= 4 * t["real"]


def test_user_time_per_fault_is_the_kinds_published_rate():
    k = KINDS["kernel"]
    # a job touching 7,680 pages faults 7,680 + 960 times (once on the text every 8 pages)
    assert k.think(3e9) == pytest.approx(684.18 * 3e9 / 1400 / (7680 * 9 / 8))
    r = _make(jobs=64, pages=16)  # about 1,200 faults: the mean user time within 3%
    per_fault = r.cpu_time["user"] / r.ops
    assert per_fault == pytest.approx(k.think(CPU_HZ), rel=0.1)


def test_the_scaled_time_stands_for_the_real_build():
    r = _make(**SMALL)
    assert r.time_scale == 7680 / 16
    real = r.time(scaled=True)
    assert real["user"] == pytest.approx(480 * r.time()["user"], rel=1e-4)  # time() rounds to µs
    assert r.to_json()["time_scaled"] == real


def test_the_mean_job_is_pages_long():
    # 400 jobs of 16 pages on average (lognormal sizes of mean 1), each faulting once more on
    # the compiler's text every 8 pages; the link (scaled to 400 of 1,400 jobs) adds 37 pages
    r = _make(jobs=400, pages=16, seed=5)
    assert r.ops == pytest.approx(400 * 16 * 9 / 8, rel=0.03)


def test_make_j2_on_four_cpus_runs_two_jobs_at_a_time():
    wide, narrow = _make(**SMALL), _make(parallel=2, **SMALL)
    assert narrow.time()["real"] > 1.4 * wide.time()["real"]
    t = narrow.time()
    assert t["user"] + t["sys"] <= 2 * t["real"] * 1.001


def test_every_object_write_and_give_back_takes_the_kernel_lock():
    # 17 objects written (16 jobs and the link) and nothing given back: 17 acquisitions
    kept = _make(**SMALL).locks["kernel_lock"]["acquisitions"]
    assert kept == 17
    # a buffer cache of 4 buffers gives back 13, flipping every 4th given back (3) first
    small_cache = _make(bufcache=4, **SMALL).locks["kernel_lock"]["acquisitions"]
    assert small_cache == 17 + 13 + 3


def test_an_endless_build_stops_at_ops_and_never_links():
    r = _make(ops=200, jobs=-1, pages=16)
    assert r.ops == 200
    assert not MAKE.finite(MAKE.parse({"jobs": -1}))
    assert MAKE.finite(MAKE.parse({}))


def test_same_seed_same_result_and_another_seed_differs():
    a, b, c = _make(**SMALL), _make(**SMALL), _make(seed=4, **SMALL)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()


def test_a_libllvm_job_is_larger_and_its_user_rate_follows_the_fit():
    k = MAKE.kind({"kind": "libllvm"})
    assert k.real_pages > KINDS["kernel"].real_pages
    assert k.think(3e9) == pytest.approx(21805.35 * 3e9 / 2300 / (k.real_pages * 9 / 8))


@pytest.mark.parametrize(
    "options, field",
    [({"kind": "gcc"}, "kind"), ({"jobs": -2}, "jobs"), ({"pages": 4}, "pages")],
)
def test_bad_options_name_the_field(options, field):
    with pytest.raises(InputError, match=f"option {field}"):
        _make(**options)
