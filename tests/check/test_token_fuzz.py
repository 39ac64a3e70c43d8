"""Replay tokens are user input: pasted, wrapped, truncated or crafted, they never give a
traceback, a hang or a memory blow-up; only a result (exit 0/1) or one line (exit 2)."""

import base64
import json
import zlib

from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from uvmsim import __version__
from uvmsim.check import token as tok
from uvmsim.cli import main
from uvmsim.machine.failure import InputError
from uvmsim.runs.check import CheckSpec, make_token, replay, run_check

SPEC = CheckSpec(protocol="seed-no-dequeue-first", scenario="flush-vs-fault")


def _valid_token() -> str:
    res = run_check(SPEC)
    assert res.failure is not None
    return make_token(SPEC, res.schedule, res.failure)


TOKEN = _valid_token()
DOC = json.loads(zlib.decompress(base64.urlsafe_b64decode(TOKEN.split(".")[1] + "=" * 4)).decode())


def _seal(doc) -> str:
    """A token around any JSON value, with a correct checksum (what a crafter would do)."""
    raw = zlib.compress(json.dumps(doc).encode())
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"uvm1.{body}.{zlib.crc32(body.encode()):08x}"


def _replays_or_refuses(token: str) -> None:
    try:
        _spec, res, _ex, _same = replay(token)
    except InputError as exc:
        text = str(exc)
        assert text and "\n" not in text
    else:
        assert res.strategy == "replay"


def test_a_token_with_line_breaks_and_spaces_replays():
    wrapped = "\n".join(TOKEN[i : i + 37] for i in range(0, len(TOKEN), 37))
    _spec, res, _ex, same = replay("  " + wrapped.replace("\n", " \n  ", 3) + "\n")
    assert same and res.failure is not None
    r = CliRunner().invoke(main, ["replay", wrapped])
    assert r.exit_code == 1, r.output


def test_a_token_naming_a_protocol_file_does_not_import_it(tmp_path):
    marker = tmp_path / "ran"
    user = tmp_path / "evil.py"
    user.write_text(f"open({str(marker)!r}, 'w').close()\n")
    doc = dict(DOC, protocol=f"{user}:P")
    r = CliRunner().invoke(main, ["replay", _seal(doc)])
    assert r.exit_code == 2
    assert "does not import a file named by a token" in r.output
    assert f"--protocol {user}:P" in r.output
    assert not marker.exists()


def test_crafted_fields_are_refused_with_the_field_named():
    cases = {
        "max_steps": (10**12, "max_steps"),
        "schedule": ([[0, 10**12]], "schedule"),
        "analyses": ({"races": "yes"}, "analyses"),
        "scenario": ("no-such", "scenario"),
    }
    for field, (value, named) in cases.items():
        r = CliRunner().invoke(main, ["replay", _seal(dict(DOC, **{field: value}))])
        assert r.exit_code == 2, (field, r.output)
        assert named in r.output
    r = CliRunner().invoke(main, ["replay", _seal(dict(DOC, schedule=[[7, 3]]))])
    assert r.exit_code == 2 and "cpu 7" in r.output


def test_a_decompression_bomb_is_refused():
    body_doc = dict(DOC, failure="x" * (tok.MAX_JSON_BYTES + 10))
    r = CliRunner().invoke(main, ["replay", _seal(body_doc)])
    assert r.exit_code == 2 and "exceed" in r.output


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(sorted(set(DOC) | {"extra"})),
    value=json_values,
    drop=st.booleans(),
)
# Found by this test once: a version field with a newline made the refusal two lines.
@example(field="uvmsim", value="\n", drop=False)
def test_crafted_documents_with_valid_checksums(field, value, drop):
    doc = dict(DOC)
    if drop:
        doc.pop(field, None)
    else:
        doc[field] = value
    _replays_or_refuses(_seal(doc))


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "cut", "insert", "space"]),
            st.integers(0, len(TOKEN) - 1),
            st.characters(codec="ascii"),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_tokens(edits):
    t = TOKEN
    for op, at, ch in edits:
        at %= max(1, len(t))
        if op == "flip":
            t = t[:at] + ch + t[at + 1 :]
        elif op == "cut":
            t = t[:at]
        elif op == "insert":
            t = t[:at] + ch + t[at:]
        else:
            t = t[:at] + " \n\t" + t[at:]
    _replays_or_refuses(t)


def test_the_command_line_maps_every_mutant_to_0_1_or_2():
    # a sample through the whole command (click, rendering, exit codes), not only replay()
    runner = CliRunner()
    for i in range(0, len(TOKEN), max(1, len(TOKEN) // 40)):
        for bad in (TOKEN[:i], TOKEN[:i] + "A" + TOKEN[i + 1 :]):
            r = runner.invoke(main, ["replay", bad])
            assert r.exit_code in (0, 1, 2), (bad, r.output)
            assert "Traceback" not in r.output
    r = runner.invoke(main, ["replay", _seal(dict(DOC, uvmsim="0.0"))])
    assert r.exit_code == 2 and f"this is uvmsim {__version__}" in r.output


def test_a_token_of_a_protocol_file_replays_when_the_file_is_named_again():
    user = "examples/my_diff.py:SEED_MISSED_ANFREE"
    r = CliRunner().invoke(main, ["check", "-p", user, "-s", "pageclean-race", "--json"])
    token = json.loads(r.output)["replay_token"]
    refused = CliRunner().invoke(main, ["replay", token])
    assert refused.exit_code == 2 and f"--protocol {user}" in refused.output
    again = CliRunner().invoke(main, ["replay", "--protocol", user, token])
    assert again.exit_code == 1, again.output
    other = CliRunner().invoke(main, ["replay", "--protocol", "seed", token])
    assert other.exit_code == 2 and "not 'seed'" in other.output


def test_a_token_in_pieces_or_on_stdin_replays():
    half = len(TOKEN) // 2
    r = CliRunner().invoke(main, ["replay", TOKEN[:half], TOKEN[half:]])
    assert r.exit_code == 1, r.output
    r = CliRunner().invoke(main, ["replay", "-"], input=TOKEN[:half] + "\n" + TOKEN[half:] + "\n")
    assert r.exit_code == 1, r.output
