"""Worker plumbing: grade one submission at a time in a long-lived worker process.

A worker keeps one warm sandbox (:mod:`autograder.sandbox.launch`)
and grades the submissions the parent sends it, one at a time, each notebook through the
stages of :mod:`autograder.evaluation.pipeline` (load, sanitise, the student process, the
test cells, the reference scan, the notes, the autograded notebook), with nbgrader's
sanitising (done from the gradebook's record of the source that comes with each task) and
a sandboxed student process. A worker imports no nbgrader and never opens the gradebook:
the parent reads the record and writes all results. What crosses the pipe is JSON: the
settings (:class:`~autograder.settings.Settings`), each notebook's layout and record, and
each notebook's result (:mod:`autograder.records`).
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

try:  # comes with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

from autograder.evaluation.pipeline import STAGES, NotebookGrading, run_stages
from autograder.evaluation.submission import sanitise
from autograder.evaluation.testcells import SandboxedStudent, grader_namespace, interpreter_race
from autograder.records import Layout, NotebookResult
from autograder.runners.timings import enabled as timings_enabled
from autograder.runners.timings import mark
from autograder.sandbox.launch import Limits, Zygote, build_runtime, bwrap_works
from autograder.settings import Settings


def _ungradable(layout, state, message) -> dict:
    """A notebook that could not be graded, as the JSON of its result."""
    return NotebookResult.ungradable(Layout.from_json(layout), state, message).to_json()


class Grader:
    """Grades notebooks in two processes each: the student's cells in a sandboxed student
    process, the graded test cells here (see :mod:`autograder.evaluation.testcells`). Keeps one warm
    sandbox (:class:`autograder.sandbox.launch.Zygote`) that forks each student process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.budget = settings.budget   # seconds one submission (all its notebooks) may take; None: no limit
        self.limits = Limits(memory_mb=settings.memory_mb)
        self.sandbox = settings.sandbox
        self.runtimes: dict[str, Path] = {}
        self._zygotes: dict = {}
        self.scratch_base = settings.scratch_base

    def runtime(self, layout) -> Path:
        key = ",".join(sorted(layout.answers))
        if key not in self.runtimes:
            self.runtimes[key] = build_runtime(layout.answers)
        return self.runtimes[key]

    def zygote(self, runtime):
        """The warm sandbox of this runtime (started on first use, restarted when it died);
        None where bubblewrap cannot run: then each submission gets a fresh process."""
        if self.sandbox is False or not bwrap_works():
            return None
        z = self._zygotes.get(runtime)
        if z is None or not z.alive():
            if z is not None:
                z.kill()
            for other in list(self._zygotes):   # one warm sandbox per worker
                self._zygotes.pop(other).kill()
            z = self._zygotes[runtime] = Zygote(runtime, self.limits, base=self.scratch_base)
        return z

    def warm_up(self, answers) -> None:
        """Start the warm sandbox of an assignment whose answer cells are `answers`, without
        waiting for it: it boots (bubblewrap, Python, numpy) while this process waits for its
        first task. Any failure is left for the first notebook to meet and report."""
        try:
            self.zygote(self.runtime(Layout(answers=list(answers))))
        except Exception:   # noqa: BLE001 - started again, and reported, when a notebook is graded
            pass

    def run_setup(self, setup) -> None:
        """Run the course's setup cells `setup` now (kept for the process:
        :func:`~autograder.evaluation.testcells.grader_namespace`), while the sandbox boots;
        a failure is met again, and reported, with the notebook's test cells."""
        try:
            grader_namespace(list(setup))
        except Exception:  # noqa: BLE001 - run again, and reported, with the notebook's test cells
            pass

    def _warm(self, layout) -> None:
        """Wait for the warm sandbox of `layout`'s notebook; meanwhile run the course's setup
        cells in this process (:func:`~autograder.evaluation.testcells.grader_namespace`,
        kept for the process: importing matplotlib and the references takes a first
        submission's test cells almost half a second), the sandbox booting on another core."""
        try:
            grader_namespace(layout.setup)
        except Exception:  # noqa: BLE001 - run again, and reported, with the notebook's test cells
            pass
        try:
            z = self.zygote(self.runtime(layout))
            if z is not None:
                z.wait_ready()
        except Exception:   # it is started again, and any failure reported, when the notebook is graded
            pass

    def close(self):
        for z in self._zygotes.values():
            z.kill()
        self._zygotes.clear()

    def grade_notebook(self, path, layout: Layout, recorded, source_dir: str,
                       deadline: float | None = None) -> NotebookResult:
        """One notebook through :data:`~autograder.evaluation.pipeline.STAGES`: nbgrader's
        sanitising, the student's cells in a sandboxed process."""
        def start_student(cells, lay):
            runtime = self.runtime(lay)
            return SandboxedStudent(cells, self.settings.timeout, runtime, Path(source_dir), self.limits,
                                    sandbox=self.sandbox, zygote=self.zygote(runtime),
                                    zygote_factory=lambda: self.zygote(runtime), deadline=deadline,
                                    max_output=self.settings.max_output_bytes)

        def sanitiser(nb, lay):
            return sanitise(nb, lay, recorded)

        return run_stages(NotebookGrading(path, self.settings, start_student, layout=layout, sanitiser=sanitiser),
                          _timed(STAGES))

    def grade_task(self, task: dict) -> dict:
        """Grade every notebook of one (student, assignment) submission."""
        out = {"student": task["student"], "assignment": task["assignment"], "notebooks": {}}
        deadline, warmed = None, False
        for name, info in task["notebooks"].items():
            layout = Layout.from_json(info["layout"])
            if not warmed:
                # one budget for the whole submission, counted from when its sandbox is ready (a
                # new worker's warm-up is the grader's time, not the student's)
                self._warm(layout)
                mark("worker: warm sandbox ready")
                deadline, warmed = (time.monotonic() + self.budget if self.budget else None), True
            submitted = info["data"] if info.get("data") is not None else info.get("path")
            try:
                for again in (False, True):
                    try:
                        res = self.grade_notebook(submitted, layout, info.get("recorded"), task["source_dir"],
                                                  deadline=deadline)
                        break
                    except SystemError as err:
                        # CPython 3.11's AST race (see interpreter_race): the grader's own failure,
                        # met by chance; the notebook is graded again once, in a fresh student process
                        if again or not interpreter_race(err):
                            raise
                        mark("worker: graded again after an AST race")
            except Exception as err:  # the grader failed on this notebook: report it, go on
                res = NotebookResult.ungradable(layout, "grader-error",
                                                f"the grader failed on this notebook: {type(err).__name__}: {err}")
                res.trace = traceback.format_exc()
            out["notebooks"][name] = res.to_json()   # JSON: it crosses to the parent
        return out


