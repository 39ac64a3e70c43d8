"""The whole review: JSON shape, failures first, mutation score, the HTML report."""

import shutil
import subprocess

import pytest

from uvmsim.review.questions import Bounds
from uvmsim.review.render import to_json, write_html
from uvmsim.review.run import run_review

SMALL = Bounds(
    max_executions=1500, campaign_executions=40, sim_ops=400, sim_cpus=(8,), mutant_executions=150
)


@pytest.fixture(scope="module")
def review():
    return run_review("seed", "openbsd-pre", bounds=SMALL)


def test_every_question_has_a_computed_verdict(review):
    doc = to_json(review)
    assert [q["id"] for q in doc["questions"]] == [f"R{i}" for i in range(1, 10)]
    assert {q["verdict"] for q in doc["questions"]} <= {"holds", "fails", "measured"}
    assert all(q["summary"] for q in doc["questions"])


def test_failures_of_the_reviewed_protocol_come_first_with_a_token(review):
    doc = to_json(review)
    assert doc["failures"] and doc["failures"][0]["finding"] == "F1"
    assert doc["failures"][0]["replay_token"].startswith("uvm1.")


def test_mutation_score_and_every_survivor_explained(review):
    doc = to_json(review)["mutation"]
    assert doc["total"] == 20  # one mutant per switch of the diff
    assert doc["killed"] >= 12
    for m in doc["mutants"]:
        assert m["how"], m


def test_html_report_renders_in_headless_chromium(review, tmp_path):
    index = write_html(review, str(tmp_path / "report"))
    with open(index) as fh:
        page = fh.read()
    assert "<table id='verdicts'>" in page and "R9" in page
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
