"""``tnn-course check NOTEBOOK``: a student's own run of the visible tests.

Runs the notebook as it is (no hidden tests, no restoring: it is the student's copy) in
the same kind of kernel grading uses, and reports each graded test cell with the message
grading would give: passed, or what differed and the misconception's name and hint.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from autograder.outcomes import (exercise_of, is_answer_cell, is_test_cell, make_diagnoser, nbgrader_meta, safe_lines,
                                 test_outcome, visible_source)


def run_check(path, timeout: float = 30, memory_mb: int = 4096) -> list[dict]:
    """Execute the notebook at `path`; return one outcome per graded test cell, in order."""
    from autograder.execute import Runner
    from autograder.worker import load_notebook

    nb, state, message = load_notebook(path)
    if nb is None:
        raise ValueError(f"{path}: {message}")
    runner = Runner(timeout=timeout, memory_mb=memory_mb, spare=False)

    answers = [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_answer_cell(c)]

    async def go():
        try:
            return await runner.run(nb, str(Path(path).resolve().parent),
                                    after_cell=make_diagnoser(answers, timeout))
        finally:
            await runner.close()

    asyncio.run(go())
    out = []
    own = safe_lines(*(c.source for c in nb.cells if is_answer_cell(c)))
    for cell in nb.cells:
        if is_test_cell(cell):
            gid = nbgrader_meta(cell).get("grade_id", "?")
            shown = safe_lines(visible_source(cell.source))
            out.append({"grade_id": gid, "exercise": exercise_of(gid, answers) or "", **test_outcome(cell, own, shown)})
    return out


def format_outcome(o: dict) -> str:
    from autograder.catalogue import find_misconception
    head = f"{'PASS' if o['status'] == 'passed' else 'FAIL'}  {o['grade_id']} ({o['points']:g}/{o['max_points']:g})"
    if o["status"] == "passed":
        return head
    lines = [head + f"  [{o['status']}]"]
    if o["misconception"]:
        m = find_misconception(o["misconception"])
        if m is not None:
            lines.append(f"      misconception: {m.title} ({m.id})")
            lines.append(f"      hint: {m.hint}")
    lines += ["      " + ln for ln in o["message"].splitlines()]
    return "\n".join(lines)


def main_check(path, timeout=30, memory_mb=4096, stream=sys.stdout) -> int:
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such notebook: {path}")
    outcomes = run_check(path, timeout=timeout, memory_mb=memory_mb)
    for o in outcomes:
        print(format_outcome(o), file=stream)
    passed = sum(o["status"] == "passed" for o in outcomes)
    print(f"{passed} of {len(outcomes)} visible test cells pass"
          + ("" if outcomes else " (this notebook has no graded test cells)"), file=stream)
    return 0 if outcomes and passed == len(outcomes) else 1
