"""Grading meets nbgrader's exchange: late submissions, and our feedback where
``nbgrader release_feedback`` looks for it.

After ``nbgrader collect`` a submission is ``submitted/<student>/<assignment>/`` with the
notebook, ``timestamp.txt`` (when the student ran ``submit``) and ``submission_secret.txt``
(the key ``fetch_feedback`` uses to find the student's feedback in the exchange).

* Lateness is nbgrader's own: the submission's timestamp against the assignment's due date
  in the gradebook (``nbgrader db assignment add ID --duedate ...``, or formgrader), with the
  student's extension, read back as ``SubmittedAssignment.total_seconds_late``.
* ``release_feedback`` copies ``<course>/feedback/<student>/<assignment>/<notebook>.html`` into
  the exchange under a name made from ``submission_secret.txt`` and the notebook's name, and
  reads ``timestamp.txt`` from the same folder. :func:`place_feedback` puts *our* page there
  (the one that never shows a hidden test), with those two files copied from the submission,
  so ``nbgrader generate_feedback`` is never needed.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from autograder.gradebook.writer import open_gradebook
from autograder.pages.feedback import feedback_path


def mark_late(results: list, db_url: str) -> None:
    """Set ``result["seconds_late"]`` (0 when on time, or when there is no due date or no
    timestamp) from nbgrader's gradebook."""
    from nbgrader.api import MissingEntry  # slow import (see AUTHORING.md)
    with open_gradebook(db_url) as gb:
        for r in results:
            try:
                sub = gb.find_submission(r["assignment"], r["student"])
            except MissingEntry:
                r["seconds_late"] = 0.0
                continue
            r["seconds_late"] = float(sub.total_seconds_late)
            r["duedate"] = str(sub.duedate) if sub.duedate is not None else None



def place_feedback(out: Path, results: list, submissions: Path, config) -> list[Path]:
    """For every graded submission that came through nbgrader's exchange (its folder holds
    ``submission_secret.txt`` and ``timestamp.txt``), copy its feedback page from `out` to
    nbgrader's feedback folder of the course, one page per notebook of the assignment, with
    the two files ``release_feedback`` reads. Returns the pages placed."""
    from nbgrader.coursedir import CourseDirectory  # slow import (see AUTHORING.md)
    coursedir = CourseDirectory(config=config)
    placed = []
    for r in results:
        src_dir = Path(submissions) / r["student"] / r["assignment"]
        secret, stamp = src_dir / "submission_secret.txt", src_dir / "timestamp.txt"
        page = feedback_path(out, r["student"], r["assignment"])
        if not (secret.is_file() and stamp.is_file() and page.is_file()):
            continue
        dest = Path(coursedir.format_path(coursedir.feedback_directory, r["student"], r["assignment"]))
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("submission_secret.txt", "timestamp.txt"):
            shutil.copyfile(src_dir / name, dest / name)
        for notebook in sorted(r["notebooks"]):
            target = dest / f"{notebook}.html"
            tmp = dest / f".{notebook}.html.tmp"
            shutil.copyfile(page, tmp)
            tmp.replace(target)
            placed.append(target)
    return placed
