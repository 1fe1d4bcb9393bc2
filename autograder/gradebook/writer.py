"""The gradebook writer: nbgrader's gradebook (SQLite by default, any SQLAlchemy URL).

Only the grading parent writes here (one writer for SQLite). The source cells of an
assignment go in with the preprocessors ``generate_assignment`` runs before ``SaveCells``;
a graded submission goes in through nbgrader's ``SaveAutoGrades``, from the autograded
notebook whose test cells carry the grader's outputs, so formgrader, ``nbgrader export``
and manual grading see what nbgrader itself would have written.

During a run, graded submissions go in through :class:`Writer`: what is waiting, in one
transaction, with the rows ``SaveAutoGrades`` writes (tests/test_gradebook_writer.py
compares every row); :func:`record` (``SaveAutoGrades`` itself) is its fallback and what the
end-of-run repair uses. The source is synced only when its checksum changed
(:func:`sync_if_changed`).

Two things make the nbgrader path fast without changing what is written:

* SQLite runs in WAL mode with ``synchronous=NORMAL``: ``SaveAutoGrades`` commits once per
  cell, and each commit no longer waits for the disk. A commit survives a crash of the
  grader; a power cut may lose the last ones, which the next run records again from the
  result files (what a rerun trusts).
* A new gradebook gets nbgrader's alembic revision from alembic's Python API instead of
  nbgrader's ``alembic heads`` subprocess (the same value, seconds sooner), and alembic is
  only imported then: a process that opens an existing gradebook never imports it.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import queue as _queue
import warnings
from pathlib import Path

from autograder.course import ensure_tools_on_path, source_notebooks
from autograder.gradebook.lock import sqlite_path
from autograder.gradebook.nbgrader_imports import nbgrader_package_deferred, without_setuptools
from autograder.records import Recorded

_PREPARED = False
_PRAGMAS = False


def _sqlite_settings() -> None:
    """Every SQLite connection of this process in WAL mode, ``synchronous=NORMAL``, with a
    busy timeout (once per process; SQLAlchemy only, nbgrader is not imported)."""
    global _PRAGMAS
    if _PRAGMAS:
        return
    from sqlalchemy import event  # slow import (see AUTHORING.md)
    from sqlalchemy.engine import Engine  # slow import (see AUTHORING.md)

    @event.listens_for(Engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        if type(dbapi_conn).__module__.startswith("sqlite3"):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
    _PRAGMAS = True


def prepare() -> None:
    """Install the SQLite settings and the in-process alembic revision (once per process)."""
    global _PREPARED
    if _PREPARED:
        return
    ensure_tools_on_path()   # nbgrader may run the environment's `alembic` executable
    _sqlite_settings()
    without_setuptools()
    nbgrader_package_deferred()
    import nbgrader.api  # slow import (see AUTHORING.md)
    nbgrader.api.get_alembic_version = _alembic_head(nbgrader.api.get_alembic_version)
    _PREPARED = True


def _alembic_head(fallback):
    """nbgrader's ``get_alembic_version`` (the revision a new gradebook is stamped with), from
    alembic's Python API instead of nbgrader's ``alembic heads`` subprocess; alembic is
    imported when a gradebook is created, not by every process that opens one (0.3 to 0.5 s of
    CPU in a grading worker and in a parent whose gradebook exists). `fallback`: nbgrader's own,
    used when the API gives nothing."""
    head = []

    def get_alembic_version() -> str:
        if not head:
            try:
                from alembic.config import Config  # slow import (see AUTHORING.md)
                from alembic.script import ScriptDirectory  # slow import (see AUTHORING.md)
                from nbgrader.dbutil import ALEMBIC_DIR  # slow import (see AUTHORING.md)
                cfg = Config()
                cfg.set_main_option("script_location", ALEMBIC_DIR)
                found = ScriptDirectory.from_config(cfg).get_current_head()
            except Exception:  # noqa: BLE001 - nbgrader's own way below
                found = None
            head.append(found or fallback())
        return head[0]

    return get_alembic_version


def open_gradebook(db_url: str):
    prepare()
    from nbgrader.api import Gradebook  # slow import (see AUTHORING.md)
    return Gradebook(db_url)


def sync_assignment(root: Path, aid: str, db_url: str, config, notebooks) -> None:
    """Record the assignment's source cells and checksums (`notebooks`: its source paths)."""
    prepare()   # first: nbgrader's package __init__ deferred before any of its modules is imported
    import nbformat  # slow import (see AUTHORING.md)
    from nbgrader.preprocessors import (  # slow import (see AUTHORING.md)
        CheckCellMetadata, ClearOutput, ClearSolutions, ComputeChecksums, LockCells, SaveCells)
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
    from sqlalchemy.exc import SAWarning  # slow import (see AUTHORING.md)
    prepare()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush chatter
        _record(result, autograded_path, db_url, timestamp, config)


