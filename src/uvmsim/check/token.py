"""Replay tokens: (protocol, scenario, parameters, schedule) in one copy-pasteable string.

`uvm1.<base64url(zlib(json))>.<crc32>`: the JSON holds the uvmsim version, the protocol (its
name, or the user's `file.py:NAME` spec, plus a digest of its switches so a changed
definition is refused), the scenario (and its sizes, when grown), the analyses and bounds,
the schedule run-length encoded, and a signature of the failure it reproduces.  A truncated
or edited token fails its checksum; a token from another version is refused with both
versions named.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

from uvmsim import __version__
from uvmsim.machine.failure import Failure, InputError

PREFIX = "uvm1"


def switches_digest(protocol) -> str:
    """A short digest of a protocol's switch values (those it says a digest covers, when it
    says: see `Protocol.digest_switches`, which keeps tokens printed before a switch was
    added replayable)."""
    values = getattr(protocol, "digest_switches", protocol.switches)()
    text = json.dumps(values, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def failure_signature(f: Failure | None) -> str:
    """What must be the same for two failures to be "the same failure"."""
    if f is None:
        return ""
    if f.kind == "data-race":
        field = f.message.split(":", 1)[0]
        return f"{f.kind}|{field}|{'|'.join(sorted(s.split(' at ', 1)[-1] for s in f.sites))}"
    return f"{f.kind}|{f.message}"


def _rle(schedule: tuple[int, ...]) -> list[list[int]]:
    out: list[list[int]] = []
    for c in schedule:
        if out and out[-1][0] == c:
            out[-1][1] += 1
        else:
            out.append([c, 1])
    return out


def _unrle(runs: list, max_steps: int) -> tuple[int, ...]:
    """Expand [[cpu, count], ...]; at most `max_steps` choices, CPUs below MAX_CPUS."""
    sched: list[int] = []
    for item in runs:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
            and 0 <= item[0] < MAX_CPUS
            and item[1] >= 1
        ):
            raise _bad("schedule", "is malformed (expected [[cpu, count], ...])")
        if len(sched) + item[1] > max_steps:
            raise _bad("schedule", f"is longer than the token's max_steps ({max_steps})")
        sched.extend([item[0]] * item[1])
    return tuple(sched)


def encode(
    *,
    protocol,
    protocol_spec: str,
    scenario: str,
    sizes: dict[str, int] | None = None,
    analyses: dict,
    max_steps: int,
    schedule_covered: bool,
    schedule: tuple[int, ...],
    failure: Failure | None,
) -> str:
    doc = {
        "uvmsim": __version__,
        "protocol": protocol_spec,
        "switches": switches_digest(protocol),
        "scenario": scenario,
        "analyses": analyses,
        "max_steps": max_steps,
        "covered": schedule_covered,
        "schedule": _rle(schedule),
        "failure": failure_signature(failure),
    }
    if sizes:  # only a grown scenario's: the tokens of original shapes stay as they were
        doc["sizes"] = dict(sorted(sizes.items()))
    raw = zlib.compress(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), 9)
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{PREFIX}.{body}.{zlib.crc32(body.encode()):08x}"


# Limits on what a token may carry, checked before anything is used: a token is user input
# (pasted, possibly crafted), and a valid checksum proves nothing about its contents.
MAX_TOKEN_CHARS = 1_000_000
MAX_JSON_BYTES = 4_000_000
MAX_STEPS = 1_000_000
MAX_CPUS = 1024
MAX_TEXT = 4096
_FIELDS = {
    "uvmsim": str,
    "protocol": str,
    "switches": str,
    "scenario": str,
    "analyses": dict,
    "max_steps": int,
    "covered": bool,
    "schedule": list,
    "failure": str,
    "sizes": dict,
}


def _bad(field: str, text: str) -> InputError:
    return InputError(f"replay token: field {field!r} {text}")


def _inflate(raw: bytes) -> bytes:
    """zlib-decompress at most MAX_JSON_BYTES (a crafted token cannot exhaust memory)."""
    d = zlib.decompressobj()
    out = d.decompress(raw, MAX_JSON_BYTES)
    if d.unconsumed_tail:
        raise InputError(f"replay token: its contents exceed {MAX_JSON_BYTES} bytes")
    return out


def decode(token: str) -> dict:
    """The token's contents, validated field by field, or an InputError saying what is wrong.

    Whitespace anywhere in the token is ignored, so a token pasted with the line breaks of a
    narrow terminal or an e-mail still replays.
    """
    if not isinstance(token, str):
        raise InputError("replay token: not a string")
    token = "".join(token.split())
    if len(token) > MAX_TOKEN_CHARS:
        raise InputError(f"replay token: longer than {MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InputError(
            "replay token: not a uvmsim token (expected uvm1.<data>.<checksum>, as printed "
            "after 'uvmsim replay')"
        )
    _, body, crc = parts
    if f"{zlib.crc32(body.encode()):08x}" != crc:
        raise InputError("replay token: checksum mismatch (the token was truncated or edited)")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        doc = json.loads(_inflate(raw))
    except InputError:
        raise
    except (ValueError, zlib.error, RecursionError) as exc:
        raise InputError(f"replay token: cannot be decoded ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise InputError("replay token: its contents are not a JSON object")
    if doc.get("uvmsim") != __version__:
        made = doc.get("uvmsim")
        ok = isinstance(made, str) and len(made) < 40 and made.isprintable()
        made = made if ok else "an unknown version"  # the error stays one printable line
        raise InputError(
            f"replay token: made by uvmsim {made}, this is uvmsim {__version__}; "
            "replay it with that version"
        )
    doc.setdefault("covered", True)
    doc.setdefault("failure", "")
    doc.setdefault("sizes", {})
    for key, kind in _FIELDS.items():
        if key not in doc:
            raise InputError(f"replay token: field {key!r} is missing")
        value = doc[key]
        # bool is an int in Python: keep the two apart
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _bad(key, f"must be a {kind.__name__}, got {type(value).__name__}")
        if kind is str and len(value) > MAX_TEXT:
            raise _bad(key, f"is longer than {MAX_TEXT} characters")
    if not 1 <= doc["max_steps"] <= MAX_STEPS:
        raise _bad("max_steps", f"must be between 1 and {MAX_STEPS}, got {doc['max_steps']}")
    for name, value in doc["sizes"].items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_CPUS:
            raise _bad(
                "sizes", f"must map size names to integers 1..{MAX_CPUS} ({name!r} does not)"
            )
    for name, flag in doc["analyses"].items():
        if not isinstance(flag, bool):
            raise _bad("analyses", f"must map analysis names to true/false ({name!r} does not)")
    doc["schedule"] = _unrle(doc["schedule"], doc["max_steps"])
    return doc
