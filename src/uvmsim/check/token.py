"""Replay tokens: (protocol, scenario, parameters, schedule) in one copy-pasteable string.

`uvm1.<base64url(zlib(json))>.<crc32>`: the JSON holds the uvmsim version, the protocol (its
name, or the user's `file.py:NAME` spec, plus a digest of its switches so a changed
definition is refused), the scenario, the analyses and bounds, the schedule run-length
encoded, and a signature of the failure it reproduces.  A truncated or edited token fails
its checksum; a token from another version is refused with both versions named.
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
    """A short digest of a protocol's switch values."""
    text = json.dumps(protocol.switches(), sort_keys=True)
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


def _unrle(runs: list) -> tuple[int, ...]:
    sched: list[int] = []
    for item in runs:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(x, int) and x >= 0 for x in item)
        ):
            raise InputError("replay token: its schedule is malformed")
        sched.extend([item[0]] * item[1])
    return tuple(sched)


def encode(
    *,
    protocol,
    protocol_spec: str,
    scenario: str,
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
    raw = zlib.compress(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), 9)
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{PREFIX}.{body}.{zlib.crc32(body.encode()):08x}"


def decode(token: str) -> dict:
    """The token's contents, or an InputError saying what is wrong with it."""
    token = token.strip()
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
        doc = json.loads(zlib.decompress(raw))
    except (ValueError, zlib.error) as exc:
        raise InputError(f"replay token: cannot be decoded ({exc})") from None
    if doc.get("uvmsim") != __version__:
        raise InputError(
            f"replay token: made by uvmsim {doc.get('uvmsim')}, this is uvmsim {__version__}; "
            "replay it with that version"
        )
    for key in ("protocol", "switches", "scenario", "analyses", "max_steps", "schedule"):
        if key not in doc:
            raise InputError(f"replay token: field {key!r} is missing")
    doc["schedule"] = _unrle(doc["schedule"])
    return doc
