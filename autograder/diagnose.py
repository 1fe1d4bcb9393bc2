"""Name the misconception behind a failed test cell whose first failing line was not a
``check`` (e.g. a plain ``assert`` on a small fixed case).

Grading runs :func:`diagnose` in the student's kernel right after such a cell: it runs the
cell's own ``check`` cases (or ``seed=0``) through :func:`autograder.checks.check`, which
compares the answer with the catalogued wrong variants, and prints the first line of the
first tagged failure. The result depends only on the answer and the seeded cases, so it is
the same in ``tnn-course check`` and in grading, with any number of workers.
"""
from __future__ import annotations

from autograder.checks import MISCONCEPTION_TAG, CheckFailure, check


def diagnose(name: str, student_fn, cases=({"seed": 0},)) -> str | None:
    """The id of the misconception `student_fn` matches on the first case that names one."""
    if not callable(student_fn):
        return None
    for kwargs in cases:
        try:
            check(name, student_fn, **kwargs)
        except CheckFailure as err:
            first = (str(err).splitlines() or [""])[0]
            if first.startswith(MISCONCEPTION_TAG):
                return first[len(MISCONCEPTION_TAG):].strip()
        except BaseException:  # noqa: BLE001 - the answer raised: nothing to name
            return None
    return None


def report(name: str, student_fn, cases=({"seed": 0},)) -> None:
    mid = diagnose(name, student_fn, cases)
    if mid:
        print(f"{MISCONCEPTION_TAG} {mid}")
