"""[[fuzz]] tables of a sweep spec: one campaign per protocol and seed, stored as explore rows
of scenario and strategy "fuzz"; bad fields are one line; the report lists their failures."""

import json

import pytest
from click.testing import CliRunner

from uvmsim.cli import main
from uvmsim.machine.failure import InputError
from uvmsim.sweep.report import build_report
from uvmsim.sweep.spec import parse_spec

FUZZ = """
name = "f"
[[fuzz]]
protocols = ["seed-no-dequeue-first", "seed-fixed"]
seeds = "0..1"
programs = 3
pct = 2
random = 1
"""


def test_a_fuzz_table_expands_to_one_campaign_per_protocol_and_seed():
    runs = parse_spec(FUZZ).runs
    assert [(r.protocol, r.seed, r.target, r.strategy) for r in runs] == [
        ("seed-no-dequeue-first", 0, "fuzz", "fuzz"),
        ("seed-no-dequeue-first", 1, "fuzz", "fuzz"),
        ("seed-fixed", 0, "fuzz", "fuzz"),
        ("seed-fixed", 1, "fuzz", "fuzz"),
    ]
    assert runs[0].param == {
        "programs": 3, "pct": 2, "random": 1, "faults": True, "minimize": True
    }  # fmt: skip
    assert runs[0].label() == "seed-no-dequeue-first fuzz seed 0 (3 programs)"
    other = parse_spec(FUZZ.replace("programs = 3", "programs = 4")).runs
    assert not {r.key for r in runs} & {r.key for r in other}


@pytest.mark.parametrize(
    "edit, message",
    [
        (("programs = 3\n", ""), "f.toml: fuzz[1].programs: missing; expected integer 1..1"),
        (("programs = 3", "programs = 0"), "programs: must be between 1 and 1,000,000, got 0"),
        (("pct = 2", "pct = 0\nrandom = 0"), "fuzz[1].random: pct and random cannot both be 0"),
        (("pct = 2", "pct = 2\nfaults = 1"), "fuzz[1].faults: expected true or false, got 1"),
        (("pct = 2", "pct = 2\nscenarios = ['x']"), "scenarios: unknown field; accepted: prot"),
        (("seed-fixed", "nosuch"), "fuzz[1].protocols: protocol 'nosuch' is unknown"),
    ],
)  # fmt: skip
def test_bad_fuzz_fields_are_one_line_naming_the_field(edit, message):
    text = FUZZ.replace(*edit)
    if "random = 0" in text:
        text = text.replace("random = 1\n", "")
    with pytest.raises(InputError) as exc:
        parse_spec(text, "f.toml")
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_a_fuzz_sweep_stores_campaigns_the_report_lists(tmp_path):
    spec = tmp_path / "f.toml"
    spec.write_text(FUZZ.replace('"0..1"', "[0]"))
    store = str(tmp_path / "s.sqlite")
    r = CliRunner().invoke(main, ["sweep", "run", str(spec), "--store", store, "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    report = build_report(store)
    camps = {c["protocol"]: c for c in report["campaigns"]}
    assert camps["seed-fixed"]["distinct_failures"] == 0
    assert camps["seed-no-dequeue-first"]["distinct_failures"] == 1
    (f,) = report["failures"]
    assert (f["protocol"], f["target"], f["kind"]) == ("seed-no-dequeue-first", "fuzz", "recursion")
    assert f["token"].startswith("uvm1.")
    replay = CliRunner().invoke(main, ["replay", f["token"]])
    assert replay.exit_code == 1 and "locking against myself" in replay.output
    # the same sweep again runs nothing: the store has both campaigns
    again = CliRunner().invoke(main, ["sweep", "run", str(spec), "--store", store, "-j", "1"])
    assert "2 already stored" in again.output, again.output
    assert json.loads(CliRunner().invoke(main, ["report", store, "--json"]).output)
