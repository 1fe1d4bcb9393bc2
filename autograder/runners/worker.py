"""Worker plumbing: grade one submission at a time in a long-lived worker process.

A worker imports nbgrader once, keeps one warm sandbox (:mod:`autograder.sandbox.launch`)
and grades the submissions the parent sends it, one at a time, through the stages:

1. load and sanitise (:mod:`autograder.evaluation.submission`);
2. the student process runs the notebook's cells in the sandbox, the grader process (this
   one) runs the graded test cells against proxies (:mod:`autograder.evaluation.testcells`, over
   :mod:`autograder.sandbox`);
3. the outcome of each test cell (:mod:`autograder.outcomes.cells`); an answer that uses its own
   exercise's reference (static scan, :mod:`autograder.evaluation.integrity`) gets its test cells
   failed with ``TNN-REFERENCE-USED``;
4. an autograded notebook whose test cells carry the grader's outputs, for the parent to
   record with nbgrader's ``SaveAutoGrades`` (:mod:`autograder.gradebook.writer`).

The gradebook is only read here (by ``OverwriteCells``); the parent writes all results.
"""
from __future__ import annotations

import os
import traceback
from pathlib import Path

import nbformat

from autograder import defaults
from autograder.checks import REFERENCE_TAG
from autograder.evaluation.integrity import reference_use
from autograder.outcomes.cells import (clean, error_output, exercise_of, is_answer_cell, is_test_cell, nbgrader_meta,
                                 safe_lines, visible_source)
from autograder.evaluation.submission import load_notebook, sanitise

# ----------------------------------------------------------------------------------------
# grading one notebook
# ----------------------------------------------------------------------------------------
def _reference_users(nb) -> dict[str, str]:
    """Answers that use their own exercise's reference (static scan): {exercise: how}. Their
    test cells are failed with TNN-REFERENCE-USED, to tell the student why."""
    codes = [c.source for c in nb.cells if c.cell_type == "code"]
    found = {}
    for cell in nb.cells:
        if not is_answer_cell(cell):
            continue
        gid = nbgrader_meta(cell)["grade_id"]
        why = reference_use(cell.source, gid, [s for s in codes if s is not cell.source])
        if why:
            found[gid] = why
    return found


def _ungradable(layout, state, message) -> dict:
    cells = [{"grade_id": gid, "exercise": exercise_of(gid, layout["answers"]) or "", "points": 0.0,
              "max_points": float(points), "status": state, "misconception": "", "message": message,
              "source": ""} for gid, points in layout["tests"]]
    return {"state": state, "message": message, "notes": [], "cells": cells, "answers": {}, "autograded": None}


