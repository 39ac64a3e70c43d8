"""The spec parser under fuzzing: any text gives a spec or one `InputError`, quickly.

Two generators, 2,000 examples each: TOML documents built from the spec's own fields with
values of every TOML type (nan, inf, huge integers, brackets, control characters, nested
tables), and the example specs mutated by inserting, deleting and replacing fragments.  A
per-example alarm turns a hang into a failure instead of a stuck test run.  A few bad specs
then go through the real command line: exit 2 and a single line on stderr.
"""

import contextlib
import math
import signal
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uvmsim.machine.failure import InputError
from uvmsim.sweep.spec import EXPLORE_FIELDS, SIMULATE_FIELDS, SweepSpec, parse_spec

from .conftest import SMALL
from .test_spec import EXPLORE, SIM

HANG_SECONDS = 10  # far above the slowest legitimate parse (MAX_RUNS runs: about 2 s)


class Hang(Exception):
    pass


@contextlib.contextmanager
def no_hang():
    """Raise `Hang` in the test if the body runs longer than HANG_SECONDS."""
    if not hasattr(signal, "setitimer"):  # pragma: no cover - not POSIX
        yield
        return

    def alarm(signum, frame):
        raise Hang(f"parse_spec ran for more than {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parses_or_input_error(text: str) -> None:
    """The property: a SweepSpec, or an InputError that is one line; nothing else."""
    with no_hang():
        try:
            spec = parse_spec(text, "fuzz.toml")
        except InputError as exc:
            message = str(exc)
            assert message.startswith("fuzz.toml: "), message
            assert "\n" not in message and len(message) < 1000, message
            return
    assert isinstance(spec, SweepSpec) and spec.runs
    assert len({r.key for r in spec.runs}) == len(spec.runs)


# -- generated documents ---------------------------------------------------------------------

STRINGS = [
    "seed",
    "openbsd-pre",
    "seed-fixed",
    "build",
    "flush",
    "spinlock",
    "all",
    "pageclean-race",
    "wired-counter",
    "random",
    "pct",
    "dpor",
    "bounded",
    "cas",
    "fifo",
    "0..3",
    "2..1",
    "0..999999999999",
    "0..100000000",
    " 1 .. 2 ",
    "-1..4",
    "9..x",
    "inf",
    "nan",
    "1e999",
    "",
    " ",
    "[/x]",
    "[bold]",
    "a\nb",
    "\x00",
    "\x7f",
    "é",
    "\U0001f600",
    "x" * 300,
    "file.py",
    "/etc/passwd",
]
# No ':' anywhere: a protocol named pkg.module:NAME imports that module, and a fuzzer must not
# import arbitrary modules (`antigravity` opens a browser).  Strings come from a list rather
# than st.text(): generation, not parsing, is what costs time here.
SCALARS = st.one_of(
    st.sampled_from(STRINGS),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, 2, 8, 1024, 1025, 2**63 - 1, 10**8, 10**9 + 1, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.5, 1e15, 1e16]),
    st.booleans(),
)
TABLE_OF_SCALARS = st.dictionaries(
    st.sampled_from(["think", "faults", "x", "[/x]"]), SCALARS, max_size=2
)
# two levels at most: deeper nesting is the business of the mutation test and of
# test_degenerate_specs
VALUES = st.one_of(
    SCALARS,
    st.lists(st.one_of(SCALARS, st.lists(SCALARS, max_size=2), TABLE_OF_SCALARS), max_size=3),
    TABLE_OF_SCALARS,
)
SMALL_INTS = st.integers(min_value=0, max_value=20)
RANGES = st.builds("{}..{}".format, SMALL_INTS, SMALL_INTS)
# per field, values that often pass, so that the checks after the first one run too
PLAUSIBLE = {
    "protocols": st.lists(st.sampled_from(["seed", "openbsd-pre", "seed-fixed"]), max_size=2),
    "workloads": st.lists(st.sampled_from(["build", "spinlock", "flush"]), max_size=2),
    "cpus": st.lists(st.integers(min_value=0, max_value=1100), max_size=3),
    "seeds": st.one_of(RANGES, st.lists(SMALL_INTS, max_size=3)),
    "ops": st.integers(min_value=-1, max_value=10**9 + 1),
    "cycles": st.floats(allow_nan=True, allow_infinity=True),
    "discipline": st.sampled_from(["cas", "fifo", "lifo"]),
    "options": st.dictionaries(
        st.sampled_from(["think", "faults", "kind", "x"]), SCALARS, max_size=2
    ),
    "scenarios": st.lists(st.sampled_from(["all", "wired-counter", "pageclean-race"]), max_size=2),
    "strategies": st.lists(st.sampled_from(["random", "pct", "dpor", "fuzz"]), max_size=2),
    "seed": st.integers(min_value=-1, max_value=2**63 - 1),
    "executions": st.integers(min_value=0, max_value=10**8 + 1),
    "per_run": st.integers(min_value=0, max_value=10**8 + 1),
    "pct_depth": st.integers(min_value=0, max_value=11),
    "preemptions": st.integers(min_value=-1, max_value=1001),
    "max_steps": st.integers(min_value=0, max_value=10**7 + 1),
    "minimize": st.booleans(),
    # scenario sizes (explore; `cpus` above serves both kinds)
    "pages": st.one_of(st.integers(min_value=0, max_value=300), st.lists(SMALL_INTS, max_size=2)),
    "passes": st.one_of(st.integers(min_value=0, max_value=5), st.lists(SMALL_INTS, max_size=2)),
    "bogus": VALUES,
}
FIELD = {f: st.one_of(v, v, VALUES) for f, v in PLAUSIBLE.items()}
KEYS = {
    "simulate": st.lists(st.sampled_from([*SIMULATE_FIELDS, "bogus"]), max_size=4, unique=True),
    "explore": st.lists(st.sampled_from([*EXPLORE_FIELDS, "bogus"]), max_size=4, unique=True),
}
REQUIRED = {
    "simulate": {"protocols": ["seed"], "workloads": ["build"], "cpus": [2]},
    "explore": {"protocols": ["seed"], "scenarios": ["wired-counter"], "strategies": ["random"]},
}
KINDS = st.lists(st.sampled_from(["simulate", "explore"] * 10 + ["x"]), max_size=3)
SOMETIMES = st.sampled_from([False, False, True])
MOSTLY = st.sampled_from([True, True, False])


