"""The whole review: JSON shape, failures first, mutation score, the HTML report."""

import dataclasses
import re
import shutil
import subprocess

import pytest

from uvmsim.review.render import distinct_counterexamples, render_text, to_json, write_html


@pytest.fixture(scope="module")
def review(small_review):
    return small_review


def test_every_question_has_a_computed_verdict_and_a_control_that_flipped(review):
    doc = to_json(review)
    assert [q["id"] for q in doc["questions"]] == [f"R{i}" for i in range(1, 10)]
    verdicts = {q["id"]: q["verdict"] for q in doc["questions"]}
    assert verdicts == {
        "R1": "holds",
        "R2": "fails",
        "R3": "holds",
        "R4": "measured",
        "R5": "holds",
        "R6": "holds",
        "R7": "measured",
        "R8": "measured",
        "R9": "fails",
    }
    for q in doc["questions"]:
        assert q["summary"]
        control = q["control"]
        assert control is not None and control["flipped"] is True, q["id"]
        assert control["expected"] == {"holds": "fires", "fails": "silent"}.get(
            q["verdict"], control["expected"]
        )


def test_failures_of_the_reviewed_protocol_come_first_with_a_token(review):
    doc = to_json(review)
    assert doc["failures"] and doc["failures"][0]["finding"] == "F1"
    assert doc["failures"][0]["replay_token"].startswith("uvm1.")


def test_mutation_score_and_every_survivor_explained_from_its_own_runs(review):
    doc = to_json(review)["mutation"]
    assert doc["total"] == 20  # one mutant per switch of the diff
    assert doc["killed"] == 14
    survivors = [m for m in doc["mutants"] if m["status"] == "survives"]
    assert len(survivors) == 6
    for m in survivors:
        # what the flip changed where it runs, and what the explorations covered
        assert re.search(r"in [\w-]+ it changes (lock acquisitions|no lock acquisition)", m["how"])
        assert "no new or lost failure in " in m["how"], m


def test_html_report_renders_in_headless_chromium(review, tmp_path):
    index = write_html(review, str(tmp_path / "report"))
    with open(index) as fh:
        page = fh.read()
    assert "<table id='verdicts'>" in page and "R9" in page
    # R8's plot: spin and real-time gain over the review's CPU counts
    assert "<img src='r8.png'" in page and (tmp_path / "report" / "r8.png").stat().st_size > 0
    assert "<td>make kernel build</td>" in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip(
            "chromium is not installed: `apt-get install chromium` (.ci/run does it) "
            "to run the browser test"
        )
    out = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=2000",
            "--dump-dom",
            f"file://{index}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-verdicts-visible="yes"' in out.stdout, out.stderr[-2000:]
    assert "R1" in out.stdout and "mutation analysis" in out.stdout


def test_html_shows_each_counterexample_once_and_links_it_from_the_verdicts(review, tmp_path):
    with open(write_html(review, str(tmp_path / "report"))) as fh:
        page = fh.read()
    distinct = distinct_counterexamples(review)
    assert distinct
    # Before: the F1 counterexample three times (the failures, then R2's and R9's).
    assert page.count("<pre class='token'>") == len(distinct)
    for n, cx in enumerate(distinct, start=1):
        assert page.count(f"uvmsim replay {cx.token}") == 1
        assert page.count(f"id='cx{n}'") == 1
    failing = [v for v in review.verdicts if v.id in review.question_examples]
    assert failing
    assert page.count("<a href='#cx") == len(failing)
    # Cells are wrapped by the browser, never cut by uvmsim: no ellipsis, full names.
    assert "…" not in page
    assert "uvmpd_trylockowner: read pg6.uobject" in page
    # The steps the failure depends on are highlighted.
    assert re.search(r"<mark> *\d+ &gt;", page)


def _text(review, monkeypatch, capsys, columns: int = 80) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    render_text(review, timing=False)
    return capsys.readouterr().out


def test_text_at_80_columns_prints_each_token_whole_on_its_own_line(review, monkeypatch, capsys):
    out = _text(review, monkeypatch, capsys)
    lines = out.splitlines()
    for cx in distinct_counterexamples(review):
        assert lines.count(cx.token) == 1, "the token must be alone on one line, unwrapped"
        assert lines[lines.index(cx.token) - 1] == "replay: uvmsim replay \\"
    assert "…" not in out
    # Printed once, and referred to by number from the failing verdicts.
    assert out.count("counterexample #1:") == 1
    assert "(counterexample #1 above:" in out
    # The interleaving fits 80 columns.
    start = out.index("counterexample #1:")
    view = out[start : out.index("model stacks at the failure:", start)]
    assert all(len(line) <= 80 for line in view.splitlines()[3:] if not line.startswith("panic"))


def test_user_text_with_square_brackets_is_printed_as_written(review, monkeypatch, capsys):
    odd = dataclasses.replace(review, protocol="[/x]", description="a diff [/F1] [bold]")
    out = _text(odd, monkeypatch, capsys, columns=120)
    assert "protocol [/x] (a diff [/F1] [bold])" in out
    assert "Failures found in [/x] itself" in out