def _timed(stages):
    """`stages`, each marking its end when timings are asked for
    (:mod:`autograder.runners.timings`); else `stages` themselves."""
    if not timings_enabled():
        return stages
    def timed(stage):
        def run(g):
            try:
                stage(g)
            finally:
                mark(f"worker: stage {stage.__name__}")
        return run
    return tuple(timed(s) for s in stages)


def prepare_process() -> None:
    """What a grading process sets up once: one BLAS thread, quiet traitlets and nbformat
    (a local worker and a Dask worker alike)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Cell is missing an id field")
    try:
        if threadpool_limits is not None:
            threadpool_limits(1)
    except Exception:  # noqa: BLE001 - one BLAS thread is an optimisation
        pass
    malloc_unpinned()


# glibc's malloc grows its mmap threshold by itself (from 128 kB, as large blocks are freed)
# unless one of these is set at the process's start: then every block over the fixed threshold
# is mapped and unmapped at each allocation, its pages faulted in again. A Dask nanny sets
# MALLOC_TRIM_THRESHOLD_=65536 for its worker (``distributed.nanny.pre-spawn-environ``, to
# give memory back to the system): its numpy temporaries of a few hundred kB then cost 30 %
# more CPU in a loop of them, and a Dask worker graded 5-10 % slower than a local one.
MALLOC_PINS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3     # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 2**20                      # the top of glibc's own dynamic threshold (64-bit)


def malloc_unpinned() -> bool:
    """In a grading process whose environment pinned glibc's malloc thresholds
    (:data:`MALLOC_PINS`), set them where glibc's own adjustment ends: blocks up to 32 MiB from
    the heap, trimmed above twice that. Returns whether it did (not glibc, or nothing pinned:
    nothing to do). A student process never inherits this environment (the sandbox's is its own)."""
    if not any(os.environ.get(k) for k in MALLOC_PINS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):   # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD))


def forked_worker_main(conn, settings: dict, drop) -> None:
    """:func:`worker_main` in a process forked from the grading parent: first the parent's
    descriptors in `drop` (its ends of the workers' pipes, its locks) are pointed at
    ``/dev/null``: closed for this process, while their numbers stay taken (the objects the
    fork copied still name them, and never close another file by mistake)."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in drop:
            try:
                os.dup2(null, fd)
            except OSError:
                pass
    finally:
        os.close(null)
    worker_main(conn, settings)


def worker_main(conn, settings: dict) -> None:
    """Entry point of a worker process: grade the tasks received on `conn` until None.
    `settings`: the run's :class:`Settings` as JSON (it crossed a process boundary). The
    first message is ``{"warm": answers}``: the answer cells of the first notebook it will
    grade, for which its sandbox starts booting at once."""
    mark("worker: started, imported")
    settings = Settings.from_json(settings)
    grader = Grader(settings)
    try:
        first = conn.recv()
    except EOFError:
        return
    if first is None:
        return
    setup = []
    if isinstance(first, dict) and "warm" in first:
        if first["warm"]:
            grader.warm_up(first["warm"])
            mark("worker: sandbox booting")
        setup, first = first.get("setup") or [], "warm"
    prepare_process()
    if setup:
        grader.run_setup(setup)
    mark("worker: prepared")
    try:
        while True:
            try:
                task, first = (first, None) if isinstance(first, dict) else (conn.recv(), None)
            except EOFError:
                break
            if task is None:
                break
            if isinstance(task, dict) and "warm" in task:   # another first assignment after all
                grader.warm_up(task["warm"] or [])
                grader.run_setup(task.get("setup") or [])
                continue
            result = grader.grade_task(task)
            mark("worker: graded a submission")
            conn.send(result)
    finally:
        grader.close()
        mark("worker: ended its sandbox")
    # nothing is left to do: exit without tearing down the interpreter (nbformat's and
    # the course's modules), which the parent would wait for at the end of the run
    conn.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
