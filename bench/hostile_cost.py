"""The worst time one hostile submission can cost a class: how long a grading worker is held.

Grades, one at a time on one worker, with the default per-cell limit and budget (or those
given), submissions of the tiny course of tests/grading_tools.py written to cost as much as
they can:

* ``slow-and-hanging``: scratch cells that each run just under the cell limit, then answers
  that never return when called (every test cell a time-out, every time-out a replay);
* ``many-hangs``: twenty cells that never finish;
* ``tiny-cells``: 20,000 cells of one statement each;
* ``correct``: an honest notebook, for comparison.

Prints, for each, the seconds it held a warm worker (its grader, as a worker of ``tnn-course
grade`` runs it; one run each: these are minutes long), the points earned, and the budget;
the worst must stay within the budget (plus the moment it takes to stop).

    .venv/bin/python bench/hostile_cost.py [--timeout 30] [--budget 300] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat  # noqa: E402

from autograder import defaults  # noqa: E402
from grading_tools import CORRECT, TINY, make_course, with_answers, write_submission  # noqa: E402

HANG_LF = "def linear_forward(x, W, b):\n    while True:\n        pass\n"
HANG_RB = "def relu_backward(dout, cache):\n    while True:\n        pass\n"


def submissions(course, timeout: float) -> dict:
    slow = f"import time\ntime.sleep({max(0.5, timeout - 1):g})  # just under the cell limit\n"
    out = {}
    nb = with_answers(course, linear_forward=HANG_LF, relu_backward=HANG_RB)
    for i in range(4):
        nb.cells.insert(2, nbformat.v4.new_code_cell(slow))
    out["slow-and-hanging"] = nb
    nb = with_answers(course, **CORRECT)
    for i in range(20):
        nb.cells.insert(2, nbformat.v4.new_code_cell("while True:\n    pass\n"))
    out["many-hangs"] = nb
    nb = with_answers(course, **CORRECT)
    nb.cells[2:2] = [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(20_000)]
    out["tiny-cells"] = nb
    out["correct"] = with_answers(course, **CORRECT)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=defaults.TIMEOUT_SECONDS)
    p.add_argument("--budget", type=float, default=defaults.BUDGET_SECONDS)
    p.add_argument("--only", nargs="*", default=None)
    args = p.parse_args(argv)
    from autograder.course import nbgrader_config
    from autograder.runners.grade import layout_of, recorded_cells, source_notebooks, sync_gradebook
    from autograder.runners.worker import Grader, prepare_process
    prepare_process()
    base = Path(tempfile.mkdtemp(prefix="tnn-bench-hostile-"))
    course = make_course(base)
    db_url = f"sqlite:///{base / 'gradebook.db'}"
    config = nbgrader_config(course, db_url)
    sync_gradebook(course, TINY, db_url, config)
    layout = layout_of(source_notebooks(course, TINY)[0])
    recorded = recorded_cells(db_url, TINY)[TINY]
    subs = submissions(course, args.timeout)
    names = [n for n in subs if not args.only or n in args.only]
    # one worker's grader, as `tnn-course grade` keeps it: warm once (its sandbox's start is
    # the worker's cost, not a submission's), then each submission's time holding it
    from autograder.settings import Settings
    grader = Grader(Settings(timeout=args.timeout, budget=args.budget))

    def held(name):
        path = write_submission(base / "submitted", name, subs[name])
        task = {"student": name, "assignment": TINY, "source_dir": str(course / "solutions" / TINY),
                "notebooks": {TINY: {"path": str(path), "layout": layout.to_json(), "recorded": recorded.to_json()}}}
        t0 = time.perf_counter()
        result = grader.grade_task(task)
        return time.perf_counter() - t0, result["notebooks"][TINY]["cells"]

    try:
        held("correct")
        print(f"cell limit {args.timeout:g} s, budget {args.budget:g} s per submission")
        print(f"{'submission':<20} {'held (s)':>9} {'points':>7}  statuses")
        worst = 0.0
        for name in names:
            seconds, cells = held(name)
            points = sum(c["points"] for c in cells)
            statuses = ",".join(sorted({c["status"] for c in cells}))
            print(f"{name:<20} {seconds:>9.1f} {points:>7g}  {statuses}")
            if name != "correct":
                worst = max(worst, seconds)
    finally:
        grader.close()
    print(f"worst hostile submission: {worst:.1f} s holding its worker, {worst / args.budget:.2f} × the budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
