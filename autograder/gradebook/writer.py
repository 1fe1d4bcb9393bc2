"""The gradebook writer: nbgrader's gradebook (SQLite by default, any SQLAlchemy URL).

Only the grading parent writes here (one writer for SQLite). The source cells of an
assignment go in with the preprocessors ``generate_assignment`` runs before ``SaveCells``;
a graded submission goes in through nbgrader's ``SaveAutoGrades``, from the autograded
notebook whose test cells carry the grader's outputs, so formgrader, ``nbgrader export``
and manual grading see what nbgrader itself would have written.

Two things make this fast without changing what is written:

* SQLite runs in WAL mode with ``synchronous=NORMAL``: ``SaveAutoGrades`` commits once per
  cell, and each commit no longer waits for the disk. A commit survives a crash of the
  grader; a power cut may lose the last ones, which the next run records again from the
  result files (what a rerun trusts).
* A new gradebook gets nbgrader's alembic revision from alembic's Python API instead of
  nbgrader's ``alembic heads`` subprocess (the same value, seconds sooner).
"""
from __future__ import annotations

import warnings
from pathlib import Path

_PREPARED = False


def prepare() -> None:
    """Install the SQLite settings and the in-process alembic revision (once per process)."""
    global _PREPARED
    if _PREPARED:
        return
    from autograder.course import ensure_tools_on_path
    ensure_tools_on_path()   # nbgrader may run the environment's `alembic` executable
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        if type(dbapi_conn).__module__.startswith("sqlite3"):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    import nbgrader.api
    try:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from nbgrader.dbutil import ALEMBIC_DIR
        cfg = Config()
        cfg.set_main_option("script_location", ALEMBIC_DIR)
        head = ScriptDirectory.from_config(cfg).get_current_head()
        if head:
            nbgrader.api.get_alembic_version = lambda: head
    except Exception:  # keep nbgrader's own way
        pass
    _PREPARED = True


def open_gradebook(db_url: str):
    prepare()
    from nbgrader.api import Gradebook
    return Gradebook(db_url)


def sync_assignment(root: Path, aid: str, db_url: str, config, notebooks) -> None:
    """Record the assignment's source cells and checksums (`notebooks`: its source paths)."""
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, ClearSolutions, ComputeChecksums,
                                        LockCells, SaveCells)
    prepare()
    with open_gradebook(db_url) as gb:
        gb.update_or_create_assignment(aid)
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        resources = {"nbgrader": {"db_url": db_url, "assignment": aid, "notebook": path.stem}}
        for pp in (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums, SaveCells):
            nb, resources = pp(config=config).preprocess(nb, resources)


def record(result: dict, autograded_path, db_url: str, timestamp: str | None, config) -> None:
    """Write one submission's grades with nbgrader's gradebook API and SaveAutoGrades.
    `autograded_path(notebook)` is where its autograded notebook was written."""
    from sqlalchemy.exc import SAWarning
    prepare()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush chatter
        _record(result, autograded_path, db_url, timestamp, config)


def _record(result, autograded_path, db_url, timestamp, config) -> None:
    import nbformat
    from nbgrader.preprocessors import SaveAutoGrades
    student, aid = result["student"], result["assignment"]
    with open_gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        if timestamp:
            gb.update_or_create_submission(aid, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(aid, student)
        for name, nbres in result["notebooks"].items():
            if nbres["state"] == "graded":
                continue
            sub = gb.find_submission_notebook(name, aid, student)
            for grade in sub.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gb.db.commit()
    for name, nbres in result["notebooks"].items():
        if nbres["state"] != "graded":
            continue
        nb = nbformat.read(str(autograded_path(name)), as_version=4)
        resources = {"nbgrader": {"db_url": db_url, "assignment": aid, "notebook": name, "student": student}}
        SaveAutoGrades(config=config).preprocess(nb, resources)


def sync_gradebook(root: Path, aid: str, db_url: str, config) -> None:
    """Record the assignment's source cells and checksums in the gradebook."""
    from autograder.course import source_notebooks
    sync_assignment(root, aid, db_url, config, source_notebooks(root, aid))