class Grader:
    """Grades notebooks in two processes each: the student's cells in a sandboxed student
    process, the graded test cells here (see :mod:`autograder.evaluation.testcells`). Keeps one warm
    sandbox (:class:`autograder.sandbox.launch.Zygote`) that forks each student process."""

    def __init__(self, timeout: float, memory_mb: int, max_output_bytes: int = defaults.MAX_OUTPUT_BYTES, sandbox=None,
                 scratch_base=None, budget: float | None = defaults.BUDGET_SECONDS):
        from autograder.sandbox.launch import Limits
        self.timeout, self.memory_mb, self.max_output_bytes = timeout, memory_mb, max_output_bytes
        self.budget = budget    # seconds one submission (all its notebooks) may take; None: no limit
        self.limits = Limits(memory_mb=memory_mb)
        self.sandbox = sandbox
        self.runtimes: dict[str, Path] = {}
        self._zygotes: dict = {}
        self.scratch_base = scratch_base

    def runtime(self, layout) -> Path:
        from autograder.sandbox.launch import build_runtime
        key = ",".join(sorted(layout["answers"]))
        if key not in self.runtimes:
            self.runtimes[key] = build_runtime(layout["answers"])
        return self.runtimes[key]

    def zygote(self, runtime):
        """The warm sandbox of this runtime (started on first use, restarted when it died);
        None where bubblewrap cannot run: then each submission gets a fresh process."""
        from autograder.sandbox.launch import Zygote, bwrap_works
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

    def _warm(self, layout) -> None:
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

    def grade_notebook(self, path, layout: dict, resources: dict, config, source_dir: str,
                       deadline: float | None = None) -> dict:
        from autograder.evaluation.testcells import SandboxedStudent, cells_to_run, evaluate_tests
        nb, state, message = load_notebook(path)
        if nb is None:
            return _ungradable(layout, state, message)
        nb, notes = sanitise(nb, layout, resources, config)
        runtime = self.runtime(layout)
        data_dir = Path(source_dir)
        cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_test_cell(c)]
        cells = cells_to_run(cells, layout.get("lesson", []), {i for i, c in enumerate(nb.cells) if is_answer_cell(c)})
        student = SandboxedStudent(cells, self.timeout, runtime, data_dir, self.limits, sandbox=self.sandbox,
                                   zygote=self.zygote(runtime), zygote_factory=lambda: self.zygote(runtime),
                                   deadline=deadline)
        try:
            student.run_all()
            stubs = {nbgrader_meta(nb.cells[i])["grade_id"] for i, r in student.results.items()
                     if is_answer_cell(nb.cells[i]) and r.get("ename") == "NotImplementedError"}
            tests = [(gid, layout["sources"][gid], points) for gid, points in layout["tests"]]
            shown = {gid: safe_lines(visible_source(layout["sources"][gid])) for gid, _ in layout["tests"]}
            rows = evaluate_tests(tests, layout["answers"], student, layout.get("setup", []), self.timeout,
                                  visible_of=shown.get, unanswered=stubs)
        finally:
            isolated = student.isolated
            student.close()
        if not isolated:
            notes.append("the sandbox (bubblewrap) was not available: your code ran with memory, time and process "
                         "limits but without file and network isolation")
        if student.out_of_budget or student.left() <= 0:
            notes.append(f"grading this submission took its whole time budget ({self.budget:g} s): nothing more of "
                         "it was run, and the tests not graded by then count as timed out (those graded before keep "
                         "their points); look for slow or endless cells")
        for i in sorted(student.results):
            r = student.results[i]
            cell = nb.cells[i]
            gid = nbgrader_meta(cell).get("grade_id")
            if r.get("budget"):
                continue
            if r["status"] == "timeout":
                notes.append(f"cell {i + 1} did not finish within {self.timeout:g} s and was stopped")
            elif r["status"] == "died" and r.get("protocol"):
                notes.append(f"cell {i + 1} wrote into the grader's channel; that process was ended and the cell "
                             "was not run again")
            elif r["status"] == "died":
                notes.append(f"cell {i + 1} ended the Python process (out of memory? the limit is {self.memory_mb} "
                             "MiB; quit() or os._exit?); it was not run again")
            if r.get("printed", 0) > self.max_output_bytes:
                notes.append(f"cell {i + 1} printed too much; its output was cut")
            if r["status"] == "error" and is_answer_cell(cell) and r.get("ename") != "NotImplementedError":
                notes.append(f"cell {i + 1} (your answer {gid}) raised {r.get('ename')}: {clean(r.get('evalue', ''))[:300]}")
        used = _reference_users(nb)
        by_id = {nbgrader_meta(c).get("grade_id"): c for c in nb.cells if is_test_cell(c)}
        out_rows = []
        for row in rows:
            gid = row["grade_id"]
            cell = by_id.get(gid)
            ex = row["exercise"]
            if ex in used:
                why = (f"{ex}: your answer uses the tnn_lib reference ({used[ex]}); implement it yourself: an "
                       "answer that uses the reference earns no points for this exercise.")
                row.update(points=0.0, status="reference-used", misconception="", message=why,
                           outputs=[error_output("CheckFailure", f"{REFERENCE_TAG}\n{why}")])
            if cell is not None:
                cell.outputs = [nbformat.from_dict(o) for o in row["outputs"]]
                cell.execution_count = None
            row.pop("outputs")
            row["source"] = visible_source(layout["sources"].get(gid, ""))
            out_rows.append(row)
        answers = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if is_answer_cell(c)}
        return {"state": "graded", "message": "", "notes": notes, "cells": out_rows, "answers": answers,
                "isolated": bool(isolated), "autograded": nbformat.writes(nb)}

    def grade_task(self, task: dict, config) -> dict:
        """Grade every notebook of one (student, assignment) submission."""
        import time
        out = {"student": task["student"], "assignment": task["assignment"], "notebooks": {}}
        deadline = None
        for name, info in task["notebooks"].items():
            if deadline is None and self.budget:
                # one budget for the whole submission, counted from when its sandbox is ready (a
                # new worker's warm-up is the grader's time, not the student's)
                self._warm(info["layout"])
                deadline = time.monotonic() + self.budget
            resources = {"nbgrader": {"db_url": task["db_url"], "assignment": task["assignment"], "notebook": name,
                                      "student": task["student"]}, "metadata": {"path": task["source_dir"]}}
            try:
                submitted = info["data"] if info.get("data") is not None else info.get("path")
                res = self.grade_notebook(submitted, info["layout"], resources, config, task["source_dir"],
                                          deadline=deadline)
            except Exception as err:  # the grader failed on this notebook: report it, go on
                res = _ungradable(info["layout"], "grader-error",
                                  f"the grader failed on this notebook: {type(err).__name__}: {err}")
                res["trace"] = traceback.format_exc()
            out["notebooks"][name] = res
        return out


def prepare_process() -> None:
    """What a grading process sets up once: one BLAS thread, nbgrader imported, quiet
    traitlets, the gradebook's settings (a local worker and a Dask worker alike)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"
    import nbgrader.preprocessors  # noqa: F401  (import once, here)
    import logging
    import warnings
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Cell is missing an id field")
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except Exception:
        pass
    from autograder.gradebook.writer import prepare
    prepare()  # WAL and a busy timeout: read the gradebook while the parent writes it


def worker_main(conn, settings: dict) -> None:
    """Entry point of a worker process: grade the tasks received on `conn` until None."""
    from autograder.course import nbgrader_config
    prepare_process()
    config = nbgrader_config(settings["course"], settings["db_url"])
    grader = Grader(timeout=settings["timeout"], memory_mb=settings["memory_mb"],
                    max_output_bytes=settings["max_output_bytes"], sandbox=settings.get("sandbox"),
                    scratch_base=settings.get("scratch_base"), budget=settings.get("budget", defaults.BUDGET_SECONDS))
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                break
            if task is None:
                break
            conn.send(grader.grade_task(task, config))
    finally:
        grader.close()
