"""`uvmsim compare`: several protocols side by side, on the checker and on the kernel build.

For each protocol, every scenario of the catalog is explored with DPOR (a budget of
executions per scenario) and sampled with PCT; each distinct failure gets one minimized
counterexample with its replay token, and each outcome is set beside what the catalog expects
of that protocol (a surprise is a disagreement, reported and counted in the exit status).

The simulator part is R8's measurement (review/measured.py) taken per protocol instead of
per pair: the make kernel build in its steady state at each CPU count, with the LRU lock's
(the pageq lock class's, which is every shard's `pageqlock.<i>`), the free-page lock's
and all locks' spin share, the whole build's real time and its fault throughput, and the
gain in real time over the baseline.  At the band's CPU counts the gain is also taken at
both ends of every unfitted parameter's range, as R8 does, so each protocol has its band.
Runs are memoized by (protocol, CPUs, seed, options): the baseline's runs serve every
protocol compared against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvmsim.machine.failure import InputError
from uvmsim.protocols import Protocol
from uvmsim.review.checks import campaign, explore
from uvmsim.review.measured import BAND, build_gains, kernel_build, real_seconds
from uvmsim.review.run import Counterexample, minimized_counterexample
from uvmsim.review.verdict import Bounds
from uvmsim.runs.names import get_protocol
from uvmsim.scenarios import SCENARIOS
from uvmsim.scenarios.findings import classify

DEFAULT_PROTOCOLS = ("seed", "openbsd-2026", "netbsd-intent", "freebsd-batch", "linux-lruvec")
DEFAULT_CPUS = (16, 32, 64, 80, 128)
MAX_CPUS = 1024
LRU_LOCK = "pageqlock"  # the LRU (page queue) lock class; shards `pageqlock.<i>` are of it
FREE_LOCK = "fpageqlock"


@dataclass
class ScenarioOutcome:
    """One scenario on one protocol: what DPOR and PCT found, and what the catalog expects."""

    scenario: str
    expected: str | None  # the catalog's expectation for this protocol (None: none stated)
    dpor_executions: int
    complete: bool
    pct_executions: int
    failures: list[str]  # distinct failures (finding id, or kind|message), in order found

    @property
    def outcome(self) -> str:
        return "holds" if not self.failures else "fails"

    @property
    def agrees(self) -> bool | None:
        """Whether the outcome is what the catalog expects (None: it expects nothing)."""
        want = self.expected
        if want is None:
            return None
        if want == "holds":
            return not self.failures
        if want in ("fails", "finding"):
            return bool(self.failures)
        return any(f == want or f.startswith(want + "|") for f in self.failures)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "expected": self.expected,
            "outcome": self.outcome,
            "agrees": self.agrees,
            "dpor_executions": self.dpor_executions,
            "complete": self.complete,
            "pct_executions": self.pct_executions,
            "failures": self.failures,
        }


@dataclass
class BuildPoint:
    """The make kernel build at one CPU count on one protocol (central: seed means)."""

    cpus: int
    lru_spin: float  # % of CPU time spinning on the LRU lock(s)
    free_spin: float  # % spinning on the free-page lock
    total_spin: float  # % spinning on any lock
    real_s: float  # the whole kernel build's real time at the measured fault rate
    throughput: float  # faults per second of the simulated machine
    lru_acquisitions: float  # LRU-lock acquisitions per 1,000 faults
    gain: float  # real-time gain over the baseline (fraction; positive is faster)
    band: tuple[float, float] | None = None  # the gain's band over the unfitted parameters
    deferred: float = 0.0  # LRU operations still pending in intent queues, per 1,000 faults

    def to_json(self) -> dict[str, Any]:
        return {
            "cpus": self.cpus,
            "lru_spin": round(self.lru_spin, 3),
            "free_spin": round(self.free_spin, 3),
            "total_spin": round(self.total_spin, 3),
            "real_s": round(self.real_s, 3),
            "throughput": round(self.throughput, 1),
            "lru_acquisitions_per_1000_faults": round(self.lru_acquisitions, 2),
            "gain": round(self.gain, 5),
            "band": [round(x, 5) for x in self.band] if self.band else None,
            "deferred_per_1000_faults": round(self.deferred, 2),
        }


@dataclass
class ProtocolResult:
    name: str
    description: str
    scenarios: list[ScenarioOutcome]
    counterexamples: list[Counterexample]
    build: list[BuildPoint]

    @property
    def surprises(self) -> list[ScenarioOutcome]:
        return [s for s in self.scenarios if s.agrees is False]


@dataclass
class Comparison:
    baseline: str
    cpus: tuple[int, ...]
    bounds: Bounds
    protocols: list[ProtocolResult]
    control: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def parse_protocols(text: str) -> list[str]:
    """`--protocol a,b,c`: names (or FILE.py:NAME), each known, none twice."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise InputError("--protocol: give at least one protocol name, comma-separated")
    if len(set(names)) != len(names):
        raise InputError(f"--protocol: a protocol is named twice in {text!r}")
    for name in names:
        get_protocol(name)  # one-line InputError naming the accepted protocols
    return names