def _record(result, autograded_path, db_url, timestamp, config) -> None:
    import nbformat  # slow import (see AUTHORING.md)
    from nbgrader.preprocessors import SaveAutoGrades  # slow import (see AUTHORING.md)
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


SYNC_TABLE = "tnn_source_sync"   # assignment -> checksum of the source last recorded (our table)


def source_checksum(notebooks) -> str:
    """A checksum of an assignment's source notebooks (names and bytes) and nbgrader's version
    (from its installed metadata: the package itself is not imported)."""
    h = hashlib.sha256(f"nbgrader {importlib.metadata.version('nbgrader')}".encode())
    for path in sorted(notebooks, key=lambda p: p.name):
        h.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _sync_table():
    from sqlalchemy import Column, MetaData, String, Table  # slow import (see AUTHORING.md)
    return Table(SYNC_TABLE, MetaData(), Column("assignment", String(128), primary_key=True),
                 Column("checksum", String(64), nullable=False))


def source_recorded(db_url: str, aid: str, checksum: str, names) -> bool:
    """Whether the gradebook recorded this very source of `aid` already: the `checksum` in
    our ``tnn_source_sync`` table and every notebook of `names` in nbgrader's. Read with
    SQLAlchemy alone (nbgrader's ``assignment`` and ``notebook`` tables, as its models name
    them): the check of every grading imports no nbgrader. A gradebook that cannot be read
    or does not exist yet has recorded nothing (then nbgrader syncs, and says what fails)."""
    from sqlalchemy import create_engine, inspect, select, text  # slow import (see AUTHORING.md)
    db = sqlite_path(db_url)
    if db is not None and not db.is_file():
        return False
    _sqlite_settings()
    table = _sync_table()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(SYNC_TABLE):
                return False
            if conn.execute(select(table.c.checksum).where(table.c.assignment == aid)).scalar() != checksum:
                return False
            have = {row[0] for row in conn.execute(
                text("SELECT notebook.name FROM notebook JOIN assignment ON notebook.assignment_id = assignment.id "
                     "WHERE assignment.name = :aid"), {"aid": aid})}
    except Exception:  # noqa: BLE001 - unreadable: sync, where nbgrader reports what is wrong
        return False
    finally:
        engine.dispose()
    return set(names) <= have


_RECORDED_QUERIES = {
    "notebooks": "SELECT n.id, n.name, n.kernelspec FROM notebook n JOIN assignment a ON n.assignment_id = a.id "
                 "WHERE a.name = :aid",
    "cells": "SELECT s.notebook_id, s.name, s.cell_type, s.locked, s.source, s.checksum FROM source_cell s "
             "JOIN notebook n ON s.notebook_id = n.id JOIN assignment a ON n.assignment_id = a.id WHERE a.name = :aid",
    "points": "SELECT b.notebook_id, b.name, g.max_score FROM base_cell b JOIN grade_cells g ON g.id = b.id "
              "JOIN notebook n ON b.notebook_id = n.id JOIN assignment a ON n.assignment_id = a.id "
              "WHERE a.name = :aid AND b.type = 'GradeCell'",
    "solutions": "SELECT b.notebook_id, b.name FROM base_cell b JOIN notebook n ON b.notebook_id = n.id "
                 "JOIN assignment a ON n.assignment_id = a.id WHERE a.name = :aid AND b.type = 'SolutionCell'",
    "tasks": "SELECT b.notebook_id, b.name, t.max_score FROM base_cell b JOIN task_cells t ON t.id = b.id "
             "JOIN notebook n ON b.notebook_id = n.id JOIN assignment a ON n.assignment_id = a.id "
             "WHERE a.name = :aid AND b.type = 'TaskCell'",
}


