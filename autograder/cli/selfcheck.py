"""``tnn-course check NOTEBOOK``: a student's own run of the visible tests.

Runs the notebook as it is (no hidden tests, no restoring: it is the student's copy) in one
process: its cells in an IPython shell, then its visible test cells with the same evaluation
grading uses (:mod:`autograder.evaluation.testcells`), so each graded test cell gets the message grading
would give: passed, or what differed and the misconception's name and hint.
"""
from __future__ import annotations

import sys
from pathlib import Path

from autograder import defaults
from autograder.outcomes.cells import is_answer_cell, is_test_cell, nbgrader_meta, safe_lines, visible_source


def run_check(path, timeout: float = defaults.TIMEOUT_SECONDS, memory_mb: int = defaults.MEMORY_MB) -> list[dict]:
    """Run the notebook at `path` in this process and its visible test cells with grading's
    own evaluation (:func:`autograder.evaluation.testcells.evaluate_tests`); one outcome per graded test
    cell, in order. (`tnn-course check` also limits this process's memory to `memory_mb`.)"""
    from autograder.evaluation.testcells import LocalStudent, evaluate_tests, setup_cells
    from autograder.evaluation.submission import load_notebook

    nb, state, message = load_notebook(path)
    if nb is None:
        raise ValueError(f"{path}: {message}")
    answers = [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_answer_cell(c)]
    tests = [(nbgrader_meta(c).get("grade_id", "?"), c.source, float(nbgrader_meta(c).get("points", 0) or 0))
             for c in nb.cells if is_test_cell(c)]
    lesson = [c.source for c in nb.cells if c.cell_type == "code" and not is_test_cell(c) and not is_answer_cell(c)]
    cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_test_cell(c)]
    student = LocalStudent(cells, timeout, cwd=str(Path(path).resolve().parent))
    student.run_all()
    stubs = {nbgrader_meta(nb.cells[i])["grade_id"] for i, r in student.results.items()
             if is_answer_cell(nb.cells[i]) and r.get("ename") == "NotImplementedError"}
    shown = {gid: safe_lines(visible_source(src)) for gid, src, _ in tests}
    rows = evaluate_tests(tests, answers, student, setup_cells(lesson, [t[1] for t in tests], answers), timeout,
                          visible_of=shown.get, unanswered=stubs)
    for row in rows:
        row.pop("outputs", None)
    return rows


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource
        if memory_mb and memory_mb > 0:
            lim = memory_mb * 1024 * 1024
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            if soft == resource.RLIM_INFINITY or soft > lim:
                resource.setrlimit(resource.RLIMIT_AS, (lim, hard))
    except (ImportError, ValueError, OSError):
        pass


def is_poll(o: dict) -> bool:
    """A poll's test cell (``test_poll_…``): its visible check only sees that an allowed
    answer was chosen; whether it is the right one is graded after submission."""
    return o["grade_id"].startswith("test_poll_")


def format_outcome(o: dict) -> str:
    """The lines `tnn-course check` prints for one test cell: PASS, ANSWERED (a poll), or
    FAIL with the misconception and its hint once, then the rest of the message."""
    from autograder.catalogue import find_misconception
    from autograder.checks import MISCONCEPTION_TAG, REFERENCE_TAG
    if o["status"] == "passed" and is_poll(o):
        return f"ANSWERED  {o['grade_id']}: answered; graded after submission"
    head = f"{'PASS' if o['status'] == 'passed' else 'FAIL'}  {o['grade_id']} ({o['points']:g}/{o['max_points']:g})"
    if o["status"] == "passed":
        return head
    lines = [head + f"  [{o['status']}]"]
    said = set()
    m = find_misconception(o["misconception"]) if o["misconception"] else None
    if m is not None:
        lines.append(f"      misconception: {m.title} ({m.id})")
        lines.append(f"      hint: {m.hint}")
        said = {f"Hint: {m.hint}".strip()}
    for ln in o["message"].splitlines():
        text = ln.strip()
        if text.startswith((MISCONCEPTION_TAG, REFERENCE_TAG)) or text in said:
            continue
        if m is not None and text.endswith(f": {m.title}."):   # "<exercise>: <title>." — said above
            continue
        lines.append("      " + ln)
    return "\n".join(lines)


def main_check(path, timeout=defaults.TIMEOUT_SECONDS, memory_mb=defaults.MEMORY_MB, stream=sys.stdout) -> int:
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such notebook: {path}")
    _limit_memory(memory_mb)  # this process runs the student's code: the command line's limit
    outcomes = run_check(path, timeout=timeout, memory_mb=memory_mb)
    for o in outcomes:
        print(format_outcome(o), file=stream)
    passed = sum(o["status"] == "passed" for o in outcomes)
    polls = sum(o["status"] == "passed" and is_poll(o) for o in outcomes)
    print(f"{passed} of {len(outcomes)} visible test cells pass"
          + (f" ({polls} of them polls: answered, graded after submission)" if polls else "")
          + ("" if outcomes else " (this notebook has no graded test cells)"), file=stream)
    return 0 if outcomes and passed == len(outcomes) else 1
