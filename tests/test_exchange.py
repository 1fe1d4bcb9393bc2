"""The whole course cycle through nbgrader's own exchange commands: the instructor releases
with `nbgrader release_assignment`; three students, each with their own home directory,
`fetch_assignment`, answer and `submit` (one after the due date); the instructor runs
`nbgrader collect`, grades with `tnn-course grade submitted/` and returns OUR feedback
pages with `nbgrader release_feedback`; the students get them with `fetch_feedback`."""
from __future__ import annotations

import csv
import html
import time
from datetime import datetime, timezone

import pytest

from exchange_tools import (BN_CORRECT, BN_UNBIASED, answer, make_course, make_student, nbgrader,
                            times_table, tnn_course)
from test_student_edition import secret_lines

AID = "02_batchnorm"


@pytest.mark.slow
def test_release_fetch_submit_collect_grade_release_and_fetch_feedback(tmp_path):
    setup = make_course(tmp_path)
    course, exchange, ihome = setup["course"], setup["exchange"], setup["home"]
    nbgrader("db", "assignment", "add", AID, cwd=course, home=ihome)
    nbgrader("release_assignment", AID, cwd=course, home=ihome)
    assert (exchange / "tnn-workbook" / "outbound" / AID / f"{AID}.ipynb").read_bytes() == \
        (course / "notebooks" / AID / f"{AID}.ipynb").read_bytes()

    answers = {"alice": BN_CORRECT, "bob": BN_UNBIASED, "carol": BN_CORRECT}
    homes = {s: make_student(tmp_path, s, exchange) for s in answers}
    t0 = time.monotonic()
    for s in ("alice", "bob"):
        nbgrader("fetch_assignment", AID, cwd=homes[s], home=homes[s])
        answer(homes[s] / AID / f"{AID}.ipynb", "batchnorm_forward", answers[s])
        nbgrader("submit", AID, cwd=homes[s], home=homes[s])
    # the due date passes: carol's submission comes after it (nbgrader's timestamps decide)
    due = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    nbgrader("db", "assignment", "add", AID, f"--duedate={due}", cwd=course, home=ihome)
    nbgrader("fetch_assignment", AID, cwd=homes["carol"], home=homes["carol"])
    answer(homes["carol"] / AID / f"{AID}.ipynb", "batchnorm_forward", answers["carol"])
    nbgrader("submit", AID, cwd=homes["carol"], home=homes["carol"])

    nbgrader("collect", AID, cwd=course, home=ihome)
    assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted(answers)
    graded = tnn_course("grade", "submitted/", "--workers", "1", "-q", cwd=course, home=ihome)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "feedback for `nbgrader release_feedback`: 3 pages" in graded.stdout
    for s in answers:   # our page, with what release_feedback needs next to it
        folder = course / "feedback" / s / AID
        assert (folder / f"{AID}.html").read_bytes() == (course / "grading" / "feedback" / s / f"{AID}.html").read_bytes()
        assert (folder / "timestamp.txt").read_text() == (course / "submitted" / s / AID / "timestamp.txt").read_text()
    nbgrader("release_feedback", AID, cwd=course, home=ihome)
    pages = {}
    for s in answers:
        nbgrader("fetch_feedback", AID, cwd=homes[s], home=homes[s])
        found = sorted((homes[s] / AID / "feedback").glob(f"*/{AID}.html"))
        assert len(found) == 1, found
        pages[s] = found[0].read_text(encoding="utf-8")
    cycle = time.monotonic() - t0
    print(f"\nfetch -> submit -> collect -> grade -> release_feedback -> fetch_feedback, 3 students: {cycle:.1f} s\n"
          f"  per command (median): {times_table()}")

    # the students hold the pages grading wrote: misconception named, no hidden test anywhere
    for s, page in pages.items():
        assert page == (course / "grading" / "feedback" / s / f"{AID}.html").read_text(encoding="utf-8")
    assert "Misconception: you normalised with the unbiased variance" in pages["bob"]
    assert "Misconception:" not in pages["alice"]
    hidden = [s for s, kind in secret_lines().items() if kind == "hidden"]
    for s, page in pages.items():
        text = html.unescape(page)
        assert not [h for h in hidden if h in text], s

    # lateness: nbgrader's timestamp against the due date, in grades.csv (last column) and the report
    with open(course / "grading" / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    assert header[:7] == ["student", "assignment", "grade_id", "points", "max_points", "status", "misconception"]
    assert header[-1] == "seconds_late"
    late = {r["student"]: float(r["seconds_late"]) for r in rows}
    assert late["alice"] == late["bob"] == 0.0 and late["carol"] > 0.0
    stamp = (course / "submitted" / "carol" / AID / "timestamp.txt").read_text().strip()
    from nbgrader.utils import parse_utc
    assert late["carol"] == pytest.approx((parse_utc(stamp) - parse_utc(due)).total_seconds(), abs=1e-3)
    report = (course / "grading" / "report.html").read_text(encoding="utf-8")
    assert "1 late" in report and report.count("on time") == 2 and "late by" in report
    bob = {r["grade_id"]: r for r in rows if r["student"] == "bob"}
    assert bob["test_batchnorm_forward"]["status"] == "misconception"
