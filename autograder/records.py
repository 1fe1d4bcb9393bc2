"""The records grading passes between its stages: an assignment notebook's layout, a test
cell's outcome and a notebook's result.

They are dataclasses inside a process and JSON where they cross one (a local worker's
pipe, a Dask task, a result file ``results/<student>/<assignment>.json``): :meth:`to_json`
and :meth:`from_json` are the only places their keys are spelled. The JSON is the format
the result files have always had (the gradebook writer, the report, the feedback pages and
the tests read it).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from autograder.outcomes.cells import exercise_of


@dataclass
class Layout:
    """The nbgrader cells of a source notebook, in order: ids (`order`), the test cells and
    their points (`tests`), the answer cells (`answers`), each test cell's source with its
    hidden regions (`sources`) and as released (`released`), the course's setup cells the
    grader runs before the tests (`setup`), the lesson's code cells (`lesson`) and each
    cell's nbgrader metadata (`meta`)."""
    order: list = field(default_factory=list)
    tests: list = field(default_factory=list)           # [(grade_id, points)]
    answers: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    released: dict = field(default_factory=dict)
    setup: list = field(default_factory=list)
    lesson: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data) -> Layout:
        if isinstance(data, cls):
            return data
        names = {f.name for f in dataclasses.fields(cls)}
        out = cls(**{k: v for k, v in data.items() if k in names})
        out.tests = [(gid, float(points)) for gid, points in out.tests]
        return out


@dataclass
class Recorded:
    """What the gradebook recorded of one source notebook, as nbgrader's ``OverwriteCells`` and
    ``OverwriteKernelspec`` read it when they sanitise a submission: the notebook's
    `kernelspec` (JSON text, or None), its source cells ``{grade_id: {"cell_type", "locked",
    "source", "checksum"}}`` (nbgrader's ``source_cell`` rows, after ``ClearSolutions`` and
    ``LockCells``), the grade cells' points (``grade_cells.max_score``), the solution cells'
    ids and the task cells' points. The grading parent reads it from the gradebook once per
    assignment (:func:`autograder.gradebook.writer.recorded_cells`) and sends it with each
    task: a worker neither opens the gradebook nor imports nbgrader."""
    kernelspec: str | None = None
    cells: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict)
    solutions: list = field(default_factory=list)
    tasks: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data) -> Recorded:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise TypeError(f"a notebook's gradebook record must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        out = cls(**{k: v for k, v in data.items() if k in names})
        out.points = {gid: float(p) for gid, p in out.points.items()}
        out.tasks = {gid: float(p) for gid, p in out.tasks.items()}
        return out


@dataclass
class CellOutcome:
    """What grading found for one graded test cell. `status` is one of the statuses of
    :mod:`autograder.outcomes.cells` (passed, failed, misconception, … grader-error);
    `source` is the cell's text as the student may see it (hidden regions left out)."""
    grade_id: str
    exercise: str = ""
    points: float = 0.0
    max_points: float = 0.0
    status: str = ""
    misconception: str = ""
    message: str = ""
    source: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CellOutcome:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class NotebookResult:
    """One submitted notebook, graded: its `state` ("graded", or why it could not be:
    missing-notebook, invalid-notebook, not-a-notebook, grader-error), the notes for the
    student, one :class:`CellOutcome` per graded test cell, the answers' sources, whether
    the sandbox isolated the student's code, the autograded notebook (nbformat JSON text,
    written by the parent) and, for a grader error, its traceback."""
    state: str
    message: str = ""
    notes: list = field(default_factory=list)
    cells: list = field(default_factory=list)            # [CellOutcome]
    answers: dict = field(default_factory=dict)
    isolated: bool | None = None                          # None: nothing of the student's ran
    autograded: str | None = None
    trace: str | None = None

    @classmethod
    def ungradable(cls, layout: Layout, state: str, message: str) -> NotebookResult:
        """A notebook that could not be graded: every test cell with no points and `state`."""
        cells = [CellOutcome(gid, exercise_of(gid, layout.answers) or "", 0.0, float(points), state, "", message, "")
                 for gid, points in layout.tests]
        return cls(state, message, [], cells, {})

    def to_json(self) -> dict:
        out = {"state": self.state, "message": self.message, "notes": list(self.notes),
               "cells": [c.to_json() for c in self.cells], "answers": dict(self.answers), "autograded": self.autograded}
        if self.isolated is not None:
            out["isolated"] = bool(self.isolated)
        if self.trace is not None:
            out["trace"] = self.trace
        return out

    @classmethod
    def from_json(cls, data: dict) -> NotebookResult:
        return cls(data["state"], data.get("message", ""), list(data.get("notes", [])),
                   [CellOutcome.from_json(c) for c in data.get("cells", [])], dict(data.get("answers", {})),
                   data.get("isolated"), data.get("autograded"), data.get("trace"))


__all__ = ["Layout", "CellOutcome", "NotebookResult"]
