"""Grades out of the course: nbgrader export plugins writing the grade-import files of Canvas
and Moodle from nbgrader's gradebook (SQLite or PostgreSQL: whatever ``--db`` names).

    nbgrader export --exporter=autograder.gradebook.lms_export.CanvasExport --to canvas.csv --db sqlite:///gradebook.db
    nbgrader export --exporter=autograder.gradebook.lms_export.MoodleExport --to moodle.csv --db postgresql://...
    nbgrader export --exporter=autograder.gradebook.lms_export.CanvasExport --CanvasExport.per_assignment=True --to grades/

For the course, one file with a column per assignment; with ``per_assignment``, `--to` is a
folder that gets one file per assignment (``<assignment>.csv``, one score column). The
``--assignment`` and ``--student`` options of ``nbgrader export`` choose which. A score is
nbgrader's (the points after the late penalty); a student who submitted nothing gets 0, as
in nbgrader's own CSV export.

The layouts (INSTRUCTORS.md, "Grades out of the course"):

* **Canvas** (the Gradebook's *Import*): the identifying columns ``Student`` ("Last, First"),
  ``ID``, ``SIS User ID``, ``SIS Login ID`` and ``Section``, then one column per assignment
  named as the assignment (a name Canvas does not know creates the assignment); the second
  row is Canvas's ``Points Possible`` row. ``SIS Login ID`` carries the nbgrader student id
  (the JupyterHub user name), ``SIS User ID`` nbgrader's ``lms_user_id`` when set; ``ID``
  (Canvas's internal number) and ``Section`` stay empty: Canvas matches a row by any one
  of the identifiers.
* **Moodle** (Grades → Import → CSV file): ``First name``, ``Last name``, ``ID number``,
  ``Email address``, then one column per assignment named as the assignment. In the import
  form, map *Email address* to *useremail* or *ID number* (the nbgrader student id) to
  *useridnumber*, and each assignment column to its grade item (or a new one).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Bool

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "    Points Possible"
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Email address"]


def _score(gradebook, assignment: str, student: str) -> float:
    """nbgrader's score after the late penalty, as its own CSV export computes it."""
    try:
        sub = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return 0.0
    return max(0.0, float(sub.score) - float(sub.late_submission_penalty or 0.0))


def _number(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


class _LmsExport(ExportPlugin):
    """Shared by both layouts: which students and assignments, one file or one per assignment."""

    per_assignment = Bool(False, help="one file per assignment in the folder --to, instead of one file "
                                      "for the course").tag(config=True)
    default_name = "grades.csv"

    def identity(self, student) -> list:
        raise NotImplementedError

    def header(self) -> list:
        raise NotImplementedError

    def extra_rows(self, assignments) -> list:
        return []

    def export(self, gradebook) -> None:
        names = [str(a) for a in self.assignment]
        assignments = [a for a in gradebook.assignments if not names or a.name in names]
        unknown = sorted(set(names) - {a.name for a in assignments})
        if unknown:
            raise ValueError(f"--assignment names {unknown}, which the gradebook does not have; it has "
                             f"{sorted(a.name for a in gradebook.assignments)}")
        wanted = [str(s) for s in self.student]
        students = [s for s in gradebook.students if not wanted or s.id in wanted]
        if self.per_assignment:
            folder = Path(self.to or "lms_grades")
            folder.mkdir(parents=True, exist_ok=True)
            for a in assignments:
                self._write(folder / f"{a.name}.csv", gradebook, [a], students)
        else:
            self._write(Path(self.to or self.default_name), gradebook, assignments, students)

    def _write(self, path: Path, gradebook, assignments, students) -> None:
        rows = [self.header() + [a.name for a in assignments]] + self.extra_rows(assignments)
        for s in sorted(students, key=lambda s: s.id):
            rows.append(self.identity(s) + [_number(_score(gradebook, a.name, s.id)) for a in assignments])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        os.replace(tmp, path)
        self.log.info("Wrote %s: %d students, %d assignments", path, len(students), len(assignments))


class CanvasExport(_LmsExport):
    """The Canvas Gradebook's import file (see the module docstring)."""

    default_name = "canvas_grades.csv"

    def header(self) -> list:
        return list(CANVAS_IDENTITY)

    def extra_rows(self, assignments) -> list:
        return [[CANVAS_POINTS_ROW, "", "", "", ""] + [_number(a.max_score) for a in assignments]]

    def identity(self, s) -> list:
        name = ", ".join(x for x in (s.last_name, s.first_name) if x) or s.id
        return [name, "", s.lms_user_id or "", s.id, ""]


class MoodleExport(_LmsExport):
    """Moodle's CSV grade import file (see the module docstring)."""

    default_name = "moodle_grades.csv"

    def header(self) -> list:
        return list(MOODLE_IDENTITY)

    def identity(self, s) -> list:
        return [s.first_name or "", s.last_name or "", s.id, s.email or ""]
