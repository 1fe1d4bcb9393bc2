"""Grading one notebook is declared once, as a list of stages (autograder/evaluation/pipeline.py),
and `tnn-course grade` and `tnn-course check` run that same list."""
from __future__ import annotations

import nbformat

from autograder.evaluation import pipeline
from autograder.records import Layout, NotebookResult
from autograder.settings import Settings

from conftest import ROOT


def test_the_stages_are_the_pipeline_of_the_issue_in_order():
    assert [s.__name__ for s in pipeline.STAGES] == ["load", "sanitise", "student_process", "test_cells",
                                                     "reference_scan", "notes", "autograded"]


def _recording(monkeypatch, module):
    seen = []

    def run_stages(g, stages=pipeline.STAGES):
        seen.append((type(g).__name__, tuple(stages)))
        return NotebookResult("graded")
    monkeypatch.setattr(module, "run_stages", run_stages)
    return seen


def test_grade_and_check_run_the_same_stages(monkeypatch, tmp_path):
    from autograder.cli import selfcheck
    from autograder.runners import worker
    seen = _recording(monkeypatch, pipeline)
    seen_worker = _recording(monkeypatch, worker)
    selfcheck.run_check(tmp_path / "nb.ipynb")
    worker.Grader(Settings(sandbox=False)).grade_notebook(tmp_path / "nb.ipynb", Layout(), {}, str(tmp_path))
    assert seen == [("NotebookGrading", pipeline.STAGES)]
    assert seen_worker == [("NotebookGrading", pipeline.STAGES)]


def test_a_stage_that_finds_the_notebook_ungradable_ends_the_list():
    ran = []
    lay = Layout(tests=[("test_a", 2.0)], answers=["a"])
    g = pipeline.NotebookGrading(None, Settings(), start_student=lambda *a: ran.append("student"), layout=lay)
    result = pipeline.run_stages(g)
    assert ran == [] and result.state == "missing-notebook"
    assert [(c.grade_id, c.exercise, c.max_points, c.status) for c in result.cells] == \
        [("test_a", "a", 2.0, "missing-notebook")]


def test_the_layout_of_a_notebook_without_its_source_is_read_from_it():
    """The self-check's layout (no source notebook: the student's own) has the same tests,
    answers and setup cells as grading's layout of the source for an untouched release."""
    from autograder.runners.grade import layout_of
    src = ROOT / "solutions" / "00_backprop" / "00_backprop.ipynb"
    released = ROOT / "notebooks" / "00_backprop" / "00_backprop.ipynb"
    graded, checked = layout_of(src), pipeline.layout_of_notebook(nbformat.read(str(released), as_version=4))
    assert checked.answers == graded.answers and [g for g, _ in checked.tests] == [g for g, _ in graded.tests]
    assert [p for _, p in checked.tests] == [p for _, p in graded.tests]
    assert checked.order == graded.order
    assert Layout.from_json(graded.to_json()) == graded     # JSON across a process boundary
