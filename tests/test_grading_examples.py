"""Grade the example class (tests/fixtures/example_class/) and compare every test cell's points,
status and misconception with tests/fixtures/example_class/expected.json.

The whole class (every misconception of the catalogue, 317 submissions) is graded once per
test session (the ``example_class`` fixture of conftest.py) and read by every test that needs
it. ``TNN_EXAMPLES=subset`` grades a representative subset instead, for working on these
tests: for every assignment the correct, blank, partial and reference-using submissions and
one misconception, plus all hostile submissions. The self-check comparison runs on the
subset's honest submissions (it runs each notebook again, in two processes at once); on every
honest submission of the class in a ``full`` test (``python3 workbook.py test -m full``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autograder.runners.grade import grade
from grading_tools import ROOT, grades_by_student

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]  # the session grades the whole class first

EXAMPLES = ROOT / "tests" / "fixtures" / "example_class"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text())["students"] if (EXAMPLES / "expected.json").exists() \
    else {}
BASICS = ("correct", "blank", "partial", "uses-reference")


def subset() -> dict[str, list[str]]:
    """student -> assignments to grade."""
    chosen: dict[str, list[str]] = {}
    misconception_students: dict[str, list[str]] = {}
    for student, per_aid in sorted(EXPECTED.items()):
        if student in BASICS or student.startswith("hostile-"):
            chosen[student] = sorted(per_aid)
        else:
            for aid in per_aid:
                misconception_students.setdefault(aid, []).append(student)
    for i, (aid, students) in enumerate(sorted(misconception_students.items())):
        student = students[(7 * i) % len(students)]      # a different exercise in each assignment
        chosen.setdefault(student, []).append(aid)
    return chosen


@pytest.fixture(scope="module")
def graded(example_class):
    if not EXPECTED:
        pytest.skip("no example class: run tests/fixtures/example_class/build.py")
    return example_class


def graded_pairs() -> dict[str, list[str]]:
    """student -> assignments the session's grading of the example class covered."""
    if os.environ.get("TNN_EXAMPLES") == "subset":
        return subset()
    return {s: sorted(a) for s, a in EXPECTED.items()}


def test_the_subset_covers_every_kind_of_submission():
    chosen = subset()
    assert set(BASICS) <= set(chosen)
    hostile = {s for s in EXPECTED if s.startswith("hostile-")}
    assert len(hostile) >= 10 and hostile <= set(chosen)
    assert any(s not in BASICS and not s.startswith("hostile-") for s in chosen)


def test_every_misconception_of_the_catalogue_has_a_student():
    from autograder.catalogue import all_exercises, misconceptions_for
    from autograder.course import COURSE
    present = {aid for aid in COURSE if (ROOT / "solutions" / aid / f"{aid}.ipynb").exists()}
    ids = {m.id for aid in present for ex in COURSE[aid] if ex in all_exercises() for m in misconceptions_for(ex)}
    assert ids <= set(EXPECTED), f"misconceptions without an example student: {sorted(ids - set(EXPECTED))}"


def test_every_misconception_student_submits_their_own_code():
    """build.py writes each catalogued wrong variant out as the answer cell's source; none
    falls back to importing the catalogue's variant."""
    import nbformat
    from autograder.catalogue import find_misconception
    from autograder.outcomes.cells import is_answer_cell, nbgrader_meta
    students = [s for s in EXPECTED if s not in BASICS and not s.startswith("hostile-")]
    assert students
    borrowed = []
    for student in students:
        m = find_misconception(student)
        for aid in EXPECTED[student]:
            nb = nbformat.read(str(EXAMPLES / "submitted" / student / aid / f"{aid}.ipynb"), as_version=4)
            answer = next(c.source for c in nb.cells if is_answer_cell(c) and nbgrader_meta(c)["grade_id"] == m.exercise)
            if "autograder" in answer or (f"def {m.exercise}(" not in answer and f"class {m.exercise}" not in answer):
                borrowed.append(f"{student}/{aid}")
    assert not borrowed, f"answers that are not written out as code: {borrowed}"


