"""Grades out of the course (autograder/gradebook/lms_export.py): `nbgrader export` itself, run with the
Canvas and Moodle plugins on a real nbgrader gradebook, writes the columns those systems'
grade imports document (INSTRUCTORS.md), per assignment and for the course, with the scores
nbgrader computes (late penalty included) and 0 for a missing submission."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

# the layouts as Canvas's and Moodle's grade-import guides state them (written out here, not
# imported from the module under test)
CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE = ["First name", "Last name", "ID number", "Email address"]

STUDENTS = {"ada": ("Ada", "Lovelace", "ada@uni.example", "S-1"), "bob": ("Bob", "O'Neil, Jr", None, None),
            "cy": ("", "", None, None)}
# (assignment, student): points per grade cell; assignments have cells worth 2 + 3 points
POINTS = {("00_backprop", "ada"): (2.0, 3.0), ("00_backprop", "bob"): (1.5, 0.0),
          ("01_divergences", "ada"): (0.5, 1.0), ("01_divergences", "cy"): (2.0, 2.5)}
PENALTY = {("01_divergences", "cy"): 1.0}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from autograder.gradebook.writer import prepare
    from nbgrader.api import Gradebook
    prepare()      # nbgrader's alembic revision without its `alembic` subprocess
    path = tmp_path_factory.mktemp("gb") / "gradebook.db"
    url = f"sqlite:///{path}"
    with Gradebook(url) as gb:
        for sid, (first, last, email, lms) in STUDENTS.items():
            gb.add_student(sid, first_name=first, last_name=last, email=email, lms_user_id=lms)
        for aid in ("00_backprop", "01_divergences"):
            gb.add_assignment(aid)
            gb.add_notebook(aid, aid)
            for i, pts in enumerate((2.0, 3.0)):
                gb.add_grade_cell(f"test_{i}", aid, aid, max_score=pts, cell_type="code")
        for (aid, sid), scores in POINTS.items():
            gb.add_submission(aid, sid)
            for i, pts in enumerate(scores):
                grade = gb.find_grade(f"test_{i}", aid, aid, sid)
                grade.manual_score = pts
            if (aid, sid) in PENALTY:
                nb = gb.find_submission_notebook(aid, aid, sid)
                nb.late_submission_penalty = PENALTY[(aid, sid)]
            gb.db.commit()
    return url


ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
       "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


def _export(db, exporter, *args, cwd):
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--exporter=autograder.gradebook.lms_export.{exporter}",
                           "--db", db, *args], cwd=cwd, capture_output=True, text=True,
                          env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _expected(aid, sid):
    return sum(POINTS.get((aid, sid), (0.0, 0.0))) - PENALTY.get((aid, sid), 0.0)


def test_canvas_file_for_the_course(db, tmp_path):
    _export(db, "CanvasExport", "--to", "canvas.csv", cwd=tmp_path)
    rows = _read(tmp_path / "canvas.csv")
    assert rows[0] == CANVAS + ["00_backprop", "01_divergences"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5:] == ["5", "5"]
    body = {r[3]: r for r in rows[2:]}
    assert set(body) == set(STUDENTS)
    assert body["ada"][:5] == ["Lovelace, Ada", "", "S-1", "ada", ""]
    assert body["bob"][0] == "O'Neil, Jr, Bob" and body["cy"][0] == "cy"
    for sid, row in body.items():
        assert [float(x) for x in row[5:]] == [_expected("00_backprop", sid), _expected("01_divergences", sid)]
    assert float(body["cy"][6]) == 3.5 and float(body["bob"][6]) == 0.0


def test_moodle_file_per_assignment(db, tmp_path):
    _export(db, "MoodleExport", "--to", "out", "--MoodleExport.per_assignment=True", cwd=tmp_path)
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["00_backprop.csv", "01_divergences.csv"]
    for aid in ("00_backprop", "01_divergences"):
        rows = _read(tmp_path / "out" / f"{aid}.csv")
        assert rows[0] == MOODLE + [aid]
        body = {r[2]: r for r in rows[1:]}
        assert set(body) == set(STUDENTS)
        assert body["ada"][:4] == ["Ada", "Lovelace", "ada", "ada@uni.example"]
        for sid, row in body.items():
            assert float(row[4]) == _expected(aid, sid)


def test_one_assignment_and_one_student_and_a_wrong_name(db, tmp_path):
    _export(db, "CanvasExport", "--to", "c.csv", "--assignment", "['01_divergences']", "--student", "['cy']",
            cwd=tmp_path)
    rows = _read(tmp_path / "c.csv")
    assert rows[0] == CANVAS + ["01_divergences"] and len(rows) == 3 and rows[2][3] == "cy"
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--exporter=autograder.gradebook.lms_export.MoodleExport",
                           "--db", db, "--to", "m.csv", "--assignment", "['02_nope']"], cwd=tmp_path,
                          capture_output=True, text=True,
                          env=ENV)
    assert proc.returncode != 0 and "02_nope" in proc.stdout + proc.stderr
    assert not (tmp_path / "m.csv").exists()