def recorded_cells(db_url: str, aid: str) -> dict:
    """What the gradebook holds of assignment `aid`'s source, ``{notebook: Recorded}``: the
    rows nbgrader's ``OverwriteCells`` and ``OverwriteKernelspec`` read to sanitise a
    submission (``notebook``, ``source_cell``, ``base_cell`` with ``grade_cells``,
    ``solution_cells`` and ``task_cells``, as nbgrader's models name them), read with
    SQLAlchemy alone, in one transaction. Read once per assignment and run by the grading
    parent after :func:`sync_if_changed`; the workers get it with each task."""
    from sqlalchemy import create_engine, text  # slow import (see AUTHORING.md)
    _sqlite_settings()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = {k: conn.execute(text(q), {"aid": aid}).all() for k, q in _RECORDED_QUERIES.items()}
    finally:
        engine.dispose()
    out, by_id = {}, {}
    for nid, name, kernelspec in rows["notebooks"]:
        by_id[nid] = out[name] = Recorded(kernelspec=kernelspec)
    for nid, name, cell_type, locked, source, checksum in rows["cells"]:
        by_id[nid].cells[name] = {"cell_type": cell_type, "locked": bool(locked), "source": source or "",
                                  "checksum": checksum}
    for nid, name, points in rows["points"]:
        by_id[nid].points[name] = float(points)
    for nid, name in rows["solutions"]:
        by_id[nid].solutions.append(name)
    for nid, name, points in rows["tasks"]:
        by_id[nid].tasks[name] = float(points)
    return out


def sync_if_changed(root: Path, aid: str, db_url: str, config) -> bool:
    """:func:`sync_gradebook`, unless the gradebook says it recorded this very source already
    (:func:`source_recorded`: the checksum in its ``tnn_source_sync`` table, and every notebook
    of the assignment present). Returns whether it synced. Running nbgrader's preprocessors and
    ``SaveCells`` over an unchanged source rewrites the same rows: a grading of one submission
    spent a second on it, and importing nbgrader only to find that out most of another."""
    notebooks = source_notebooks(root, aid)
    want = source_checksum(notebooks)
    if source_recorded(db_url, aid, want, [p.stem for p in notebooks]):
        return False
    table = _sync_table()
    sync_assignment(root, aid, db_url, config, notebooks)
    with open_gradebook(db_url) as gb, gb.engine.begin() as conn:
        table.create(conn, checkfirst=True)
        conn.execute(table.delete().where(table.c.assignment == aid))
        conn.execute(table.insert().values(assignment=aid, checksum=want))
    return True


