"""Deliberate breakages of the code, each with the tests of `make test` that must catch it.

Each is a textual replacement in one file of a copy of the repository (tests/sabotage/run.py
applies it and runs the named tests there).  The first eight are the breakages an audit found
surviving the whole suite (issue 12); the others guard what later work relies on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Breakage:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


V = "tests/review/test_verdicts.py"

BREAKAGES: tuple[Breakage, ...] = (
    Breakage(
        "R1's check never fires",
        "src/uvmsim/review/checked.py",
        '    return "two CPUs in uvm_pageclean" in m or "double free" in m or "I17" in m or '
        "double_free",
        "    return False",
        (f"{V}::test_r1_holds_on_seed_with_a_control_that_fired",),
    ),
    Breakage(
        "R5's check never fires",
        "src/uvmsim/review/checked.py",
        '    return "stale mapping" in m or "still mapped" in m or "I12:" in m',
        "    return False",
        (f"{V}::test_holds_names_the_scope_and_the_mechanism",),
    ),
    Breakage(
        "R1's model check removed (two CPUs in uvm_pageclean)",
        "src/uvmsim/uvm/uvm_page.py",
        "        other is None or other == me,",
        "        True,",
        (f"{V}::test_r1_control_reaches_the_model_check_itself",),
    ),
    Breakage(
        "R4's denominator halved",
        "src/uvmsim/review/measured.py",
        "        flushes = max(1, r.ops // 2)",
        "        flushes = max(1, r.ops // 4)",
        (f"{V}::test_r4_counts_the_flush_s_own_frees_at_their_call_site",),
    ),
    Breakage(
        "R8's gain inverted",
        "src/uvmsim/review/measured.py",
        '        "real": mine.throughput / base.throughput - 1 if base.throughput else 0.0,',
        '        "real": base.throughput / mine.throughput - 1 if mine.throughput else 0.0,',
        (f"{V}::test_r8_is_a_band_over_the_unfitted_parameters_with_a_control_that_loses",),
    ),
    Breakage(
        "every R7 mutant reported as killed",
        "src/uvmsim/review/mutation.py",
        '    return "survives", _survivor_reason(protocol, mutant, row, explored, measured)',
        '    return "killed by check", _survivor_reason(protocol, mutant, row, explored, measured)',
        (f"{V}::test_r7_score_and_its_control",),
    ),
    Breakage(
        "a minimizer that does nothing",
        "src/uvmsim/check/minimize.py",
        "    sig = failure_signature(failure)\n    original = count_preemptions(target, schedule)",
        "    sig = failure_signature(failure)\n    original = count_preemptions(target, schedule)\n"
        "    return Minimized(failure, schedule, original, len(schedule), original, 0)",
        ("tests/check/test_minimize.py",),
    ),
    Breakage(
        "PCT replaced by a random walk",
        "src/uvmsim/check/strategies/pct.py",
        "        return PctEngine(seed, self.target.cpus, self.depth, self.k or 1)",
        "        from uvmsim.machine import RandomEngine\n\n        return RandomEngine(seed)",
        (
            "tests/check/test_pct.py::test_pct_meets_its_bound_where_a_random_walk_almost_never_hits",
        ),
    ),
    # -- guards added since --------------------------------------------------------------------
    Breakage(
        "R3's control variant is the protocol itself",
        "src/uvmsim/review/checked.py",
        '    return p.variant(f"{p.name}~plain-wired", wired_atomic=False)',
        '    return p.variant(f"{p.name}~plain-wired")',
        (f"{V}::test_verdict_follows_the_switches_and_each_side_has_its_control",),
    ),
    Breakage(
        "lockstat hold times halved",
        "src/uvmsim/simulate/engine.py",
        "            ls.hold_cycles += hold\n            ss.released(hold)\n",
        "            ls.hold_cycles += hold / 2\n            ss.released(hold / 2)\n",
        ("tests/simulate/test_theory.py::test_littles_law_against_an_independent_census",),
    ),
    Breakage(
        "report directories replaced whoever wrote them",
        "src/uvmsim/output_files.py",
        "        if os.listdir(full) and not _written_by_uvmsim(full):",
        "        if False:",
        (
            "tests/test_output_files.py",
            "tests/test_exit_codes.py::test_review_html_dot_leaves_a_working_directory_untouched",
        ),
    ),
    Breakage(
        "replay tokens no longer ignore whitespace",
        "src/uvmsim/check/token.py",
        '    token = "".join(token.split())',
        "    token = token.strip()",
        ("tests/check/test_token_fuzz.py::test_a_token_with_line_breaks_and_spaces_replays",),
    ),
    Breakage(
        "DPOR adds no backtrack point for a race",
        "src/uvmsim/check/strategies/dpor.py",
        "        backtrack.add(q if q in usable else min(usable))",
        "        pass",
        ("tests/check/test_exploration.py",),
    ),
    Breakage(
        "a read fault takes the object lock for writing",
        "src/uvmsim/uvm/uvm_fault.py",
        "        self.lower_lock_type = RW_READ\n",
        "        self.lower_lock_type = RW_WRITE\n",
        (
            "tests/uvm/test_kernel_paths.py::"
            "test_a_read_fault_on_a_resident_page_shares_the_object_lock",
        ),
    ),
    Breakage(
        "fault-ahead maps anon neighbours without activating them",
        "src/uvmsim/uvm/uvm_fault.py",
        "            uvm_lock_pageq_for_queue_op()\n"
        "            uvm_pageactivate(pg)\n"
        "            uvm_unlock_pageq_for_queue_op()\n"
        "            KASSERT(not flt.wired",
        "            KASSERT(not flt.wired",
        (
            "tests/uvm/test_kernel_paths.py::"
            "test_upper_fault_activates_each_unmapped_neighbour_under_its_own_pageq_round_trip",
        ),
    ),
    Breakage(
        "the pagedaemon's iterator never moves its marker (openbsd-2026)",
        "src/uvmsim/uvm/uvm_pdaemon.py",
        "        TAILQ_REMOVE(pglst, it)\n        TAILQ_INSERT_AFTER(pglst, nextpg, it)\n",
        "        pass\n",
        ("tests/uvm/test_openbsd_2026.py::test_the_marker_scan_holds_on_every_interleaving",),
    ),
    Breakage(
        "make charges the text faults no user time",
        "src/uvmsim/workloads/make.py",
        "FAULTS_PER_PAGE = (TEXT_EVERY + 1) / TEXT_EVERY",
        "FAULTS_PER_PAGE = 1",
        ("tests/simulate/test_make.py",),
    ),
    Breakage(
        "compare reads a per-shard lockstat row instead of the lock class's",
        "src/uvmsim/review/compare.py",
        "    return r.locks.get(lock_class, {}).get(stat, 0)\n",
        '    return r.locks.get(lock_class + ".0", {}).get(stat, 0)\n',
        (
            "tests/review/test_compare.py::test_build_figures",
            "tests/uvm/test_lru_shards.py::test_the_timed_engines_lockstat_row_is_every_shards",
        ),
    ),
    Breakage(
        "compare takes any failure as the catalog's expected 'holds'",
        "src/uvmsim/review/compare.py",
        '        if want == "holds":\n            return not self.failures',
        '        if want == "holds":\n            return True',
        ("tests/review/test_compare.py::test_agreement_with_the_catalog",),
    ),
    Breakage(
        "the fix for finding F3 clears nothing",
        "src/uvmsim/uvm/uvm_fault.py",
        '            atomic_clearbits_int(pg, "pg_flags", PG_WANTED)\n'
        "    if pg.pg_flags & PG_RELEASED:",
        "            pass\n    if pg.pg_flags & PG_RELEASED:",
        ("tests/uvm/test_finding_f3.py",),
    ),
    Breakage(
        "an engine imports the model",
        "src/uvmsim/check/strategy.py",
        "from uvmsim.check.result import CheckResult, Coverage, FailureTally",
        "from uvmsim.check.result import CheckResult, Coverage, FailureTally\n"
        "from uvmsim.uvm import uvm as _uvm  # noqa: F401",
        ("tests/test_layers.py::test_every_import_points_down",),
    ),
    Breakage(
        "racy_read is an unlocked_read (its race reported)",
        "src/uvmsim/machine/shared.py",
        "        m.visible(READ, obj, _find_desc(type(obj), field).name, "
        "frames.model_site(_inline_codes))\n",
        "        m_access(m, READ, obj, _find_desc(type(obj), field), annotation_check=False)\n",
        (
            "tests/machine/test_analyses.py::test_racy_read_is_not_a_race_with_the_write_it_is_marked_for",
            "tests/uvm/test_freebsd_batch.py",
        ),
    ),
    Breakage(
        "a fully ordered atomic orders nothing",
        "src/uvmsim/machine/atomic.py",
        "        m.races.fully_ordered(m.current, obj, field)\n",
        "        pass\n",
        (
            "tests/machine/test_analyses.py::"
            "test_a_fully_ordered_atomic_orders_what_came_before_it_on_the_same_word",
        ),
    ),
    Breakage(
        "the 1.154 scan takes another scan's marker for a page unnoticed",
        "src/uvmsim/uvm/uvm_pdaemon.py",
        '        not peek(pg, "pg_flags") & PQ_ITER,\n',
        "        True,\n",
        (
            "tests/uvm/test_openbsd_2026.py::"
            "test_a_second_scanner_meets_the_markers_of_the_first_on_openbsd_2026",
        ),
    ),
    Breakage(
        "per-CPU queue counters: every CPU changes CPU 0's share",
        "src/uvmsim/uvm/uvm_pdpolicy_clock.py",
        "        share = uvm.cpu_queue_counts[curcpu().index]\n"
        "        setattr(share, field, getattr(share, field) + 1)\n",
        "        share = uvm.cpu_queue_counts[0]\n"
        "        setattr(share, field, getattr(share, field) + 1)\n",
        (
            "tests/uvm/test_queue_counters.py::"
            "test_each_cpu_changes_only_its_own_share_and_the_sum_is_right",
        ),
    ),
    Breakage(
        "per-CPU queue counters: the reader sums only CPU 0's share",
        "src/uvmsim/uvm/uvmexp.py",
        "    for share in uvm.cpu_queue_counts:\n",
        "    for share in uvm.cpu_queue_counts[:1]:\n",
        ("tests/uvm/test_queue_counters.py::test_the_pagedaemon_sums_every_share",),
    ),
    Breakage(
        "lru_shards: a Linux batch keeps the first lruvec's lock for every entry",
        "src/uvmsim/uvm/mm_swap.py",
        "        if locked is not lock:\n",
        "        if locked is None:\n",
        ("tests/uvm/test_lru_shards.py::test_each_page_is_moved_under_its_own_domains_lock",),
    ),
    Breakage(
        "lru_shards: allocation ignores the CPU's domain",
        "src/uvmsim/uvm/uvm_pmemrange.py",
        "    if uvm.nshards > 1:\n        return _choose_local(pool, count, constraint)\n",
        "",
        ("tests/uvm/test_lru_shards.py::test_allocation_prefers_the_cpus_domain",),
    ),
    Breakage(
        "a size's own pages per step ignored (bufcache-flip grows by 4 pages per CPU again)",
        "src/uvmsim/scenarios/base.py",
        "        step = {sz.name: sz.pages for sz in self.sizes}\n",
        "        step: dict[str, int] = {}\n",
        ("tests/check/test_sizes.py::test_a_size_asks_for_its_own_pages_per_step",),
    ),
    Breakage(
        "the run queue breaks time ties by CPU number, forgetting the hand-off priority",
        "src/uvmsim/simulate/clockheap.py",
        "    if p1 != p2:\n        return p1 < p2\n",
        "",
        ("tests/simulate/test_clockheap.py",),
    ),
    Breakage(
        "the checker's world restore leaves the sets an execution changed as it left them",
        "src/uvmsim/scenarios/base.py",
        "        _consume(map(set.update, sets, self._set_items))\n",
        "",
        ("tests/test_snapshot.py",),
    ),
    Breakage(
        "a waiter taken off a mutex's waiters is the first one, not the CPU chosen",
        "src/uvmsim/machine/core.py",
        "            if waiters[i] is cpu:\n",
        "            if True:\n",
        ("tests/machine/test_mutex.py",),
    ),
    Breakage(
        "the lock histograms count one bit too many (a time of 1 cycle in the 2-cycle bucket)",
        "src/uvmsim/simulate/stats.py",
        "        b = 0\n        while n:\n",
        "        b = 1\n        while n:\n",
        ("tests/simulate/test_histogram.py",),
    ),
    Breakage(
        "a failure while priming unwinds the CPUs that never began (their idle greenlets die)",
        "src/uvmsim/machine/core.py",
        "        for cpu in self.cpus[: self.primed]:  # the others never entered their function\n",
        "        for cpu in self.cpus:\n",
        ("tests/machine/test_workers.py",),
    ),
    Breakage(
        "an idle CPU greenlet holds on to the machine and CPU of its last execution",
        "src/uvmsim/machine/core.py",
        "        machine = cpu = None  # keep nothing of a finished execution alive while idle\n",
        "",
        ("tests/machine/test_workers.py",),
    ),
)
