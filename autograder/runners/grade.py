"""``tnn-course grade``: autograde a class with nbgrader, in parallel, crash-safe.

The parent process finds the submissions, writes the assignment's source cells into the
gradebook (nbgrader's ``SaveCells``, as ``generate_assignment`` does), and hands the
submissions to N long-lived worker processes (:mod:`autograder.runners.worker`). As each
submission comes back the parent — and only the parent, so SQLite sees one writer —
records it in the gradebook with nbgrader's ``SaveAutoGrades``, writes the autograded
notebook, the student's feedback and a result file ``results/<student>/<assignment>.json``.
A result file whose fingerprint (submission, source notebook, grading settings) still
matches is reused on the next run, so a crash loses nothing already graded and grading
again gives the same results. At the end every result is compared with the gradebook and a
submission that differs is recorded again (:func:`verify_gradebook`); then come
``grades.csv`` and ``report.html``. One grading at a time holds an output folder and a
gradebook (:mod:`autograder.gradebook.lock`).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import re
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from autograder import defaults
from autograder.course import course_root, ensure_tools_on_path, nbgrader_config, source_notebooks
from autograder.defaults import GRADER_VERSION
from autograder.gradebook.writer import (LazyWriter, Writer, batches, check, open_gradebook, record, repair,
                                         recorded_cells, source_checksum, sync_gradebook, sync_if_changed)
from autograder.pages.feedback import write_feedback
from autograder.files import atomic_write
from autograder.outcomes.cells import UNGRADABLE, exercise_of, is_answer_cell, nbgrader_meta
from autograder.pages.report import write_report
from autograder.records import Layout, NotebookResult
from autograder.runners.timings import mark
from autograder.settings import Settings
from autograder.evaluation.pipeline import layout_of_notebook
from autograder.gradebook import exchange
from autograder.gradebook.lock import GradingLock, held_descriptors
from autograder.runners.worker import forked_worker_main, worker_main
from autograder.sandbox.launch import clean_after
from autograder.similarity.report import warm_course_sources, write_similarity

CSV_COLUMNS = ["student", "assignment", "grade_id", "points", "max_points", "status", "misconception",
               "seconds_late"]  # nbgrader's lateness: the timestamp past the due date in the gradebook
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
MAX_ATTEMPTS = 2


@dataclass
class Task:
    student: str
    assignment: str
    notebooks: dict                      # notebook name -> submitted path (None when missing)
    timestamp: str | None = None
    fingerprint: str = ""
    attempts: int = 0


# ----------------------------------------------------------------------------------------
# the assignment as the source defines it
# ----------------------------------------------------------------------------------------
LAYOUT_CODE = [Path(__file__).resolve().parent.parent / rel for rel in
               ("evaluation/pipeline.py", "records.py", "outcomes/cells.py")]   # what a layout is made by


def cache_dir() -> Path:
    """Where the grader keeps what it can make again from content alone (named by a checksum
    of that content, so never stale): ``$TNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/tnn-course``,
    else ``~/.cache/tnn-course``."""
    if os.environ.get("TNN_CACHE_DIR"):
        return Path(os.environ["TNN_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tnn-course"


def source_layouts(root: Path, aid: str) -> dict:
    """The layouts of an assignment's source notebooks, ``{notebook: Layout}``, made with
    :func:`layout_of` (nbgrader's ``ClearHiddenTests``) once per source: kept in
    :func:`cache_dir` under a checksum of the source, nbgrader's version and the modules that
    make a layout. A grading whose source is unchanged then sends its first submission
    before importing nbgrader. A cache that cannot be read or written is only slower."""
    notebooks = source_notebooks(root, aid)
    path = _layouts_path(notebooks, aid)
    cached = cached_layouts(root, aid, path)
    if cached is not None:
        return cached
    layouts = {p.stem: layout_of(p) for p in notebooks}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({n: lay.to_json() for n, lay in layouts.items()}, sort_keys=True))
    except OSError:   # only a head start for the next run
        pass
    return layouts


def _layouts_path(notebooks: list, aid: str) -> Path:
    h = hashlib.sha256(f"{GRADER_VERSION}|{source_checksum(notebooks)}".encode())
    for code in LAYOUT_CODE:
        h.update(code.read_bytes())
    return cache_dir() / f"layouts-{aid}-{h.hexdigest()[:32]}.json"


def cached_layouts(root: Path, aid: str, path: Path | None = None) -> dict | None:
    """The layouts :func:`source_layouts` keeps for this source of `aid`, or None when the
    cache has none (or an unreadable one)."""
    notebooks = source_notebooks(root, aid)
    path = path or _layouts_path(notebooks, aid)
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if set(cached) == {p.stem for p in notebooks}:
            return {name: Layout.from_json(data) for name, data in cached.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass   # none yet, or unreadable: made again
    return None


def layout_of(path: Path) -> Layout:
    """The nbgrader cells of a source notebook, in order (:class:`~autograder.records.Layout`):
    ids, test cells and their points, answer cells, each test cell's source (hidden regions
    included) and its released source (nbgrader's ``ClearHiddenTests``)."""
    import nbformat  # slow import (see AUTHORING.md)
    from nbgrader.preprocessors import ClearHiddenTests  # slow import (see AUTHORING.md)

    clear = ClearHiddenTests()
    return layout_of_notebook(nbformat.read(str(path), as_version=4),
                              lambda cell: clear.preprocess_cell(nbformat.from_dict(dict(cell)), {}, 0)[0].source)


# ----------------------------------------------------------------------------------------
# finding the submissions
# ----------------------------------------------------------------------------------------
def discover(submissions: Path, assignment: str | None, root: Path) -> list[Task]:
    """Submissions in nbgrader's ``<student>/<assignment>/`` layout, or a folder of
    ``<student>.ipynb`` files (which needs `assignment`)."""
    known = sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir() and source_notebooks(root, p.name))
    if assignment is not None and assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r}; expected one of {known}")
    if not submissions.is_dir():
        raise FileNotFoundError(f"no such folder of submissions: {submissions}")
    flat = sorted(p for p in submissions.iterdir() if p.is_file() and p.suffix == ".ipynb")
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    tasks = []
    if flat and not any((s / a).is_dir() for s in students for a in known):
        if assignment is None:
            raise ValueError(f"{submissions} holds <student>.ipynb files: say which assignment they are with "
                             f"--assignment (one of {known})")
        names = [p.stem for p in source_notebooks(root, assignment)]
        if len(names) != 1:
            raise ValueError(f"assignment {assignment} has {len(names)} notebooks; a folder of <student>.ipynb "
                             "files can only be graded for a one-notebook assignment")
        for p in flat:
            tasks.append(Task(_student_id(p.stem), assignment, {names[0]: p}))
        return tasks
    for s in students:
        for a in ([assignment] if assignment else known):
            adir = s / a
            if not adir.is_dir():
                continue
            nbs = {p.stem: (adir / f"{p.stem}.ipynb") for p in source_notebooks(root, a)}
            nbs = {k: (v if v.exists() else None) for k, v in nbs.items()}
            stamp = adir / "timestamp.txt"
            tasks.append(Task(_student_id(s.name), a, nbs,
                              timestamp=stamp.read_text().strip() if stamp.is_file() else None))
    if not tasks:
        raise ValueError(f"found no submissions in {submissions}: expected <student>/<assignment>/<notebook>.ipynb "
                         f"(assignments: {known}) or <student>.ipynb files with --assignment")
    return tasks