# ----------------------------------------------------------------------------------------
# the bulk writer: many submissions, one gradebook connection, one transaction per batch
# ----------------------------------------------------------------------------------------
class Writer:
    """Records graded submissions in batches, with the rows :func:`record` writes.

    :func:`record` opens nbgrader's ``Gradebook`` (an engine, a connection, the schema
    check) and ``SaveAutoGrades`` opens another, then commits once per cell: 150 ms a
    submission into PostgreSQL. A ``Writer`` keeps one ``Gradebook`` for its lifetime and
    writes a batch of submissions in one transaction: nbgrader's own
    ``update_or_create_student`` / ``update_or_create_submission`` (their commits become
    flushes inside the batch), then, cell by cell of each autograded notebook, what
    ``SaveAutoGrades`` sets: ``auto_score`` from nbgrader's ``determine_grade``,
    ``needs_manual_grade`` from the manual score, ``auto_comment`` from the checksum.

    A batch that fails is rolled back whole and its submissions recorded one by one with
    :func:`record` (nbgrader's own path); :meth:`write` returns those that still failed,
    with why. Nothing is half-written: a crash inside a batch loses only uncommitted rows,
    which the run's end (:func:`check` / :func:`repair`) or a rerun writes again."""

    def __init__(self, db_url: str, config=None):
        prepare()
        self.db_url, self.config = db_url, config
        self.batch_errors: list[str] = []     # why batches fell back to one submission at a time
        self.gb = open_gradebook(db_url)

    def check(self, results: list) -> dict:
        """:func:`check` of `results` in this writer's gradebook (after its writes: their
        statements compiled already, no other connection opened)."""
        try:
            return check_in(self.gb, results)
        finally:
            self.gb.db.rollback()   # nothing read stays in a transaction while the workers grade

    def close(self) -> None:
        if self.gb is not None:
            self.gb.close()
            self.gb = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def write(self, items) -> list:
        """Record `items`, each ``(result, autograded_path, timestamp)`` as :func:`record`
        takes them, in one transaction. Returns ``[(result, error)]`` for those that could not
        be recorded even one by one (empty when all were)."""
        from sqlalchemy.exc import SAWarning  # slow import (see AUTHORING.md)
        items = list(items)
        if not items:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            try:
                self._write_batch(items)
                return []
            except Exception as err:  # noqa: BLE001 - the batch is rolled back whole; one by one below
                self.batch_errors.append(f"{type(err).__name__}: {err}")
                self._reset()
            failed = []
            for result, path, stamp in items:
                try:
                    record(result, path, self.db_url, stamp, self.config)
                except Exception as err:  # noqa: BLE001 - reported to the caller
                    failed.append((result, f"{type(err).__name__}: {err}"))
            return failed

    def _reset(self) -> None:
        try:
            self.gb.db.rollback()
        except Exception:  # noqa: BLE001 - a broken connection: start a new gradebook
            try:
                self.gb.close()
            finally:
                self.gb = open_gradebook(self.db_url)

    def _write_batch(self, items) -> None:
        """The batch in one transaction: three queries read what exists (students,
        assignments, submissions with their rows), then nbgrader's objects are made and
        changed as ``update_or_create_student``, ``update_or_create_submission``
        (``add_submission``) and ``SaveAutoGrades`` do, and one flush writes them all."""
        from nbgrader import utils  # slow import (see AUTHORING.md)
        from nbgrader.api import Assignment, MissingEntry, Student, SubmittedAssignment, SubmittedNotebook  # slow import (see AUTHORING.md)
        from sqlalchemy.orm import selectinload  # slow import (see AUTHORING.md)
        db = self.gb.db
        ids = sorted({r["student"] for r, _, _ in items})
        with db.no_autoflush:
            students = {s.id: s for s in db.query(Student).filter(Student.id.in_(ids))}
            aids = sorted({r["assignment"] for r, _, _ in items})
            assignments = {a.name: a for a in db.query(Assignment).filter(Assignment.name.in_(aids))}
            for aid in aids:
                if aid not in assignments:
                    raise MissingEntry(f"No such assignment: {aid}")
            subs = {}
            for sub in db.query(SubmittedAssignment).filter(
                    SubmittedAssignment.assignment_id.in_([a.id for a in assignments.values()]),
                    SubmittedAssignment.student_id.in_(ids)).options(
                    selectinload(SubmittedAssignment.notebooks).selectinload(SubmittedNotebook.grades),
                    selectinload(SubmittedAssignment.notebooks).selectinload(SubmittedNotebook.comments)):
                subs[(sub.assignment_id, sub.student_id)] = sub
            cells = {}       # cell id -> name, for every notebook of the batch's assignments
            for a in assignments.values():
                for nb in a.notebooks:
                    for c in list(nb.grade_cells) + list(nb.solution_cells) + list(nb.task_cells):
                        cells[c.id] = c.name
            for result, path, stamp in items:
                sid, a = result["student"], assignments[result["assignment"]]
                if sid not in students:                              # update_or_create_student
                    students[sid] = Student(id=sid)
                    db.add(students[sid])
                sub = subs.get((a.id, sid))
                if sub is None:                                      # add_submission
                    sub = subs[(a.id, sid)] = _new_submission(a, students[sid], stamp)
                    db.add(sub)
                elif stamp:                                          # update_or_create_submission
                    sub.timestamp = utils.parse_utc(stamp)
                self._write_notebooks(result, path, sub, cells)
        db.commit()

    @staticmethod
    def _write_notebooks(result: dict, autograded, sub, cells: dict) -> None:
        from nbgrader.api import MissingEntry  # slow import (see AUTHORING.md)
        student, aid = result["student"], result["assignment"]
        by_name = {snb.notebook.name: snb for snb in sub.notebooks}
        for name, nbres in result["notebooks"].items():
            snb = by_name.get(name)
            if snb is None:       # nbgrader's find_submission_notebook raises the same
                raise MissingEntry(f"No such submitted notebook: {name}/{aid} for {student}")
            if nbres["state"] != "graded":
                for grade in snb.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
                continue
            nb = _read_notebook(autograded(name))
            _save_autogrades({cells[g.cell_id]: g for g in snb.grades}, {cells[c.cell_id]: c for c in snb.comments},
                             nb, name, aid, student)


def _read_notebook(path):
    """An autograded notebook (the grader wrote it: nbformat 4) as ``nbformat.read`` gives
    it, without the schema validation that costs a third of a submission's write; another
    version goes through ``nbformat.read``."""
    import nbformat  # slow import (see AUTHORING.md)
    import nbformat.v4  # slow import (see AUTHORING.md)
    text = open(path, encoding="utf-8").read()
    nb = nbformat.v4.reads(text)          # nbformat's own reader of version 4, lines rejoined
    return nb if nb.get("nbformat") == 4 else nbformat.reads(text, as_version=4)


