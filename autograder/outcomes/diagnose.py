"""Name the misconception behind a failed test cell whose first failing line was not a
``check`` (e.g. a plain ``assert`` on a small fixed case).

Grading runs :func:`diagnose` in the grader right after such a cell: it runs the answer on
every ``check`` case of the cell (or ``seed=0``) and on the exercise's diagnostic cases, and
names a misconception only when the answer matches that one catalogued variant on **all** of
them (and differs from the reference on at least one): a mistake that coincides with another
on one shape (L2 divided by the C columns is L2 without the ½ when N = 2C) is not misnamed.
The result depends only on the answer and the seeded cases, so it is the same in
``tnn-course check`` and in grading, with any number of workers.
"""
from __future__ import annotations

from autograder.checks import MISCONCEPTION_TAG, established_misconception, established_pair, pair_text


def diagnose(name: str, student_fn, cases=({"seed": 0},)) -> str | None:
    """The id of the misconception `student_fn` matches on every case of `cases` (and on
    the exercise's diagnostic cases), or None."""
    if not callable(student_fn):
        return None
    try:
        return established_misconception(name, student_fn, list(cases) or [{"seed": 0}])
    except Exception:  # noqa: BLE001 - nothing can be named
        return None


def diagnose_pair(name: str, student_fn, cases=({"seed": 0},)) -> str | None:
    """When no single misconception is named: the text naming the one pair of composable
    misconceptions (both mistakes at once) `student_fn` matches on every case, or None."""
    if not callable(student_fn):
        return None
    try:
        pair = established_pair(name, student_fn, list(cases) or [{"seed": 0}])
    except Exception:  # noqa: BLE001 - nothing can be named
        return None
    return None if pair is None else f"{name}: {pair_text(pair)}"


def report(name: str, student_fn, cases=({"seed": 0},)) -> None:
    mid = diagnose(name, student_fn, cases)
    if mid:
        print(f"{MISCONCEPTION_TAG} {mid}")
        return
    both = diagnose_pair(name, student_fn, cases)
    if both:
        print(both)