def test_example_class_grades_exactly_as_expected(graded):
    summary, out = graded
    got = grades_by_student(out / "grades.csv")
    problems = []
    for student, aids in graded_pairs().items():
        for aid in aids:
            rows = {r["grade_id"]: (float(r["points"]), r["status"], r["misconception"])
                    for r in got.get(student, []) if r["assignment"] == aid}
            want = {g: (e["points"], e["status"], e["misconception"]) for g, e in EXPECTED[student][aid].items()}
            if rows != want:
                diff = {g: (rows.get(g), want[g]) for g in want if rows.get(g) != want[g]}
                problems.append(f"{student}/{aid}: {diff}")
    assert not problems, "\n".join(problems)


def test_each_catalogued_student_is_named_as_its_own_misconception(graded):
    """The one independent fact about a misconception student: it was written as the variant
    of misconception <student>, so grading must name exactly that misconception (on at least one
    test cell of its exercise, and no other misconception anywhere in its submission)."""
    from autograder.catalogue import find_misconception
    _, out = graded
    got = grades_by_student(out / "grades.csv")
    problems = []
    for student, aids in graded_pairs().items():
        m = find_misconception(student)
        if m is None:
            continue
        for aid in aids:
            named = {r["misconception"] for r in got.get(student, []) if r["assignment"] == aid and r["misconception"]}
            if named != {student}:
                problems.append(f"{student}/{aid}: grading named {sorted(named) or 'nothing'}")
    assert not problems, "\n".join(problems)


def test_only_the_broken_files_are_not_graded(graded):
    summary, _ = graded
    assert {s for s, _, _ in summary.not_graded} == {"hostile-invalid-json", "hostile-not-a-notebook",
                                                     "hostile-missing", "hostile-deep-json"}
    assert summary.exit_status == 1


def test_feedback_never_shows_a_hidden_test(graded):
    _, out = graded
    hidden_lines = set()
    import nbformat
    from autograder.outcomes.cells import HIDDEN
    for path in (ROOT / "solutions").glob("*/*.ipynb"):
        for cell in nbformat.read(str(path), as_version=4).cells:
            for block in HIDDEN.findall(cell.source):
                hidden_lines |= {ln.strip() for ln in block.splitlines()[1:-1] if len(ln.strip()) > 15
                                 and not ln.strip().startswith("#")}
    # a line the released notebook shows too (a visible `except ValueError:`) is not hidden
    for path in (ROOT / "notebooks").glob("*/*.ipynb"):
        for cell in nbformat.read(str(path), as_version=4).cells:
            hidden_lines -= {ln.strip() for ln in cell.source.splitlines()}
    assert hidden_lines
    for path in Path(out, "feedback").rglob("*.html"):
        import html
        text = html.unescape(path.read_text())
        leaked = [ln for ln in hidden_lines if ln in text]
        assert not leaked, f"{path}: {leaked[:2]}"
        assert "Traceback (most recent call last)" not in text and "BEGIN HIDDEN TESTS" not in text


CHECK = ("import json, sys\nfrom autograder.cli.selfcheck import run_check\n"
         "print(json.dumps([[(r['grade_id'], r['status'], r['misconception']) for r in run_check(p, timeout=20)]"
         " for p in sys.argv[1:]]))\n")


