"""What each graded test cell of an executed notebook says, in a form fit for students.

Points follow nbgrader (``nbgrader.utils.determine_grade``: an error or anything written to
stderr gives 0). On top of the points, each cell gets a status and a message read from the
first line of the error the check engine raised (``TNN-MISCONCEPTION <id>``,
``TNN-REFERENCE-USED``): only the exception's type and message, never its traceback, so
that no line of a hidden test reaches a student.

Statuses (the ``status`` column of grades.csv):

=================  ==========================================================
passed             all points
failed             a check failed (the message says what differed)
misconception      a check failed and the answer matches a catalogued misconception
unanswered         the answer still raises NotImplementedError
reference-used     the answer uses the tnn_lib reference of its own exercise: 0 points
error              the answer raised an unexpected exception
timeout            the cell did not finish within the per-cell time limit
kernel-died        the kernel died (memory limit) while running the cell
not-run            the cell could not be run
missing-notebook   the submission has no notebook of this name
invalid-notebook   the file is not valid notebook JSON
not-a-notebook     the file is not a notebook at all
grader-error       the grader itself failed on this submission
=================  ==========================================================
"""
from __future__ import annotations

import re

from autograder.checks import MISCONCEPTION_TAG, REFERENCE_TAG

# the error names the grader itself gives a test cell it could not run to the end
TIMEOUT_ENAME = "CellTimeout"
DEAD_ENAME = "KernelDied"
NOT_RUN_ENAME = "NotRun"

HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*", re.S)
HIDDEN_NOTE = "# (hidden tests run here when your notebook is graded; they are not shown)"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_MESSAGE = 2000
UNGRADABLE = ("missing-notebook", "invalid-notebook", "not-a-notebook", "grader-error")


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    m = nbgrader_meta(cell)
    return bool(m.get("grade")) and not m.get("solution") and cell.get("cell_type") == "code"


def is_answer_cell(cell) -> bool:
    m = nbgrader_meta(cell)
    return bool(m.get("solution")) and cell.get("cell_type") == "code" and bool(m.get("grade_id"))


def exercise_of(test_id: str, answer_ids) -> str | None:
    """The answer cell a test cell belongs to: ``test_<name>`` or ``test_<name>_<k>``."""
    best = None
    for name in answer_ids:
        if re.fullmatch(rf"test_{re.escape(name)}(_\d+)?", test_id) and (best is None or len(name) > len(best)):
            best = name
    return best


def visible_source(source: str) -> str:
    """A test cell's source with its hidden region replaced by a note."""
    return HIDDEN.sub(HIDDEN_NOTE, source)


def clean(text: str) -> str:
    text = ANSI.sub("", str(text)).strip()
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " […]"


def read_error(ename: str, evalue: str) -> tuple[str, str | None, str]:
    """(status, misconception id, message) of a test cell's error: type and message only."""
    lines = clean(evalue).splitlines() or [""]
    first = lines[0].strip()
    if ename == TIMEOUT_ENAME:
        return "timeout", None, clean(evalue)
    if ename == DEAD_ENAME:
        return "kernel-died", None, clean(evalue)
    if ename == NOT_RUN_ENAME:
        return "not-run", None, clean(evalue)
    if first.startswith(REFERENCE_TAG):
        return "reference-used", None, "\n".join(lines[1:]).strip()
    if first.startswith(MISCONCEPTION_TAG):
        mid = first[len(MISCONCEPTION_TAG):].strip()
        return "misconception", mid, "\n".join(lines[1:]).strip()
    if ename == "NotImplementedError":
        msg = clean(evalue)
        if "replace ... with your answer" in msg:  # a poll left at its stub
            return "unanswered", None, f"not answered yet: {msg}"
        return "unanswered", None, "not answered yet: the function still raises NotImplementedError" + \
            (f" ({msg})" if msg else "")
    if ename in ("CheckFailure", "AssertionError"):
        return "failed", None, clean(evalue) or "a hidden check failed (an assert without a message)"
    return "error", None, f"{ename}: {clean(evalue)}".rstrip(": ")


def safe_lines(*sources: str) -> set[str]:
    """The stripped, non-blank lines of `sources`: what a message may quote."""
    return {ln.strip() for src in sources for ln in str(src).splitlines() if ln.strip()}


def error_output(ename: str, evalue: str) -> dict:
    """An nbformat error output (what the autograded notebook's test cell carries)."""
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}
