"""Grading one notebook, declared once as a list of stages.

As nbgrader's converters run a list of preprocessors (``converters/autograde.py``), grading
runs :data:`STAGES` over one :class:`NotebookGrading`; ``tnn-course grade`` (a worker's
:class:`~autograder.runners.worker.Grader`) and ``tnn-course check``
(:mod:`autograder.cli.selfcheck`) run the same list and differ only in what they hand it:

========================  =================================  ================================
stage                     grading                            the self-check
========================  =================================  ================================
:func:`load`              the submitted file (or its bytes)  the student's notebook; its
                          and the source's :class:`Layout`   layout read from the notebook
:func:`sanitise`          nbgrader's preprocessors           nothing (it is the student's copy)
:func:`student_process`   a sandboxed process                this process (an IPython shell)
:func:`test_cells`        every test cell, hidden included   the visible test cells
:func:`reference_scan`    answers that use their own         the same
                          exercise's reference fail
:func:`notes`             what the student should know       (computed, not printed)
:func:`autograded`        the notebook with the grader's     the same (not written)
                          outputs, and the result
========================  =================================  ================================

A stage that finds the notebook cannot be graded sets :attr:`NotebookGrading.result`, and
the stages after it do not run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import nbformat

from autograder.checks import REFERENCE_TAG
from autograder.evaluation.integrity import parse_cell, reference_use_parsed
from autograder.evaluation.submission import load_notebook
from autograder.evaluation.testcells import cells_to_run, evaluate_tests, setup_cells
from autograder.outcomes.cells import (clean, error_output, is_answer_cell, is_test_cell, nbgrader_meta, safe_lines,
                                       visible_source)
from autograder.records import CellOutcome, Layout, NotebookResult
from autograder.settings import Settings


@dataclass
class NotebookGrading:
    """One notebook on its way through the stages: what it was given, and what each stage
    made of it."""
    source: object                          # the submitted file's path, or its bytes
    settings: Settings
    start_student: Callable                 # (cells, layout) -> a student (testcells' SandboxedStudent / LocalStudent)
    layout: Layout | None = None            # None: read from the notebook itself (the self-check)
    sanitiser: Callable | None = None       # (nb, layout) -> (nb, notes); None: the notebook is run as it is
    run_every_cell: bool = False            # False: lesson cells left as released run only when needed
    nb: object = None
    notes: list = field(default_factory=list)
    student: object = None
    rows: list = field(default_factory=list)
    isolated: bool = True
    result: NotebookResult | None = None
    stopped: bool = False                   # the student process was stopped

    def stop_student(self) -> None:
        if self.student is not None and not self.stopped:
            self.isolated = bool(getattr(self.student, "isolated", True))
            self.stopped = True
            self.student.close()


# ----------------------------------------------------------------------------------------
# the layout of a notebook
# ----------------------------------------------------------------------------------------
def layout_of_notebook(nb, released_of: Callable | None = None) -> Layout:
    """The nbgrader cells of `nb`, in order (:class:`Layout`). `released_of(cell)` gives a
    test cell's released source (its hidden regions cleared); by default its own source."""
    lay = Layout()
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        test = is_test_cell(cell)
        if cell.cell_type == "code" and not test and not is_answer_cell(cell):
            lay.lesson.append(cell.source)
        gid = meta.get("grade_id") or ("?" if test else None)
        if not gid:
            continue
        lay.order.append(gid)
        lay.meta[gid] = {"cell_type": cell.cell_type, "nbgrader": dict(meta)}
        if test:
            lay.tests.append((gid, float(meta.get("points", 0) or 0)))
            lay.sources[gid] = cell.source
            lay.released[gid] = released_of(cell) if released_of else cell.source
        elif is_answer_cell(cell):
            lay.answers.append(gid)
    lay.setup = setup_cells(lay.lesson, [lay.sources[g] for g, _ in lay.tests], lay.answers)
    return lay


# ----------------------------------------------------------------------------------------
# the stages
# ----------------------------------------------------------------------------------------
def load(g: NotebookGrading) -> None:
    """Read the file; a file that is no notebook is ungradable (the self-check: an error)."""
    nb, state, message = load_notebook(g.source)
    if nb is None:
        if g.layout is None:
            raise ValueError(f"{g.source}: {message}")
        g.result = NotebookResult.ungradable(g.layout, state, message)
        return
    g.nb = nb
    if g.layout is None:
        g.layout = layout_of_notebook(nb)


def sanitise(g: NotebookGrading) -> None:
    """nbgrader's sanitising: test cells and metadata restored, cells in the source's order."""
    if g.sanitiser is not None:
        g.nb, notes = g.sanitiser(g.nb, g.layout)
        g.notes += notes


def student_process(g: NotebookGrading) -> None:
    """The notebook's cells (all but the graded test cells) run in the student process."""
    nb = g.nb
    cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_test_cell(c)]
    if not g.run_every_cell:
        cells = cells_to_run(cells, g.layout.lesson, {i for i, c in enumerate(nb.cells) if is_answer_cell(c)})
    g.student = g.start_student(cells, g.layout)
    try:
        g.student.run_all()
    except BaseException:
        g.stop_student()
        raise