def toml(value) -> str:
    """`value` as a TOML value (a generator for the fuzzer, not a general encoder)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_CHAR.get(c) or _char(c) for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(map(toml, value)) + "]"
    return "{ " + ", ".join(f"{toml(k)} = {toml(v)}" for k, v in value.items()) + " }"


_CHAR = {"\\": "\\\\", '"': '\\"'}


def _char(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c


@st.composite
def documents(draw) -> str:
    lines = []
    if draw(SOMETIMES):
        lines.append(f"name = {toml(draw(st.one_of(st.sampled_from(STRINGS), VALUES)))}")
    for kind in draw(KINDS):
        table = {k: draw(FIELD[k]) for k in draw(KEYS.get(kind, KEYS["simulate"]))}
        if kind in REQUIRED and draw(MOSTLY):  # mostly plausible tables
            for key, value in REQUIRED[kind].items():
                table.setdefault(key, value)
        lines.append(f"[[{kind}]]")
        lines += [f"{toml(k)} = {toml(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


FUZZ = settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(documents())
def test_generated_specs_parse_or_are_one_input_error(text):
    parses_or_input_error(text)


# -- mutated example specs -------------------------------------------------------------------

BASES = [SMALL, SIM, EXPLORE]
FRAGMENTS = [
    "[",
    "]",
    "{",
    "}",
    "=",
    '"',
    "'",
    ",",
    ".",
    "..",
    "\n",
    "#",
    " ",
    "-",
    "0",
    "9",
    "99999999999999999999",
    "nan",
    "inf",
    "1e999",
    "[[simulate]]\n",
    "[[explore]]\n",
    "[/x]",
    "true",
    "x",
    "é",
    "\x00",
    "\\",
]


@st.composite
def mutants(draw) -> str:
    text = draw(st.sampled_from(BASES))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        what = draw(st.sampled_from(["insert", "delete", "replace"]))
        fragment = draw(st.sampled_from(FRAGMENTS))
        width = draw(st.integers(1, 8))
        if what == "insert":
            text = text[:at] + fragment + text[at:]
        elif what == "delete":
            text = text[:at] + text[at + width :]
        else:
            text = text[:at] + fragment + text[at + width :]
    return text


@FUZZ
@given(mutants())
def test_mutated_specs_parse_or_are_one_input_error(text):
    parses_or_input_error(text)


# -- through the command line ----------------------------------------------------------------

BAD = {
    "cycles-nan": SIM.replace("ops = 100", "cycles = nan"),
    "huge-range": SIM.replace('"0..2"', '"0..999999999999"'),
    "brackets": SIM.replace('name = "t"', 'name = "[/x]"').replace('"seed"]', '"[/F1]"]'),
    "nested": "x = " + "[" * 3000 + "]" * 3000,
}


def test_bad_specs_on_the_command_line_exit_2_with_one_line(tmp_path):
    procs = {}
    for name, text in BAD.items():
        spec = tmp_path / f"{name}.toml"
        spec.write_text(text)
        store = tmp_path / f"{name}.sqlite"
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "uvmsim", "sweep", "run", str(spec), "--store", str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    errors = {}
    for name, p in procs.items():
        out, errors[name] = p.communicate(timeout=60)
        assert p.returncode == 2, (name, errors[name])
        assert errors[name].count("\n") == 1, (name, errors[name])
        assert errors[name].startswith("uvmsim: error: "), (name, errors[name])
        assert out == ""
        assert not (tmp_path / f"{name}.sqlite").exists()
    assert "simulate[1].cycles: must be a finite number" in errors["cycles-nan"]
    assert "has 1,000,000,000,000 seeds; accepted: at most 100,000" in errors["huge-range"]
    assert "simulate[1].protocols: protocol '[/F1]' is unknown" in errors["brackets"]
    assert "not valid TOML: arrays or tables nested too deeply" in errors["nested"]


@pytest.mark.parametrize("text", ["", "\n", "name = 1", "[[simulate]]", "[simulate]\nx=1"])
def test_degenerate_specs(text):
    parses_or_input_error(text)