def parse_cpus(text: str) -> tuple[int, ...]:
    """`--cpus 16,32,...`: distinct CPU counts, 1..MAX_CPUS, in increasing order."""
    try:
        cpus = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise InputError(
            f"--cpus must be comma-separated integers 1..{MAX_CPUS}, got {text!r}"
        ) from None
    if not cpus or any(not 1 <= n <= MAX_CPUS for n in cpus) or len(set(cpus)) != len(cpus):
        raise InputError(f"--cpus must be distinct integers 1..{MAX_CPUS}, got {text!r}")
    return tuple(sorted(cpus))


def _failure_key(f: Any) -> str:
    return classify(f) or f"{f.kind}|{f.message}"


def check_protocol_scenarios(
    spec: str, proto: Protocol, bounds: Bounds, note: Callable[[str], None]
) -> tuple[list[ScenarioOutcome], list[Counterexample]]:
    """Every catalog scenario (not the control harnesses) under DPOR and PCT on `proto`."""
    outcomes = []
    first: dict[str, tuple[str, bool, Any, tuple[int, ...]]] = {}
    for name, sc in sorted(SCENARIOS.items()):
        if sc.apparatus:
            continue
        note(f"{proto.name}: {name} (DPOR, PCT)")
        found: list[str] = []
        dpor = explore(name, proto, max_executions=bounds.max_executions)
        pct = campaign(name, proto, executions=bounds.campaign_executions)
        for ex in (dpor, pct):
            for f, schedule in ex.failures:
                key = _failure_key(f)
                if key not in found:
                    found.append(key)
                first.setdefault(key, (name, ex.races, f, schedule))
        outcomes.append(
            ScenarioOutcome(
                name,
                sc.expectation(proto),
                dpor.executions,
                dpor.complete,
                pct.executions,
                found,
            )
        )
    examples = []
    for key, (scenario, races, f, schedule) in first.items():
        note(f"{proto.name}: minimizing {key.split('|')[0]} in {scenario}")
        examples.append(minimized_counterexample(spec, scenario, races, f, schedule))
    return outcomes, examples


class BuildRuns:
    """The make kernel build's runs, memoized by protocol name, CPUs, seed and options."""

    def __init__(self, bounds: Bounds, note: Callable[[str], None]):
        self.bounds = bounds
        self.note = note
        self._runs: dict[tuple, Any] = {}

    def run(self, proto: Protocol, n: int, seed: int, **opts: float) -> Any:
        key = (proto.name, n, seed, tuple(sorted(opts.items())))
        if key not in self._runs:
            self.note(f"{proto.name}: make kernel build, {n} CPUs, seed {seed} {opts or ''}")
            self._runs[key] = kernel_build(self.bounds, proto, n, seed, **opts)
        return self._runs[key]

    def gain(self, base: Protocol, proto: Protocol, n: int, seed: int, **opts: float) -> float:
        mine = self.run(proto, n, seed, **opts)
        return build_gains(self.run(base, n, seed, **opts), mine, self.bounds.build_pages)["real"]


