"""Run the visible test cells of notebooks and print, as JSON, each cell's status,
misconception and message: ``python edition_messages.py LIST.json`` with the package to use
first on PYTHONPATH (the repository's, or a student edition's). LIST.json: [[key, path], ...].

Each notebook starts as a `tnn-course check` of its own process would: nothing registered by
an earlier notebook's checks (in the edition, a passing check registers the student's function
for the lessons and widgets: a notebook of 00 must not lend its numerical_gradient to 03).

The student's process runs the cells grading would run (its answers and the lesson cells they
need), then the test cells with grading's own evaluation, as ``tnn-course check`` does.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def messages(path: str) -> list:
    from autograder.evaluation.testcells import LocalStudent, cells_to_run, evaluate_tests, setup_cells
    from autograder.outcomes.cells import is_answer_cell, is_test_cell, nbgrader_meta, safe_lines, visible_source
    from autograder.evaluation.submission import load_notebook
    try:
        from tnn_lib import student as registry
        registry.forget()
        registry._MISSING.clear()
    except ImportError:
        pass
    nb, _, message = load_notebook(path)
    if nb is None:
        return [["invalid", message]]
    answers = [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_answer_cell(c)]
    tests = [(nbgrader_meta(c).get("grade_id", "?"), c.source, float(nbgrader_meta(c).get("points", 0) or 0))
             for c in nb.cells if is_test_cell(c)]
    lesson = [c.source for c in nb.cells if c.cell_type == "code" and not is_test_cell(c) and not is_answer_cell(c)]
    cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_test_cell(c)]
    idx = {i for i, c in enumerate(nb.cells) if is_answer_cell(c)}
    student = LocalStudent(cells_to_run(cells, lesson, idx), 60, cwd=str(Path(path).resolve().parent))
    student.run_all()
    stubs = {nbgrader_meta(nb.cells[i])["grade_id"] for i, r in student.results.items()
             if is_answer_cell(nb.cells[i]) and r.get("ename") == "NotImplementedError"}
    shown = {gid: safe_lines(visible_source(src)) for gid, src, _ in tests}
    rows = evaluate_tests(tests, answers, student, setup_cells(lesson, [t[1] for t in tests], answers), 60,
                          visible_of=shown.get, unanswered=stubs)
    return [[r["grade_id"], r["status"], r["misconception"], r["message"]] for r in rows]


if __name__ == "__main__":
    out = {}
    for key, path in json.loads(Path(sys.argv[1]).read_text()):
        try:
            out[key] = messages(path)
        except Exception as err:  # noqa: BLE001 - reported, compared
            out[key] = [["error", f"{type(err).__name__}: {err}"]]
    print(json.dumps(out))
