"""Where the course lives and how nbgrader is configured for it.

The repository is nbgrader's course directory: ``solutions/`` is the source directory,
``notebooks/`` the release directory, and the gradebook is SQLite (``gradebook.db`` in
the course directory) unless another SQLAlchemy URL is given.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

from tnn_lib.topics import TOPICS

COURSE_ID = "tnn-workbook"
# the course map: assignment id -> the functions students implement (answer cell grade_ids)
COURSE = {t.id: t.exercises for t in TOPICS}
ASSIGNMENTS = tuple(COURSE)


def ensure_tools_on_path() -> None:
    """nbgrader runs the `alembic` executable to open a gradebook; when this environment is
    used without being activated, its bin directory is not on PATH. Put it there."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")



def course_root(path: str | os.PathLike | None = None) -> Path:
    """The course directory: `path`, else $TNN_COURSE_DIR, else the current directory if
    it holds ``solutions/``, else the checkout this package was installed from."""
    for cand in (path, os.environ.get("TNN_COURSE_DIR")):
        if cand:
            return Path(cand).resolve()
    here = Path.cwd()
    if (here / "solutions").is_dir():
        return here.resolve()
    return Path(__file__).resolve().parent.parent


def source_notebooks(root: Path, aid: str) -> list[Path]:
    """The source notebooks of assignment `aid` (nbgrader's ``source/<aid>/*.ipynb``)."""
    return sorted((Path(root) / "solutions" / aid).glob("*.ipynb"))


def nbgrader_config(root: str | os.PathLike | None = None, db_url: str | None = None) -> Config:
    """The nbgrader configuration of the course (the same as ``autograder/nbgrader_config.py``)."""
    root = course_root(root)
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = "solutions"
    c.CourseDirectory.release_directory = "notebooks"
    c.CourseDirectory.submitted_directory = "submitted"
    c.CourseDirectory.autograded_directory = "autograded"
    c.CourseDirectory.feedback_directory = "feedback"
    c.CourseDirectory.db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    # the released notebooks must be byte-for-byte reproducible: no header, no outputs
    c.ClearOutput.enabled = True
    c.Execute.timeout = 120
    return c