def _lock_total(r: Any, lock_class: str, stat: str) -> int:
    """`stat` of a lock class (a sharded design's `pageqlock.<i>` are one class, so its row
    is every shard's together)."""
    return r.locks.get(lock_class, {}).get(stat, 0)


def _share(r: Any, lock_class: str) -> float:
    """% of CPU time spent waiting for a lock class."""
    return 100 * _lock_total(r, lock_class, "wait_cycles") / (sum(r.cpu_time.values()) or 1)


def build_points(runs: BuildRuns, base: Protocol, proto: Protocol, cpus: tuple[int, ...]) -> list:
    """The make kernel build of `proto` at each CPU count (seed means), with its band."""
    b = runs.bounds
    points = []
    for n in cpus:
        rs = [runs.run(proto, n, seed) for seed in b.sim_seeds]
        gains = [runs.gain(base, proto, n, seed) for seed in b.sim_seeds]

        def mean(xs: list[float]) -> float:
            return sum(xs) / len(xs)

        faults = [max(1, r.ops) for r in rs]
        band = None
        if n in b.band_cpus:
            ends = [
                runs.gain(base, proto, n, b.sim_seeds[0], **{option: value})
                for option, low, _mid, high in BAND.values()
                for value in (low, high)
            ]
            everything = [*gains, *ends]
            band = (min(everything), max(everything))
        points.append(
            BuildPoint(
                n,
                mean([_share(r, LRU_LOCK) for r in rs]),
                mean([_share(r, FREE_LOCK) for r in rs]),
                mean([100 * r.spin_share for r in rs]),
                mean([real_seconds(r, b.build_pages) for r in rs]),
                mean([r.throughput for r in rs]),
                mean(
                    [
                        1000 * _lock_total(r, LRU_LOCK, "acquisitions") / f
                        for r, f in zip(rs, faults, strict=True)
                    ]
                ),
                mean(gains),
                band,
                mean(
                    [
                        1000 * r.counters.get("intents_pending", 0) / f
                        for r, f in zip(rs, faults, strict=True)
                    ]
                ),
            )
        )
    return points


def run_compare(
    protocols: list[str],
    cpus: tuple[int, ...] = DEFAULT_CPUS,
    baseline: str = "openbsd-pre",
    bounds: Bounds | None = None,
    progress: Callable[[str], None] | None = None,
    checks: bool = True,
) -> Comparison:
    """Check and measure every protocol of `protocols` (module docstring)."""
    t0 = time.monotonic()
    b = bounds or Bounds()

    def note(text: str) -> None:
        if progress is not None:
            progress(text)

    base = get_protocol(baseline)
    runs = BuildRuns(b, note)
    results = []
    for spec in protocols:
        proto = get_protocol(spec)
        outcomes, examples = check_protocol_scenarios(spec, proto, b, note) if checks else ([], [])
        results.append(
            ProtocolResult(
                proto.name,
                proto.description,
                outcomes,
                examples,
                build_points(runs, base, proto, cpus),
            )
        )
    # The control: a protocol known to be worse (the baseline without its per-CPU free-page
    # magazines: fpageq for every page) must come out slower, with more free-lock spin, at
    # the largest CPU count; if it did not, the table could not tell designs apart.
    n = max(cpus)
    worse = base.variant(f"{base.name}~nocache", percpu_magazines=False)
    w = build_points(runs, base, worse, (n,))[0]
    ref = build_points(runs, base, base, (n,))[0]
    control = {
        "what": f"{worse.name} against {base.name}, make kernel build, {n} CPUs",
        "expected": "a slower build with more free-page lock spin",
        "observed": (
            f"real time {w.gain:+.1%}, {FREE_LOCK} spin {ref.free_spin:.1f}% -> {w.free_spin:.1f}%"
        ),
        "flipped": w.gain < 0 and w.free_spin > ref.free_spin,
    }
    return Comparison(baseline, cpus, b, results, control, time.monotonic() - t0)