def _new_submission(assignment, student, stamp):
    """nbgrader's ``Gradebook.add_submission``: the submission and the rows of every cell."""
    from nbgrader import utils  # slow import (see AUTHORING.md)
    from nbgrader.api import Comment, Grade, SubmittedAssignment, SubmittedNotebook  # slow import (see AUTHORING.md)
    kwargs = {"timestamp": utils.parse_utc(stamp)} if stamp else {}
    submission = SubmittedAssignment(assignment=assignment, student=student, **kwargs)
    for notebook in assignment.notebooks:
        nb = SubmittedNotebook(notebook=notebook, assignment=submission)
        for grade_cell in notebook.grade_cells:
            Grade(cell_id=grade_cell.id, notebook=nb)
        for solution_cell in notebook.solution_cells:
            Comment(cell_id=solution_cell.id, notebook=nb)
        for task_cell in notebook.task_cells:
            Comment(cell_id=task_cell.id, notebook=nb)
            Grade(cell_id=task_cell.id, notebook=nb)
    return submission


BATCH = 64   # submissions per transaction at most (what is waiting is written at once)


def batches(q, most: int = BATCH):
    """Lists of the items of the queue `q` until a ``None`` item: each list what is waiting
    (blocking for the first, at most `most`)."""
    while True:
        item = q.get()
        if item is None:
            return
        batch = [item]
        while len(batch) < most:
            try:
                item = q.get_nowait()
            except _queue.Empty:
                break
            if item is None:
                yield batch
                return
            batch.append(item)
        yield batch


class LazyWriter:
    """A :class:`Writer` opened on first use and reopened after a failure to open; a
    gradebook that cannot be opened makes :meth:`write` raise (the caller's end-of-run
    comparison records what is missing)."""

    def __init__(self, db_url: str, config):
        self.db_url, self.config, self.writer = db_url, config, None

    def _opened(self) -> Writer:
        if self.writer is None:
            self.writer = Writer(self.db_url, self.config)
        return self.writer

    def open(self) -> None:
        """Open the gradebook now, ahead of the first write; a failure is met again, and
        reported, by :meth:`write`."""
        try:
            self._opened()
        except Exception:  # noqa: BLE001 - write() opens it again and raises
            pass

    def write(self, items) -> list:
        return self._opened().write(items)

    def check(self, results: list) -> dict:
        return self._opened().check(results)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


_LOG = logging.getLogger("traitlets")   # where SaveAutoGrades's own log goes


def _save_autogrades(grades: dict, comments: dict, nb, notebook: str, aid: str, student: str) -> None:
    """What nbgrader's ``SaveAutoGrades.preprocess_cell`` does to each cell of `nb`, on the
    rows of one submitted notebook (`grades`, `comments`: by cell name; found once, not one
    query per cell)."""
    from nbgrader import utils  # slow import (see AUTHORING.md)
    from nbgrader.api import MissingEntry  # slow import (see AUTHORING.md)

    def find(rows, kind, gid):
        row = rows.get(gid)
        if row is None:   # SaveAutoGrades's find_grade / find_comment raise the same
            raise MissingEntry(f"No such {kind}: {gid} in {notebook}/{aid} for {student}")
        return row

    for cell in nb.cells:
        if utils.is_grade(cell):
            grade = find(grades, "grade", cell.metadata["nbgrader"]["grade_id"])
            grade.auto_score, _ = utils.determine_grade(cell, _LOG)
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        if utils.is_solution(cell) or utils.is_task(cell):
            comment = find(comments, "comment", cell.metadata["nbgrader"]["grade_id"])
            if cell.metadata.nbgrader.get("checksum", None) == utils.compute_checksum(cell) and \
                    not utils.is_task(cell):
                comment.auto_comment = "No response."
            else:
                comment.auto_comment = None


def sync_gradebook(root: Path, aid: str, db_url: str, config) -> None:
    """Record the assignment's source cells and checksums in the gradebook."""
    sync_assignment(root, aid, db_url, config, source_notebooks(root, aid))


# ----------------------------------------------------------------------------------------
# the gradebook against the result files
# ----------------------------------------------------------------------------------------
SCORE_TOLERANCE = 1e-6


