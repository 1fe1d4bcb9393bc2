"""``tnn-course check NOTEBOOK``: a student's own run of the visible tests.

Runs the notebook as it is (no hidden tests, no restoring: it is the student's copy) in one
process, through the same stages as grading (:mod:`autograder.evaluation.pipeline`): its
cells in an IPython shell, then its visible test cells with the same evaluation grading uses
(:mod:`autograder.evaluation.testcells`) and the same reference scan, so each graded test cell
gets the message grading would give: passed, or what differed and the misconception's name
and hint.
"""
from __future__ import annotations

import sys
from pathlib import Path

from autograder import defaults
from autograder.catalogue import find_misconception
from autograder.checks import MISCONCEPTION_TAG, REFERENCE_TAG
from autograder.evaluation import pipeline
from autograder.evaluation.testcells import LocalStudent
from autograder.settings import Settings

try:  # POSIX only: elsewhere the self-check runs without a memory limit
    import resource
except ImportError:
    resource = None


def run_check(path, timeout: float = defaults.TIMEOUT_SECONDS, memory_mb: int = defaults.MEMORY_MB,
              settings: Settings | None = None) -> list[dict]:
    """Run the notebook at `path` in this process through grading's own stages
    (:data:`autograder.evaluation.pipeline.STAGES`: no sanitising, every cell run here, the
    visible test cells only); one outcome per graded test cell, in order. `settings` (default:
    `timeout` and `memory_mb` over :mod:`autograder.defaults`) are the run's settings;
    (`tnn-course check` also limits this process's memory to its `memory_mb`.)"""
    settings = settings or Settings(timeout=float(timeout), memory_mb=int(memory_mb))
    cwd = str(Path(path).resolve().parent)

    def start_student(cells, layout):
        return LocalStudent(cells, settings.timeout, cwd=cwd)

    result = pipeline.run_stages(pipeline.NotebookGrading(path, settings, start_student, run_every_cell=True),
                                 pipeline.STAGES)
    return [c.to_json() for c in result.cells]


def _limit_memory(memory_mb: int) -> None:
    if resource is None:
        return
    try:
        if memory_mb and memory_mb > 0:
            lim = memory_mb * 1024 * 1024
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            if soft == resource.RLIM_INFINITY or soft > lim:
                resource.setrlimit(resource.RLIMIT_AS, (lim, hard))
    except (ValueError, OSError):
        pass


def is_poll(o: dict) -> bool:
    """A poll's test cell (``test_poll_…``): its visible check only sees that an allowed
    answer was chosen; whether it is the right one is graded after submission."""
    return o["grade_id"].startswith("test_poll_")


def format_outcome(o: dict) -> str:
    """The lines `tnn-course check` prints for one test cell: PASS, ANSWERED (a poll), or
    FAIL with the misconception and its hint once, then the rest of the message."""
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


def main_check(path, timeout=defaults.TIMEOUT_SECONDS, memory_mb=defaults.MEMORY_MB, stream=sys.stdout,
               settings: Settings | None = None) -> int:
    settings = (settings or Settings(timeout=float(timeout), memory_mb=int(memory_mb))).checked()
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such notebook: {path}")
    _limit_memory(settings.memory_mb)  # this process runs the student's code: the command line's limit
    outcomes = run_check(path, settings=settings)
    for o in outcomes:
        print(format_outcome(o), file=stream)
    passed = sum(o["status"] == "passed" for o in outcomes)
    polls = sum(o["status"] == "passed" and is_poll(o) for o in outcomes)
    print(f"{passed} of {len(outcomes)} visible test cells pass"
          + (f" ({polls} of them polls: answered, graded after submission)" if polls else "")
          + ("" if outcomes else " (this notebook has no graded test cells)"), file=stream)
    return 0 if outcomes and passed == len(outcomes) else 1