def test_cells(g: NotebookGrading) -> None:
    """The graded test cells, in the grader's namespace, against the student process; then
    the student process is stopped."""
    try:
        student, lay = g.student, g.layout
        stubs = {nbgrader_meta(g.nb.cells[i])["grade_id"] for i, r in student.results.items()
                 if is_answer_cell(g.nb.cells[i]) and r.get("ename") == "NotImplementedError"}
        tests = [(gid, lay.sources[gid], points) for gid, points in lay.tests]
        shown = {gid: safe_lines(visible_source(lay.sources[gid])) for gid, _ in lay.tests}
        g.rows = evaluate_tests(tests, lay.answers, student, lay.setup, g.settings.timeout, visible_of=shown.get,
                                unanswered=stubs)
    finally:
        g.stop_student()


def reference_users(nb) -> dict[str, str]:
    """Answers that use their own exercise's reference (static scan): {exercise: how}."""
    codes = [(c.source, parse_cell(c.source)) for c in nb.cells if c.cell_type == "code"]   # each parsed once
    parsed = {id(source): tree for source, tree in codes}
    found = {}
    for cell in nb.cells:
        if not is_answer_cell(cell):
            continue
        gid = nbgrader_meta(cell)["grade_id"]
        tree = parsed[id(cell.source)] if id(cell.source) in parsed else parse_cell(cell.source)
        if tree is None:
            continue
        why = reference_use_parsed(tree, gid, [t for s, t in codes if s is not cell.source and t is not None])
        if why:
            found[gid] = why
    return found


def reference_scan(g: NotebookGrading) -> None:
    """An answer that uses its own exercise's reference fails that exercise's test cells
    with ``TNN-REFERENCE-USED``, and says why."""
    used = reference_users(g.nb)
    for row in g.rows:
        ex = row["exercise"]
        if ex in used:
            why = (f"{ex}: your answer uses the tnn_lib reference ({used[ex]}); implement it yourself: an "
                   "answer that uses the reference earns no points for this exercise.")
            row.update(points=0.0, status="reference-used", misconception="", message=why,
                       outputs=[error_output("CheckFailure", f"{REFERENCE_TAG}\n{why}")])


def notes(g: NotebookGrading) -> None:
    """What the student should know beyond the test cells: no isolation, the budget spent,
    cells that timed out, ended the process, printed too much or raised."""
    s, student, nb = g.settings, g.student, g.nb
    if not g.isolated:
        g.notes.append("the sandbox (bubblewrap) was not available: your code ran with memory, time and process "
                       "limits but without file and network isolation")
    if getattr(student, "out_of_budget", False) or student.left() <= 0:
        g.notes.append(f"grading this submission took its whole time budget ({s.budget:g} s): nothing more of "
                       "it was run, and the tests not graded by then count as timed out (those graded before keep "
                       "their points); look for slow or endless cells")
    for i in sorted(student.results):
        r = student.results[i]
        if not r.get("budget"):
            g.notes += _cell_notes(i, r, nb.cells[i], s)


def _cell_notes(i: int, r: dict, cell, s: Settings) -> list[str]:
    out = []
    if r["status"] == "timeout":
        out.append(f"cell {i + 1} did not finish within {s.timeout:g} s and was stopped")
    elif r["status"] == "died" and r.get("protocol"):
        out.append(f"cell {i + 1} wrote into the grader's channel; that process was ended and the cell "
                   "was not run again")
    elif r["status"] == "died":
        out.append(f"cell {i + 1} ended the Python process (out of memory? the limit is {s.memory_mb} "
                   "MiB; quit() or os._exit?); it was not run again")
    if r.get("printed", 0) > s.max_output_bytes:
        out.append(f"cell {i + 1} printed too much; its output was cut")
    if r["status"] == "error" and is_answer_cell(cell) and r.get("ename") != "NotImplementedError":
        gid = nbgrader_meta(cell).get("grade_id")
        out.append(f"cell {i + 1} (your answer {gid}) raised {r.get('ename')}: {clean(r.get('evalue', ''))[:300]}")
    return out


def autograded(g: NotebookGrading) -> None:
    """The test cells carry the grader's outputs (for nbgrader's ``SaveAutoGrades``), and the
    notebook's :class:`NotebookResult`."""
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in g.nb.cells if is_test_cell(c)}
    cells = []
    for row in g.rows:
        gid = row["grade_id"]
        cell = by_id.get(gid)
        if cell is not None:
            cell.outputs = [nbformat.from_dict(o) for o in row["outputs"]]
            cell.execution_count = None
        cells.append(CellOutcome(gid, row["exercise"], row["points"], row["max_points"], row["status"],
                                 row["misconception"], row["message"],
                                 visible_source(g.layout.sources.get(gid, ""))))
    answers = {nbgrader_meta(c)["grade_id"]: c.source for c in g.nb.cells if is_answer_cell(c)}
    g.result = NotebookResult("graded", "", g.notes, cells, answers, isolated=bool(g.isolated),
                              autograded=nbformat.writes(g.nb))


STAGES = (load, sanitise, student_process, test_cells, reference_scan, notes, autograded)


def run_stages(g: NotebookGrading, stages=STAGES) -> NotebookResult:
    """Run `stages` in order over `g` until one has the result; the student process is
    stopped whatever happens."""
    try:
        for stage in stages:
            stage(g)
            if g.result is not None:
                break
    finally:
        g.stop_student()
    return g.result


__all__ = ["NotebookGrading", "STAGES", "run_stages", "layout_of_notebook", "reference_users"]