def self_check_disagreements(graded, paths: list[tuple[str, str]], processes: int = 2) -> list[str]:
    """`tnn-course check`'s evaluation (run_check: one process, visible tests only) of the
    submissions `paths` against the session's grading of them (two processes each, hidden
    tests too): a cell grading passes, the check passes; a cell the check fails, grading fails
    with the same status and misconception (hidden tests can only add failures). The notebooks
    are shared out over `processes` checking processes, run at once, each checking its share
    one after the other in one interpreter."""
    import subprocess
    import sys
    _, out = graded
    got = grades_by_student(out / "grades.csv")
    shares = [list(range(k, len(paths), processes)) for k in range(processes)]
    procs = [subprocess.Popen([sys.executable, "-c", CHECK, *(str(EXAMPLES / "submitted" / paths[i][0] / paths[i][1]
                                                               / f"{paths[i][1]}.ipynb") for i in share)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                              env=dict(os.environ, MPLBACKEND="Agg")) for share in shares if share]
    checked: dict[int, list] = {}
    for share, proc in zip([s for s in shares if s], procs):
        stdout, stderr = proc.communicate(timeout=3600)
        assert proc.returncode == 0, stderr[-3000:]
        rows = json.loads(stdout.strip().splitlines()[-1])
        assert len(rows) == len(share)
        checked.update(zip(share, rows))
    assert sorted(checked) == list(range(len(paths)))
    problems = []
    for i, (student, aid) in enumerate(paths):
        graded_rows = {r["grade_id"]: (r["status"], r["misconception"]) for r in got[student] if r["assignment"] == aid}
        assert checked[i], f"{student}/{aid}: the check evaluated no test cell"
        for gid, status, mid in checked[i]:
            g_status, g_mid = graded_rows[gid]
            if g_status == "passed" and status != "passed":
                problems.append(f"{student}/{aid} {gid}: grading passed, check says {status}")
            if status != "passed" and (status, mid) != (g_status, g_mid):
                problems.append(f"{student}/{aid} {gid}: check {status} {mid}, grading {g_status} {g_mid}")
    return problems


def test_self_check_agrees_with_grading(graded):
    """On every honest submission of the subset (for every assignment the correct, blank,
    partial and reference-using submissions and one misconception student): the self-check
    agrees with grading. Every honest submission of the class: the `full` test below."""
    paths = [(s, a) for s, aids in subset().items() if not s.startswith("hostile-") for a in aids]
    assert len({a for _, a in paths}) == len(EXPECTED["correct"]) and len(paths) >= 5 * len(EXPECTED["correct"])
    problems = self_check_disagreements(graded, paths)
    assert not problems, "\n".join(problems)


@pytest.mark.full
def test_self_check_agrees_with_grading_on_the_whole_class(graded):
    """The same on every honest submission the session graded (every misconception student
    too: 265 notebooks, ~15 min on two cores): `python3 workbook.py test -m full`."""
    paths = [(s, a) for s, aids in sorted(graded_pairs().items()) if not s.startswith("hostile-") for a in aids]
    problems = self_check_disagreements(graded, paths)
    assert not problems, "\n".join(problems)


def test_no_misconception_student_reaches_what_its_sandbox_stubs():
    """A misconception student's answers are the catalogue variant's own code: none of them
    calls an exercise of its assignment or a near-twin of one (attribute calls such as
    ``dv.log_softmax(z)``), which the grading sandbox stubs and grades as the reference used.
    The whole class grading finds this too, but late and at the cost of a class."""
    import re

    import nbformat

    from autograder.catalogue import find_misconception
    from autograder.release.shortcuts import TWINS
    from tnn_lib.topics import TOPICS

    topics = {t.id: t for t in TOPICS}
    problems = []
    for path in sorted((EXAMPLES / "submitted").glob("*/*/*.ipynb")):
        student, aid = path.parts[-3], path.parts[-2]
        if find_misconception(student) is None or aid not in topics:
            continue
        exercises = set(topics[aid].exercises)
        stubbed = exercises | {d.split(".", 1)[1] for e in exercises for d in TWINS.get(e, ())}
        calls = re.compile(r"\.(%s)\(" % "|".join(sorted(map(re.escape, stubbed))))
        for cell in nbformat.read(str(path), as_version=4).cells:
            if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                problems += [f"{student}/{aid}: .{m}(" for m in calls.findall(cell.source)]
    assert not problems, problems