def differences(gb, result: dict) -> list[str]:
    """What differs between the gradebook `gb` and one result file (empty when they agree):
    a missing submission or notebook, a grade or comment row missing from the submission
    (what makes nbgrader's ``SaveAutoGrades`` and formgrader fail), an autograder score that
    is not the result's points, a timestamp that is not the submission's. Manual scores,
    extra credit and comments are the graders' own and are not compared."""
    from nbgrader import utils  # slow import (see AUTHORING.md)
    from nbgrader.api import MissingEntry  # slow import (see AUTHORING.md)
    student, aid = result["student"], result["assignment"]
    try:
        sub = gb.find_submission(aid, student)
    except MissingEntry:
        return ["no submission in the gradebook"]
    found = []
    if result.get("timestamp"):
        try:
            want = utils.parse_utc(result["timestamp"])
        except Exception:  # noqa: BLE001 - nbgrader could not read it either; nothing to compare
            want = None
        if want is not None and sub.timestamp != want:
            found.append(f"timestamp {sub.timestamp} instead of {want}")
    for name in sorted(result["notebooks"]):
        try:
            snb = gb.find_submission_notebook(name, aid, student)
        except MissingEntry:
            found.append(f"{name}: no submitted notebook in the gradebook")
            continue
        nb = snb.notebook
        graded_ids = {g.cell_id for g in snb.grades}
        commented_ids = {c.cell_id for c in snb.comments}
        missing = sorted(c.name for c in list(nb.grade_cells) + list(nb.task_cells) if c.id not in graded_ids)
        missing += sorted(f"comment {c.name}" for c in list(nb.solution_cells) + list(nb.task_cells)
                          if c.id not in commented_ids)
        if missing:
            found.append(f"{name}: no row for {', '.join(missing)}")
        grades = {g.name: g for g in snb.grades}
        for cell in result["notebooks"][name]["cells"]:
            g = grades.get(cell["grade_id"])
            if g is None:
                if cell["grade_id"] not in missing:
                    found.append(f"{name}/{cell['grade_id']}: not a grade cell of the gradebook")
                continue
            if g.auto_score is None or abs(float(g.auto_score) - float(cell["points"])) > SCORE_TOLERANCE:
                found.append(f"{name}/{cell['grade_id']}: {g.auto_score} points in the gradebook, "
                             f"{cell['points']:g} in the result file")
    return found


def complete_submission(gb, aid: str, student: str) -> int:
    """Add the grade and comment rows a submission lacks (as nbgrader's ``add_submission``
    makes them), keeping every row it has, manual grades included. Returns rows added."""
    from nbgrader.api import Comment, Grade, MissingEntry, SubmittedNotebook  # slow import (see AUTHORING.md)
    try:
        sub = gb.find_submission(aid, student)
    except MissingEntry:
        return 0
    added = 0
    have = {snb.notebook_id: snb for snb in sub.notebooks}
    for notebook in sub.assignment.notebooks:
        snb = have.get(notebook.id)
        if snb is None:
            snb = SubmittedNotebook(notebook=notebook, assignment=sub)
            gb.db.add(snb)
            added += 1
        graded = {g.cell_id for g in snb.grades}
        commented = {c.cell_id for c in snb.comments}
        for cell in list(notebook.grade_cells) + list(notebook.task_cells):
            if cell.id not in graded:
                gb.db.add(Grade(cell_id=cell.id, notebook=snb))
                added += 1
        for cell in list(notebook.solution_cells) + list(notebook.task_cells):
            if cell.id not in commented:
                gb.db.add(Comment(cell_id=cell.id, notebook=snb))
                added += 1
    gb.db.commit()
    return added


def check(results: list, db_url: str) -> dict:
    """``{(student, assignment): [differences]}`` for every result that differs from the gradebook."""
    prepare()
    with open_gradebook(db_url) as gb:
        return check_in(gb, results)


def check_in(gb, results: list) -> dict:
    """:func:`check` in the open gradebook `gb`, every row read again from the database
    (nothing this session holds is trusted)."""
    gb.db.expire_all()
    out = {}
    for r in results:
        found = differences(gb, r)
        if found:
            out[(r["student"], r["assignment"])] = found
    return out


def repair(result: dict, autograded_path, db_url: str, config) -> list[str]:
    """Record one result again, after completing its submission's rows; returns what still
    differs (empty when the gradebook now agrees)."""
    from sqlalchemy.exc import SAWarning  # slow import (see AUTHORING.md)
    prepare()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        with open_gradebook(db_url) as gb:
            complete_submission(gb, result["assignment"], result["student"])
        record(result, autograded_path, db_url, result.get("timestamp"), config)
        with open_gradebook(db_url) as gb:
            complete_submission(gb, result["assignment"], result["student"])  # a submission recording just made
            return differences(gb, result)
