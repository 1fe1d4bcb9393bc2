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


# ----------------------------------------------------------------------------------------
# CPython 3.11's AST race: the grader's chance failure, graded again, never the student's loss
# ----------------------------------------------------------------------------------------
RACE = "AST constructor recursion depth mismatch (before=57, after=65)"


class _NoLimit:
    """A student process that is never asked for anything (the test cells name no exercise)."""

    def limit(self, budget):
        import contextlib
        return contextlib.nullcontext()


def _run(source: str):
    import io
    from autograder.evaluation.testcells import _run_test
    return _run_test(None, source, {}, _NoLimit(), 5.0, 5.0, set(), io.StringIO())


def test_the_race_in_a_test_cell_is_raised_to_the_worker_not_made_the_cells_verdict():
    import pytest
    with pytest.raises(SystemError, match="recursion depth mismatch"):
        _run(f"raise SystemError({RACE!r})")
    # any other SystemError of the test's own is its verdict, as before
    assert _run("raise SystemError('something else')").ename == "SystemError"
    assert _run("x = 1").ename == ""


def test_the_same_error_sent_by_the_student_process_is_the_students():
    from autograder.evaluation.testcells import interpreter_race
    from autograder.sandbox.peer import exception_from
    sent = exception_from("SystemError", "builtins", RACE)
    assert isinstance(sent, SystemError) and not interpreter_race(sent)
    assert interpreter_race(SystemError(RACE)) and not interpreter_race(RuntimeError(RACE))


def _task(tmp_path, names=("a", "b")):
    return {"student": "s", "assignment": "x", "source_dir": str(tmp_path),
            "notebooks": {n: {"layout": Layout(tests=[("t", 1.0)], answers=["f"]).to_json(), "path": str(tmp_path / n)}
                          for n in names}}


def _grader(monkeypatch, outcomes):
    """A Grader whose notebooks' gradings end, call by call, as `outcomes` says (an exception
    is raised, anything else is the state of the result)."""
    from autograder.runners import worker
    g = worker.Grader(Settings(sandbox=False))
    calls = []

    def grade_notebook(path, layout, recorded, source_dir, deadline=None):
        calls.append(path)
        what = outcomes[len(calls) - 1]
        if isinstance(what, BaseException):
            raise what
        return NotebookResult(what)
    monkeypatch.setattr(g, "grade_notebook", grade_notebook)
    monkeypatch.setattr(g, "_warm", lambda layout: None)
    return g, calls


def test_a_notebook_met_by_the_race_is_graded_again_once(monkeypatch, tmp_path):
    g, calls = _grader(monkeypatch, [SystemError(RACE), "graded", "graded"])
    out = g.grade_task(_task(tmp_path))
    assert [out["notebooks"][n]["state"] for n in ("a", "b")] == ["graded", "graded"]
    assert calls == [str(tmp_path / "a"), str(tmp_path / "a"), str(tmp_path / "b")]


def test_the_race_twice_or_another_system_error_is_a_grader_error_of_that_notebook_alone(monkeypatch, tmp_path):
    g, calls = _grader(monkeypatch, [SystemError(RACE), SystemError(RACE), "graded"])
    out = g.grade_task(_task(tmp_path))
    a, b = out["notebooks"]["a"], out["notebooks"]["b"]
    assert a["state"] == "grader-error" and "recursion depth mismatch" in a["message"] and b["state"] == "graded"
    assert len(calls) == 3
    g, calls = _grader(monkeypatch, [SystemError("other"), "graded"])
    out = g.grade_task(_task(tmp_path))
    assert out["notebooks"]["a"]["state"] == "grader-error" and out["notebooks"]["b"]["state"] == "graded"
    assert len(calls) == 2                               # not graded again
