"""Each exercise is graded on its own: a test of X never depends on the student's Y.

For every exercise X of every assignment, a submission that answers X alone (the blank
notebook with the correct answer cell of X and of any exercise that answer calls itself,
every other exercise left as its stub) must get
every point of X's test cells: a backward is tested with the reference forward's cache, and
no test cell of X calls the student's Y. Statically, no graded test cell reads the name of
another exercise of its notebook.
"""
from __future__ import annotations

import json

import nbformat
import pytest

from autograder.course import COURSE
from autograder.evaluation.testcells import free_names
from autograder.runners.grade import grade
from autograder.outcomes.cells import exercise_of, is_answer_cell, is_test_cell, nbgrader_meta
from grading_tools import ROOT

EXAMPLES = ROOT / "tests" / "fixtures" / "example_class" / "submitted"


def _answers(nb):
    return {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if is_answer_cell(c)}


@pytest.mark.parametrize("aid", sorted(COURSE))
def test_no_test_cell_reads_another_exercise(aid):
    nb = nbformat.read(str(ROOT / "solutions" / aid / f"{aid}.ipynb"), as_version=4)
    answers = list(_answers(nb))
    crossing = []
    for cell in nb.cells:
        if is_test_cell(cell):
            own = exercise_of(nbgrader_meta(cell)["grade_id"], answers)
            others = (free_names(cell.source) & set(answers)) - {own}
            if others:
                crossing.append((nbgrader_meta(cell)["grade_id"], sorted(others)))
    assert not crossing, crossing


@pytest.mark.slow
def test_an_exercise_answered_alone_gets_all_its_points(tmp_path):
    subs, want = tmp_path / "submitted", {}
    expected = json.loads((ROOT / "tests" / "fixtures" / "example_class" / "expected.json").read_text())["students"]["correct"]
    for aid, exercises in sorted(COURSE.items()):
        correct = nbformat.read(str(EXAMPLES / "correct" / aid / f"{aid}.ipynb"), as_version=4)
        good = _answers(correct)
        for ex in exercises:
            # X alone, with whatever of the student's own functions X's answer itself calls
            # (04's activation_statistics builds its weights with the student's init_weights)
            needed = {ex} | {other for other in exercises if other != ex and other in free_names(good[ex])}
            nb = nbformat.read(str(EXAMPLES / "blank" / aid / f"{aid}.ipynb"), as_version=4)
            for cell in nb.cells:
                if is_answer_cell(cell) and nbgrader_meta(cell)["grade_id"] in needed:
                    cell.source = good[nbgrader_meta(cell)["grade_id"]]
            student = f"only-{ex}".replace("_", "-")
            (subs / student / aid).mkdir(parents=True)
            nbformat.write(nb, str(subs / student / aid / f"{aid}.ipynb"))
            want[(student, aid)] = {g: e["points"] for g, e in expected[aid].items()
                                    if exercise_of(g, list(good)) == ex}
    summary = grade(subs, workers=2, timeout=20, output=tmp_path / "out", db_url=f"sqlite:///{tmp_path / 'gb.db'}",
                    root=ROOT, progress=False)
    problems = []
    for r in summary.results:
        cells = {c["grade_id"]: c for c in r["notebooks"][r["assignment"]]["cells"]}
        for gid, points in want[(r["student"], r["assignment"])].items():
            if cells[gid]["points"] != points:
                problems.append(f"{r['student']}/{r['assignment']} {gid}: {cells[gid]['points']} of {points} "
                                f"({cells[gid]['status']}: {cells[gid]['message'][:160]})")
    assert len(summary.results) == len(want) and not problems, "\n".join(problems)