def _student_id(name: str) -> str:
    if not STUDENT_ID.match(name):
        raise ValueError(f"student id {name!r} must be letters, digits and _.@+- (it names files and folders)")
    return name


def fingerprint(task: Task, root: Path, settings: Settings) -> str:
    h = hashlib.sha256(f"{GRADER_VERSION}|{settings.fingerprint_text()}|{task.timestamp}".encode())
    for name in sorted(task.notebooks):
        p = task.notebooks[name]
        h.update(name.encode() + b"\0" + (Path(p).read_bytes() if p is not None and Path(p).is_file() else b"-"))
    for p in source_notebooks(root, task.assignment):
        h.update(p.read_bytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------
# the workers
# ----------------------------------------------------------------------------------------
class WorkerPool:
    """N worker processes, one task at a time each; a worker that dies is replaced and its
    task retried once, then reported as a grader error.

    Every worker starts at once, forked while the parent has one thread, and boots its
    sandbox while the parent checks the input and the gradebook (a run that then has less to
    grade ends the surplus: :meth:`discard`). No worker imports nbgrader: the sanitising works
    from the gradebook's record of the source, sent with each task."""

    def __init__(self, n: int, settings: Settings, budget: float | None = None, warm=None, setup=None):
        self.ctx = multiprocessing.get_context("spawn")
        self.settings = settings
        # the answer cells of the first notebook to grade and its course setup cells: a worker's
        # first message, so that it boots its sandbox and runs the setup before its first task
        # comes (:meth:`warm_up`; None until known)
        self.warm, self.setup = None, []
        # a watchdog: a submission that keeps a worker busy this long (whatever the reason: the
        # submission's own budget normally ends it well before) costs that worker, which is
        # killed and replaced like one that died
        self.budget = budget if budget is not None else settings.watchdog_seconds()
        self.workers = [self._start() for _ in range(n)]
        if warm is not None:
            self.warm_up(warm, setup)

    def _context(self):
        """How a worker is started: forked while this process has one thread (the start of a
        grading: the worker has the grader's modules imported at once, without a new
        interpreter importing them again), else spawned (a replacement, while the results'
        writer runs: forking a process with threads can copy a lock some thread holds)."""
        if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
            return multiprocessing.get_context("fork")
        return self.ctx

    def _start(self, warm: bool = True):
        """A new worker; with `warm`, its first message once the pool knows it (a replacement
        started when nothing is left to grade gets none: it boots no sandbox)."""
        ctx = self._context()
        parent, child = ctx.Pipe()
        base = tempfile.mkdtemp(prefix="tnn-worker-")   # its sandboxes' scratch and cgroup ledger
        args = (child, self.settings.replace(scratch_base=base).to_json())
        if ctx.get_start_method() == "fork":
            # what it must not keep of this process: the pipes' other ends (or it would never
            # see this process end) and the grading's locks (or they would outlive it)
            drop = [w["conn"].fileno() for w in getattr(self, "workers", ()) if not w["conn"].closed]
            drop += [parent.fileno(), *held_descriptors()]
            proc = ctx.Process(target=forked_worker_main, args=(*args, drop), daemon=True)
        else:
            proc = ctx.Process(target=worker_main, args=args, daemon=True)
        proc.start()
        child.close()
        w = {"proc": proc, "conn": parent, "task": None, "base": base}
        if warm and self.warm is not None:
            try:
                parent.send({"warm": self.warm, "setup": self.setup})
            except OSError:   # it died at once: run() finds it so
                pass
        return w

    def warm_up(self, answers, setup=None) -> None:
        """Send every worker its first message, `answers` (a list, maybe empty): the answer
        cells its sandbox is built for, and `setup`, the course's setup cells its test cells
        run with (:func:`_first_setup`); a worker waits for it before it starts its sandbox."""
        self.warm, self.setup = list(answers or []), list(setup or [])
        for w in self.workers:
            try:
                w["conn"].send({"warm": self.warm, "setup": self.setup})
            except OSError:   # it died: run() finds it so and starts another
                pass

    def discard(self, keep: int = 0) -> None:
        """End all workers but the first `keep`, at once (started for a run that has less to
        grade: nothing they did is used)."""
        for w in self.workers[keep:]:
            w["proc"].kill()
            w["proc"].join(timeout=10)
            w["conn"].close()
            self._clean(w)
        self.workers = self.workers[:keep]

    @staticmethod
    def _clean(w):
        clean_after(w["base"])

    def run(self, tasks, payload, on_done, on_crash):
        pending = deque(tasks)
        # per submission graded: seconds from its payload sent to its result back (benchmarks)
        self.stats = {"seconds": []}

        def feed(w):
            if pending:
                w["task"] = pending.popleft()
                w["started"] = time.monotonic()
                w["conn"].send(payload(w["task"]))

        for w in self.workers:
            feed(w)
        while any(w["task"] is not None for w in self.workers):
            busy = [w for w in self.workers if w["task"] is not None]
            left = min(w["started"] + self.budget for w in busy) - time.monotonic()
            ready = multiprocessing.connection.wait([w["conn"] for w in busy] + [w["proc"].sentinel for w in busy],
                                                    timeout=max(0.0, left))
            for w in busy:
                if w["conn"] not in ready and time.monotonic() - w["started"] > self.budget:
                    w["proc"].kill()          # over budget: handled below as a worker that died
                    ready.append(w["proc"].sentinel)
            for i, w in enumerate(self.workers):
                if w["task"] is None or not (w["conn"] in ready or w["proc"].sentinel in ready):
                    continue
                try:
                    result = w["conn"].recv() if w["conn"].poll() else None
                except (EOFError, OSError):
                    result = None
                task, w["task"] = w["task"], None
                if result is not None:
                    self.stats["seconds"].append(time.monotonic() - w["started"])
                    on_done(task, result)
                    feed(w)
                    continue
                # the worker died with this task
                w["proc"].join(timeout=5)
                w["conn"].close()
                self._clean(w)
                task.attempts += 1
                if task.attempts < MAX_ATTEMPTS:
                    pending.appendleft(task)
                else:
                    on_crash(task, f"the grading worker died {MAX_ATTEMPTS} times on this submission (exit code "
                             f"{w['proc'].exitcode})")
                self.workers[i] = self._start(warm=bool(pending))
                feed(self.workers[i])

    def stop(self):
        """Tell every worker to finish (they end their sandboxes and exit on their own);
        :meth:`close` waits for them."""
        if getattr(self, "stopped", False):
            return
        self.stopped = True
        for w in self.workers:
            try:
                w["conn"].send(None)
            except (OSError, BrokenPipeError):
                pass

    def close(self):
        self.stop()
        for w in self.workers:
            w["proc"].join(timeout=30)
            if w["proc"].is_alive():
                w["proc"].terminate()
                w["proc"].join(timeout=5)
            self._clean(w)


# ----------------------------------------------------------------------------------------
# writing results (parent only)
# ----------------------------------------------------------------------------------------
_atomic_write = atomic_write


def result_path(out: Path, student: str, aid: str) -> Path:
    return out / "results" / student / f"{aid}.json"


def autograded_path(out: Path, student: str, aid: str, notebook: str) -> Path:
    return out / "autograded" / student / aid / f"{notebook}.ipynb"


def _autograded_of(out: Path, result: dict):
    return lambda name: autograded_path(out, result["student"], result["assignment"], name)


def record_many(items, out: Path, db_url: str, config) -> None:
    """Record `items`, ``(result, timestamp)``, in one transaction
    (:class:`~autograder.gradebook.writer.Writer`); what fails is compared and repaired at the
    end of the run."""
    try:
        with Writer(db_url, config) as w:
            w.write([(r, _autograded_of(out, r), stamp) for r, stamp in items])
    except Exception:  # noqa: BLE001 - compared and repaired at the end of the run
        pass


def record_in_gradebook(result: dict, out: Path, db_url: str, timestamp: str | None, config) -> None:
    """Write one submission's grades with nbgrader's gradebook API and SaveAutoGrades."""
    record(result, lambda name: autograded_path(out, result["student"], result["assignment"], name), db_url,
           timestamp, config)


def rows_of(result: dict) -> list[dict]:
    rows = []
    for name in sorted(result["notebooks"]):
        for c in result["notebooks"][name]["cells"]:
            rows.append({"student": result["student"], "assignment": result["assignment"], "grade_id": c["grade_id"],
                         "points": f"{c['points']:g}", "max_points": f"{c['max_points']:g}", "status": c["status"],
                         "misconception": c["misconception"],
                         "seconds_late": f"{result.get('seconds_late') or 0:g}"})
    return rows


def graded_ok(result: dict) -> bool:
    return all(nb["state"] == "graded" for nb in result["notebooks"].values())


@dataclass
class Summary:
    results: list
    not_graded: list
    output: Path
    feedback_for_release: tuple = ()   # our pages where `nbgrader release_feedback` finds them
    graded_now: int = 0              # submissions graded in this run (the rest were kept)
    stats: dict | None = None        # Dask: seconds per task on the workers, client latency
    repaired: tuple = ()             # (student, assignment, what differed): recorded again at the end
    not_recorded: tuple = ()         # (student, assignment, why): the gradebook still differs

    @property
    def exit_status(self) -> int:
        return 0 if not self.not_graded and not self.not_recorded else 1


def grade(submissions, assignment=None, workers=1, timeout=defaults.TIMEOUT_SECONDS, output="grading", db_url=None,
          root=None, memory_mb=defaults.MEMORY_MB, max_output_bytes=defaults.MAX_OUTPUT_BYTES, regrade=False,
          progress=True, log=None, worker_budget=None, scheduler=None, wait=False,
          budget=defaults.BUDGET_SECONDS, settings: Settings | None = None) -> Summary:
    """Grade a class; see the module docstring. Returns the results and what was not graded.
    `settings`: the run's :class:`~autograder.settings.Settings` (the command line's); without
    it they are made from `workers`, `timeout`, `budget`, `memory_mb`, `max_output_bytes`,
    `root` and `db_url`.
    `budget`: seconds one submission may take in all (its cells, their replays and its test
    cells); past it the tests not yet graded are timed out and those graded keep their points.
    `worker_budget`: the watchdog, seconds a worker may spend on one submission before it is
    killed and replaced (default :meth:`Settings.watchdog_seconds`: twice the budget and two
    minutes more). `scheduler`: the address of a Dask scheduler
    (``tcp://HOST:PORT``) to grade on its workers instead of `workers` local processes
    (:mod:`autograder.runners.dask_cluster`). One grading at a time per output folder and gradebook
    (:mod:`autograder.gradebook.lock`): another one holding either raises
    :class:`~autograder.gradebook.lock.GradingLocked`, or, with `wait`, is waited for."""
    mark("parent: imports")
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if settings is None:
        settings = Settings(timeout=timeout, budget=budget, memory_mb=memory_mb, max_output_bytes=max_output_bytes,
                            workers=workers, course=root, db_url=db_url).checked()
        settings = settings.replace(timeout=float(timeout), budget=float(budget), memory_mb=int(memory_mb),
                                    max_output_bytes=int(max_output_bytes))
    settings.checked()
    root = course_root(settings.course)
    if not (root / "solutions").is_dir():
        raise FileNotFoundError(f"{root} is not a course directory: it has no solutions/ folder")
    tasks = discover(Path(submissions), assignment, root)   # bad input is said before any lock is taken
    out, db_url = _output_and_gradebook(output, settings.db_url, root)
    settings = settings.replace(course=str(root), db_url=db_url)
    # local workers start at once (their sandboxes are most of a small grading's time): the
    # first boots its sandbox for the first submission found, before the locks are taken and
    # the submissions planned (a run that then grades another assignment first, or nothing,
    # only wasted that boot)
    pool = None if scheduler else WorkerPool(min(settings.workers, len(tasks)), settings, budget=worker_budget,
                                             warm=_first_answers(root, tasks[0].assignment),
                                             setup=_first_setup(root, tasks[0].assignment))
    mark("parent: started the workers")
    try:
        with GradingLock(out, db_url, wait=wait, log=log):
            mark("parent: checked the input, took the lock")
            return _grade_locked(submissions, assignment, out, settings, regrade, progress, log, worker_budget,
                                 scheduler, pool)
    finally:
        if pool is not None:
            pool.close()   # the workers were told to stop at the end of the grading; here they have ended
            mark("parent: the workers ended")


def _output_and_gradebook(output, db_url, root) -> tuple[Path, str]:
    return Path(output).resolve(), db_url or f"sqlite:///{course_root(root) / 'gradebook.db'}"


def verify_gradebook(results: list, out: Path, db_url: str, config, log, checked=None) -> tuple[list, list]:
    """Compare every result with the gradebook and record again each one that differs
    (:func:`autograder.gradebook.writer.repair`). Returns (repaired, not_recorded), each a list of
    (student, assignment, what). `checked`: ``{(student, assignment): [differences]}`` of
    results among `results` compared already in this run (by the writer, once it had written
    them): those are not read again."""
    checked = checked or {}
    unchecked = [r for r in results if (r["student"], r["assignment"]) not in checked]
    try:
        found = check(unchecked, db_url) if unchecked else {}
    except Exception as err:  # noqa: BLE001 - the gradebook cannot be read: nothing agrees
        return [], [(r["student"], r["assignment"], f"could not read the gradebook: {type(err).__name__}: {err}")
                    for r in unchecked]
    found.update({k: v for k, v in checked.items() if v})
    by_key = {(r["student"], r["assignment"]): r for r in results}
    repaired, failed = [], []
    for key, diffs in sorted(found.items()):
        r = by_key[key]
        try:
            left = repair(r, lambda name, r=r: autograded_path(out, r["student"], r["assignment"], name), db_url,
                          config)
        except Exception as err:  # noqa: BLE001 - reported, and the run's exit status says so
            left = [f"{type(err).__name__}: {err}"]
        if left:
            failed.append((*key, "; ".join(left)))
            log(f"tnn-course grade: could not record {key[0]}/{key[1]} in the gradebook: {'; '.join(left)}")
        else:
            repaired.append((*key, "; ".join(diffs)))
            log(f"tnn-course grade: the gradebook differed from the result file of {key[0]}/{key[1]} "
                f"({'; '.join(diffs)}); recorded it again")
    return repaired, failed


def load_results(out: Path) -> list:
    """Every result file under ``out/results`` (sorted by student, assignment)."""
    found = []
    for p in sorted((out / "results").glob("*/*.json")):
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{p} is not a result file of tnn-course grade: {err}") from None
        if not isinstance(r, dict) or not {"student", "assignment", "notebooks"} <= set(r):
            raise ValueError(f"{p} is not a result file of tnn-course grade")
        found.append(r)
    return sorted(found, key=lambda r: (r["student"], r["assignment"]))


@dataclass
class Verification:
    output: Path
    checked: int
    repaired: list
    not_recorded: list
    csv_rewritten: bool

    @property
    def exit_status(self) -> int:
        return 0 if not self.not_recorded else 1


def verify(output="grading", db_url=None, root=None, wait=False, log=None) -> Verification:
    """``tnn-course grade --verify``: only the end-of-run comparison, under the same lock.
    The gradebook against every result file of `output` (repairing what differs, as every
    run does at its end), and ``grades.csv`` against the same result files (written again
    when it differs: it is made from them)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    out, db_url = _output_and_gradebook(output, db_url, root)
    root = course_root(root)
    if not (out / "results").is_dir():
        raise FileNotFoundError(f"{out} holds no results of tnn-course grade (no results/ folder)")
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    with GradingLock(out, db_url, wait=wait, log=log):
        results = load_results(out)
        config = nbgrader_config(root, db_url)
        _sync_missing(root, {r["assignment"] for r in results}, db_url, config)
        repaired, failed = verify_gradebook(results, out, db_url, config, log)
        try:
            exchange.mark_late(results, db_url)
        except Exception as err:  # noqa: BLE001
            log(f"tnn-course grade: could not read due dates from the gradebook: {err}")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in results:
            w.writerows(rows_of(r))
        path = out / "grades.csv"
        rewrite = not path.is_file() or path.read_text(encoding="utf-8") != buf.getvalue()
        if rewrite:
            log(f"tnn-course grade: {path} differed from the result files; written again")
            _atomic_write(path, buf.getvalue())
    return Verification(out, len(results), repaired, failed, rewrite)


def _sync_missing(root: Path, aids, db_url: str, config) -> None:
    """Record the source cells of the assignments the gradebook does not have."""
    from nbgrader.api import MissingEntry  # slow import (see AUTHORING.md)

    for aid in sorted(aids):
        names = [p.stem for p in source_notebooks(root, aid)]
        with open_gradebook(db_url) as gb:
            try:
                have = {nb.name for nb in gb.find_assignment(aid).notebooks}
            except MissingEntry:
                have = set()
        if not set(names) <= have:
            sync_gradebook(root, aid, db_url, config)


def _grade_locked(submissions, assignment, out: Path, settings: Settings, regrade, progress, log, worker_budget,
                  scheduler, pool=None) -> Summary:
    """:func:`grade`, with its locks held: plan, start the runner (or use `pool`, the local
    workers started before the locks), bring the gradebook up to date, grade what is left,
    then check and report the whole class."""
    ensure_tools_on_path()   # nbgrader runs the environment's `alembic` for the gradebook
    root, db_url = Path(settings.course), settings.db_url
    tasks = discover(Path(submissions), assignment, root)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    config = nbgrader_config(root, db_url)
    todo, kept = _plan(tasks, out, root, settings, regrade)
    mark("parent: found and planned the submissions")
    # the workers start (imports, a warm sandbox) while the gradebook is brought up to date
    pool = _start_runner(todo, settings, scheduler, worker_budget, log, pool)
    mark("parent: the workers know what they grade")
    try:
        layouts, recorded = _prepare(tasks, kept, out, root, db_url, config)
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    results = {(t.student, t.assignment): prev for t, prev in kept}
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="submission", desc="grading",
               disable=not progress, file=sys.stderr, dynamic_ncols=True)
    try:
        writer = ResultWriter(out, db_url, config, root, layouts, results, bar, recorded)
        writer.run(pool, todo)
        bar.close()
        mark("parent: graded and wrote every submission")
        ordered = [results[k] for k in sorted(results)]
        return _conclude(ordered, out, root, Path(submissions), settings, config, log, graded_now=len(todo),
                         stats=getattr(pool, "stats", None), checked=writer.checked)
    finally:
        if hasattr(pool, "stop"):
            pool.stop()   # the local workers end; grade() waits for them after the locks


def _plan(tasks: list, out: Path, root: Path, settings: Settings, regrade: bool) -> tuple[list, list]:
    """(to grade, kept): a submission whose result file still matches its fingerprint, was
    graded and has its autograded notebooks is kept (with that result), unless `regrade`."""
    todo, kept = [], []
    for t in tasks:
        t.fingerprint = fingerprint(t, root, settings)
        old = result_path(out, t.student, t.assignment)
        if not regrade and old.is_file():
            try:
                prev = json.loads(old.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                prev = None
            if prev and prev.get("fingerprint") == t.fingerprint and graded_ok(prev) and all(
                    autograded_path(out, t.student, t.assignment, name).is_file() for name in prev["notebooks"]):
                kept.append((t, prev))
                continue
        todo.append(t)
    return todo, kept


def _start_runner(todo: list, settings: Settings, scheduler, worker_budget, log, pool=None):
    """The runner of this run: None with nothing to grade, a Dask runner with a scheduler,
    else a pool of local worker processes (both ``run(tasks, payload, on_done, on_crash)``):
    `pool`, started already (its surplus workers ended), or a new one."""
    if not todo:
        if pool is not None:
            pool.discard()
        return None
    if scheduler:
        from autograder.runners.dask_cluster import DaskRunner  # slow import (see AUTHORING.md)
        return DaskRunner(scheduler, settings, log, watchdog=worker_budget)
    root, aid = Path(settings.course), todo[0].assignment
    warm = _first_answers(root, aid)
    if pool is None:
        return WorkerPool(min(settings.workers, len(todo)), settings, budget=worker_budget, warm=warm,
                          setup=_first_setup(root, aid))
    pool.discard(keep=min(settings.workers, len(todo)))
    if pool.warm != warm:
        pool.warm_up(warm, _first_setup(root, aid))
    return pool


def _first_answers(root: Path, aid: str) -> list:
    """The answer cells of the assignment's first source notebook, in order (its
    :class:`Layout`'s ``answers``: what a worker's sandbox is built for), read as plain JSON
    (neither nbformat nor nbgrader is imported yet); empty when it cannot be read (the
    worker then starts its sandbox with its first notebook)."""
    try:
        first = source_notebooks(root, aid)[0]
        cells = json.loads(first.read_text(encoding="utf-8"))["cells"]
        return [nbgrader_meta(c)["grade_id"] for c in cells if is_answer_cell(c)]
    except Exception:  # noqa: BLE001 - only a head start
        return []


def _first_setup(root: Path, aid: str) -> list:
    """The course's setup cells of the assignment's first source notebook (its
    :class:`Layout`'s ``setup``), when its layouts are in the cache (:func:`source_layouts`);
    else empty (the worker runs them with its first notebook)."""
    try:
        cached = cached_layouts(root, aid)
        return list(cached[source_notebooks(root, aid)[0].stem].setup) if cached else []
    except Exception:  # noqa: BLE001 - only a head start
        return []


def _prepare(tasks: list, kept: list, out: Path, root: Path, db_url: str, config) -> tuple[dict, dict]:
    """The gradebook gets each assignment's source cells and every kept result (it may be
    new: recording again is idempotent); returns each assignment's layouts and what the
    gradebook recorded of its source (``{aid: {notebook: Recorded}}``, what a worker
    sanitises with)."""
    layouts, recorded = {}, {}
    out.mkdir(parents=True, exist_ok=True)
    for aid in sorted({t.assignment for t in tasks}):
        sync_if_changed(root, aid, db_url, config)   # skipped when the gradebook has this source
        recorded[aid] = recorded_cells(db_url, aid)
        mark("parent: gradebook has the source")
        layouts[aid] = source_layouts(root, aid)
        mark("parent: layouts of the source")
    if kept:   # the gradebook may be new: record the kept results again (idempotent)
        record_many([(prev, t.timestamp) for t, prev in kept], out, db_url, config)
    return layouts, recorded


# how much nicer than the grading the writer's work ahead of the first result is (importing
# nbgrader's API, reading and hashing what the similarity report compares with): a tenth of a
# core's share beside a busy worker, so a large class's first writes wait some seconds, while a
# run of one submission leaves both cores to the worker and the sandbox booting
AHEAD_NICE = 10


class ResultWriter:
    """Writes each submission's result as it arrives, in arrival order, on its own thread
    (off the one that feeds the workers): the autograded notebooks, the gradebook, the
    feedback, and the result file last (it is what a rerun trusts)."""

    def __init__(self, out: Path, db_url: str, config, root: Path, layouts: dict, results: dict, bar,
                 recorded: dict):
        self.out, self.db_url, self.config, self.root = out, db_url, config, root
        self.layouts, self.results, self.bar, self.recorded = layouts, results, bar, recorded
        self.pending: queue.Queue = queue.Queue()
        self.failure: list = []
        # {(student, assignment): [differences]}: results compared with the gradebook once
        # written (by this thread, in its own gradebook, while the workers grade the rest)
        self.checked: dict = {}

    def run(self, pool, todo: list) -> None:
        """Grade `todo` on `pool` (then closed), writing each result as it comes."""
        thread = threading.Thread(target=self._drain, name="tnn-results-writer", daemon=True)
        thread.start()
        try:
            if todo:
                pool.run(todo, self.payload, self.finish, self.crashed)
        except BaseException:
            if pool is not None:
                pool.close()
            raise
        finally:
            if pool is not None:   # the workers end while the results are written; closed at the very end
                (getattr(pool, "stop", None) or pool.close)()
            self.pending.put(None)
            thread.join()
        if self.failure:
            raise self.failure[0]

    def _drain(self) -> None:
        """What is waiting goes into the gradebook in one transaction
        (:class:`~autograder.gradebook.writer.Writer`), then each result's files. Before the
        first result comes (this process waits for the workers then) it opens the gradebook
        (nbgrader's API imported) and reads what the similarity report compares answers with.
        This thread alone imports meanwhile: two threads importing one package at once can
        meet it half-initialised (SQLAlchemy did, when the gradebook's API was imported on a
        thread while the main one took the locks)."""
        book = LazyWriter(self.db_url, self.config)
        try:
            # the imports on the way happen on that thread while this one waits for it: still one
            # thread importing at a time
            ahead = threading.Thread(target=self._ahead, args=(book,), name="tnn-results-ahead", daemon=True)
            ahead.start()
            ahead.join()
            for batch in batches(self.pending):
                try:
                    self.write(batch, book)
                except BaseException as err:  # noqa: BLE001 - reported after the run
                    self.failure.append(err)
        finally:
            book.close()

    def _ahead(self, book) -> None:
        """The writer's work before the first result, on a thread of its own at a lower CPU
        priority (:data:`AHEAD_NICE`; Linux gives each thread its own nice value, and it ends
        with the thread): it takes a core only where the workers and their sandboxes, booting
        then, leave one free. A run of one submission was waiting for them."""
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + AHEAD_NICE))
        except (OSError, AttributeError):   # not Linux: the same work at the usual priority
            pass
        book.open()
        warm_course_sources(self.root, sorted(self.layouts))

    def finish(self, task: Task, result: dict) -> None:
        mark("parent: a result came back")
        self.pending.put((task, result))

    def write(self, batch: list, book) -> None:
        """`batch`: ``[(task, result)]``. The autograded notebooks, the gradebook (one
        transaction), then per result its feedback and its result file, last: it is what a
        rerun trusts."""
        out = self.out
        for task, result in batch:
            result["fingerprint"] = task.fingerprint
            result["timestamp"] = task.timestamp
            for name, nbres in result["notebooks"].items():
                text = nbres.pop("autograded", None)
                if text is not None:
                    _atomic_write(autograded_path(out, task.student, task.assignment, name), text)
        try:
            book.write([(r, _autograded_of(out, r), t.timestamp) for t, r in batch])
            found = book.check([r for _, r in batch])
            self.checked.update({(t.student, t.assignment): found.get((t.student, t.assignment), [])
                                 for t, _ in batch})
        except Exception:  # noqa: BLE001 - compared (again) and repaired at the end of the run
            pass
        for task, result in batch:
            write_feedback(out, result)
            _atomic_write(result_path(out, task.student, task.assignment),
                          json.dumps(result, indent=1, sort_keys=True))
            self.results[(task.student, task.assignment)] = result
            self.bar.update(1)
        mark("writer: autograded notebooks, gradebook, feedback, result files")

    def crashed(self, task: Task, why: str) -> None:
        msg = f"{why}; ask your instructor to look at it"
        self.finish(task, {"student": task.student, "assignment": task.assignment,
                           "notebooks": {name: NotebookResult.ungradable(self.layouts[task.assignment][name],
                                                                         "grader-error", msg).to_json()
                                         for name in task.notebooks}})

    def payload(self, task: Task) -> dict:
        """What a worker is sent for `task` (JSON: it crosses a process boundary)."""
        aid = task.assignment
        return {"student": task.student, "assignment": aid,
                "source_dir": str(self.root / "solutions" / aid),
                "notebooks": {name: {"path": str(p) if p else None,
                                     "layout": self.layouts[aid][name].to_json(),
                                     "recorded": self.recorded[aid][name].to_json()}
                              for name, p in task.notebooks.items()}}


def _conclude(ordered: list, out: Path, root: Path, submissions: Path, settings: Settings, config, log,
              graded_now: int, stats, checked=None) -> Summary:
    """The whole class, once graded: what was not graded, the gradebook compared and
    repaired (but for what the writer compared already, `checked`: see
    :func:`verify_gradebook`), lateness, grades.csv, similarity.html, report.html and the
    feedback placed."""
    db_url = settings.db_url
    not_graded = []
    if any(nb.get("isolated") is False for r in ordered for nb in r["notebooks"].values()):
        log("tnn-course grade: bubblewrap could not run here: the students' code ran with memory, time and process "
            "limits but WITHOUT file and network isolation (install Debian's bubblewrap; see INSTRUCTORS.md)")
    for r in ordered:
        if not graded_ok(r):
            states = sorted({nb["state"] for nb in r["notebooks"].values() if nb["state"] != "graded"})
            not_graded.append((r["student"], r["assignment"], ", ".join(states)))
    # the gradebook is the record: it must say what the result files say
    repaired, not_recorded = verify_gradebook(ordered, out, db_url, config, log, checked)
    mark("parent: compared the gradebook")
    try:
        exchange.mark_late(ordered, db_url)
    except Exception as err:  # the grades stand; lateness is then unknown
        log(f"tnn-course grade: could not read due dates from the gradebook: {err}")
    mark("parent: lateness")
    write_csv(out / "grades.csv", ordered)
    try:  # similar answers (autograder.similarity.fingerprints): never a reason to lose the grades
        write_similarity(out, ordered, root, workers=settings.workers)
    except Exception as err:  # noqa: BLE001
        log(f"tnn-course grade: could not build similarity.html: {type(err).__name__}: {err}")
    mark("parent: grades.csv, similarity.html")
    write_report(out, ordered)
    mark("parent: report.html")
    placed = exchange.place_feedback(out, ordered, submissions, config)
    mark("parent: feedback placed")
    return Summary(ordered, not_graded, out, tuple(placed), graded_now=graded_now, stats=stats,
                   repaired=tuple(repaired), not_recorded=tuple(not_recorded))


def write_csv(path: Path, results: list) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in results:
        w.writerows(rows_of(r))
    _atomic_write(path, buf.getvalue())


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


__all__ = ["grade", "discover", "CSV_COLUMNS", "UNGRADABLE", "exercise_of", "read_csv"]
